//! The device's own records: invitations it made, conversations, messages and the outbox.

use ed25519_dalek::SigningKey;
use rusqlite::{params, OptionalExtension, Row};
use sotto_proto::conversation::MessageId;
use sotto_proto::{Fingerprint, Id};

use super::{now_ms, Store, StoreError};
use crate::{ContentKey, LinkCap, ReadCap, WriteCap};

pub(super) fn array<const N: usize>(
    bytes: Vec<u8>,
    what: &'static str,
) -> Result<[u8; N], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Damaged(what))
}

fn blob<const N: usize>(row: &Row<'_>, index: usize) -> rusqlite::Result<[u8; N]> {
    let bytes: Vec<u8> = row.get(index)?;
    bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Blob,
            "a key or id of the wrong length".into(),
        )
    })
}

/// A link this device made that nobody has answered yet.
pub struct Invitation {
    pub number: i64,
    pub link: String,
    pub request_host: Fingerprint,
    pub request: ReadCap,
    pub link_cap: LinkCap,
    /// The MLS signature key the invitation's KeyPackage was made with.
    pub signer_public: Vec<u8>,
}

pub struct Conversation {
    pub number: i64,
    pub group_id: Vec<u8>,
    pub alias: String,
    pub peer_name: String,
    pub host: Fingerprint,
    pub write: WriteCap,
    pub read: ReadCap,
    pub applied_seq: u64,
    /// Texts sent and received since this device's last self-update.
    pub messages_since_update: u32,
    /// The other side removed this device: history stays, nothing more is read or sent.
    pub removed: bool,
    /// Messages stored from now on disappear this long after (0: they stay).
    pub disappear_secs: u32,
    /// A group (see `group`), not a one-to-one conversation.
    pub group: bool,
}

#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub number: i64,
    pub conversation: String,
    pub id: MessageId,
    pub outgoing: bool,
    pub text: String,
    pub reply_to: Option<MessageId>,
    pub sent_at_ms: u64,
    pub delivered: bool,
    /// Its sender changed its text (`Content::Edit`).
    pub edited: bool,
    /// Its sender took it back for everyone (`Content::Delete`): the text is gone.
    pub deleted: bool,
    /// This device's reaction to it, and the other side's (`Content::Reaction`).
    pub my_reaction: Option<String>,
    pub their_reaction: Option<String>,
    /// The file it offers, if it is a file message.
    pub file: Option<super::MessageFile>,
    /// In a group, the display name of who sent it (none for this device's own).
    pub sender: Option<String>,
    /// A message of a group (`conversation` is the group's alias).
    pub group: bool,
}

/// Something written to a conversation mailbox that has not come back in the host's order.
pub struct OutboxEntry {
    pub digest: [u8; 32],
    pub epoch: u64,
    /// The encoded content of an application message, to seal again if it must be resent;
    /// `None` for a commit.
    pub content: Option<Vec<u8>>,
}

const CONVERSATION_COLUMNS: &str = "number, group_id, alias, peer_name, host, write_id, \
     write_key, read_id, read_key, content_key, applied_seq, messages_since_update, \
     content_binding, removed, disappear_secs, is_group";

fn conversation(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    let content = ContentKey::from_parts(blob(row, 9)?, blob(row, 12)?);
    Ok(Conversation {
        number: row.get(0)?,
        group_id: row.get(1)?,
        alias: row.get(2)?,
        peer_name: row.get(3)?,
        host: Fingerprint::from_bytes(blob(row, 4)?),
        write: WriteCap {
            id: Id::from_bytes(blob(row, 5)?),
            key: SigningKey::from_bytes(&blob(row, 6)?),
            content: content.clone(),
        },
        read: ReadCap {
            id: Id::from_bytes(blob(row, 7)?),
            key: SigningKey::from_bytes(&blob(row, 8)?),
            content,
        },
        applied_seq: row.get::<_, i64>(10)? as u64,
        messages_since_update: row.get(11)?,
        removed: row.get(13)?,
        disappear_secs: row.get(14)?,
        group: row.get(15)?,
    })
}

fn message(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    let reply_to: Option<Vec<u8>> = row.get(5)?;
    Ok(StoredMessage {
        number: row.get(0)?,
        conversation: row.get(1)?,
        id: blob(row, 2)?,
        outgoing: row.get(3)?,
        text: row.get(4)?,
        reply_to: reply_to.and_then(|r| r.try_into().ok()),
        sent_at_ms: row.get::<_, i64>(6)? as u64,
        delivered: row.get(7)?,
        edited: row.get(8)?,
        deleted: row.get(9)?,
        my_reaction: row.get(10)?,
        their_reaction: row.get(11)?,
        file: match row.get::<_, Option<String>>(12)? {
            Some(name) => Some(super::MessageFile {
                name,
                size: row.get::<_, i64>(13)? as u64,
                kind: super::files::kind_of(&row.get::<_, String>(14)?),
                media: super::files::media_of(&row.get::<_, Vec<u8>>(15)?),
            }),
            None => None,
        },
        sender: row.get(16)?,
        group: row.get(17)?,
    })
}

/// A message whose disappearing time has not come (`?2`: now, unix ms). Expired ones are
/// never shown, even before `forget_expired` takes them off the disk.
const NOT_EXPIRED: &str = "(m.expires_at IS NULL OR m.expires_at > ?2)";

const MESSAGE_COLUMNS: &str = "m.number, c.alias, m.id, m.outgoing, m.text, m.reply_to, \
     m.sent_at, m.delivered, m.edited, m.deleted, \
     (SELECT emoji FROM reactions r WHERE r.conversation = m.conversation AND r.id = m.id \
      AND r.outgoing = 1), \
     (SELECT emoji FROM reactions r WHERE r.conversation = m.conversation AND r.id = m.id \
      AND r.outgoing = 0), f.name, f.size, f.kind, f.offer, m.sender_name, c.is_group";
/// Messages with their conversation and, for a file message, its file.
const MESSAGE_SOURCE: &str = "messages m JOIN conversations c ON c.number = m.conversation \
     LEFT JOIN files f ON f.conversation = m.conversation AND f.id = m.id";

impl Store {
    pub fn add_invitation(
        &self,
        link: &str,
        request_host: &Fingerprint,
        request: &ReadCap,
        link_cap: &LinkCap,
        signer_public: &[u8],
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO invitations (link, request_host, request_read_id, request_read_key, \
             content_key, link_owner_key, signer_public, created_at, content_binding) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                link,
                request_host.as_bytes().as_slice(),
                request.id.as_bytes().as_slice(),
                request.key.to_bytes().as_slice(),
                request.content.as_bytes().as_slice(),
                link_cap.key.to_bytes().as_slice(),
                signer_public,
                now_ms() as i64,
                request.content.binding().as_slice()
            ],
        )?;
        Ok(())
    }

    pub fn invitations(&self) -> Result<Vec<Invitation>, StoreError> {
        let mut statement = self.conn().prepare(
            "SELECT number, link, request_host, request_read_id, request_read_key, content_key, \
             link_owner_key, signer_public, content_binding FROM invitations ORDER BY number",
        )?;
        let rows = statement.query_map([], |row| {
            let link: String = row.get(1)?;
            let link_id = link
                .parse::<sotto_proto::LinkUri>()
                .map(|l| l.id)
                .map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?;
            Ok(Invitation {
                number: row.get(0)?,
                link,
                request_host: Fingerprint::from_bytes(blob(row, 2)?),
                request: ReadCap {
                    id: Id::from_bytes(blob(row, 3)?),
                    key: SigningKey::from_bytes(&blob(row, 4)?),
                    content: ContentKey::from_parts(blob(row, 5)?, blob(row, 8)?),
                },
                link_cap: LinkCap {
                    id: link_id,
                    key: SigningKey::from_bytes(&blob(row, 6)?),
                },
                signer_public: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn remove_invitation(&self, number: i64) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM invitations WHERE number = ?1", [number])?;
        Ok(())
    }

    /// `alias` if no conversation has it yet, else the first free `alias (n)`.
    pub fn free_alias(&self, alias: &str) -> Result<String, StoreError> {
        for n in 1.. {
            let candidate = if n == 1 {
                alias.to_string()
            } else {
                format!("{alias} ({n})")
            };
            if self.conversation(&candidate)?.is_none() {
                return Ok(candidate);
            }
        }
        unreachable!("some alias is free")
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add_conversation(
        &self,
        group_id: &[u8],
        alias: &str,
        peer_name: &str,
        host: &Fingerprint,
        write: &WriteCap,
        read: &ReadCap,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO conversations (group_id, alias, peer_name, host, write_id, write_key, \
             read_id, read_key, content_key, created_at, content_binding) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                group_id,
                alias,
                peer_name,
                host.as_bytes().as_slice(),
                write.id.as_bytes().as_slice(),
                write.key.to_bytes().as_slice(),
                read.id.as_bytes().as_slice(),
                read.key.to_bytes().as_slice(),
                read.content.as_bytes().as_slice(),
                now_ms() as i64,
                read.content.binding().as_slice()
            ],
        )?;
        Ok(())
    }

    pub fn remove_conversation(&self, group_id: &[u8]) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM conversations WHERE group_id = ?1", [group_id])?;
        Ok(())
    }

    pub fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations ORDER BY number");
        let mut statement = self.conn().prepare(&sql)?;
        let rows = statement.query_map([], conversation)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn conversation(&self, alias: &str) -> Result<Option<Conversation>, StoreError> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE alias = ?1");
        Ok(self
            .conn()
            .query_row(&sql, [alias], conversation)
            .optional()?)
    }

    pub fn conversation_by_number(&self, number: i64) -> Result<Conversation, StoreError> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE number = ?1");
        Ok(self.conn().query_row(&sql, [number], conversation)?)
    }

    /// The conversation whose mailbox `read_id` reads, if any.
    pub fn conversation_by_read_id(
        &self,
        read_id: &Id,
    ) -> Result<Option<Conversation>, StoreError> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE read_id = ?1");
        Ok(self
            .conn()
            .query_row(&sql, [read_id.as_bytes().as_slice()], conversation)
            .optional()?)
    }

    /// Marks that the other side removed this device from the conversation.
    pub fn mark_removed(&self, conversation: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE conversations SET removed = 1 WHERE number = ?1",
            [conversation],
        )?;
        Ok(())
    }

    pub fn set_applied_seq(&self, conversation: i64, seq: u64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE conversations SET applied_seq = ?2 WHERE number = ?1",
            params![conversation, seq as i64],
        )?;
        Ok(())
    }

    pub fn reset_messages_since_update(&self, conversation: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE conversations SET messages_since_update = 0 WHERE number = ?1",
            [conversation],
        )?;
        Ok(())
    }

    pub fn count_message_since_update(&self, conversation: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE conversations SET messages_since_update = messages_since_update + 1 \
             WHERE number = ?1",
            [conversation],
        )?;
        Ok(())
    }

    /// Records a message unless one with the same id is already there; returns whether it was
    /// new.
    pub fn add_message(
        &self,
        conversation: i64,
        id: &MessageId,
        outgoing: bool,
        text: &str,
        reply_to: Option<&MessageId>,
        sent_at_ms: u64,
    ) -> Result<bool, StoreError> {
        // Under a disappearing timer, a message goes that long after it was stored here.
        let added = self.conn().execute(
            "INSERT OR IGNORE INTO messages \
             (conversation, id, outgoing, text, reply_to, sent_at, expires_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, \
             CASE WHEN disappear_secs > 0 THEN ?7 + disappear_secs * 1000 END \
             FROM conversations WHERE number = ?1",
            params![
                conversation,
                id.as_slice(),
                outgoing,
                text,
                reply_to.map(|r| r.as_slice()),
                sent_at_ms as i64,
                now_ms() as i64
            ],
        )?;
        Ok(added == 1)
    }

    /// Marks this device's messages with these ids as delivered.
    pub fn mark_delivered(&self, conversation: i64, ids: &[MessageId]) -> Result<(), StoreError> {
        let mut statement = self.conn().prepare_cached(
            "UPDATE messages SET delivered = 1 WHERE conversation = ?1 AND id = ?2 AND outgoing = 1",
        )?;
        for id in ids {
            statement.execute(params![conversation, id.as_slice()])?;
        }
        Ok(())
    }

    /// Incoming messages not yet shown, oldest first, for one conversation or all; marks them
    /// shown.
    pub fn take_unshown(&self, alias: Option<&str>) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_SOURCE} \
             WHERE m.outgoing = 0 AND m.shown = 0 AND (?1 IS NULL OR c.alias = ?1) \
             AND {NOT_EXPIRED} ORDER BY m.number"
        );
        let messages: Vec<StoredMessage> = {
            let mut statement = self.conn().prepare(&sql)?;
            let rows = statement.query_map(params![alias, now_ms() as i64], message)?;
            rows.collect::<Result<_, _>>()?
        };
        let mut mark = self
            .conn()
            .prepare_cached("UPDATE messages SET shown = 1 WHERE number = ?1")?;
        for m in &messages {
            mark.execute([m.number])?;
        }
        Ok(messages)
    }

    /// Every message of a conversation, oldest first.
    pub fn messages(&self, alias: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_SOURCE} WHERE c.alias = ?1 AND {NOT_EXPIRED} \
             ORDER BY m.number"
        );
        let mut statement = self.conn().prepare(&sql)?;
        let rows = statement.query_map(params![alias, now_ms() as i64], message)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Incoming messages not yet shown, per conversation alias.
    pub fn unread_count(&self, conversation: i64) -> Result<u64, StoreError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM messages m WHERE conversation = ?1 AND outgoing = 0 \
             AND shown = 0 AND (m.expires_at IS NULL OR m.expires_at > ?2)",
            params![conversation, now_ms() as i64],
            |row| row.get::<_, i64>(0),
        )? as u64)
    }

    pub fn add_outbox(&self, conversation: i64, entry: &OutboxEntry) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO outbox (conversation, digest, epoch, content) \
             VALUES (?1, ?2, ?3, ?4)",
            params![
                conversation,
                entry.digest.as_slice(),
                entry.epoch as i64,
                entry.content
            ],
        )?;
        Ok(())
    }

    /// Removes and returns the outbox entry with this digest, if the device wrote it.
    pub fn take_outbox(
        &self,
        conversation: i64,
        digest: &[u8; 32],
    ) -> Result<Option<OutboxEntry>, StoreError> {
        let entry = self
            .conn()
            .query_row(
                "SELECT epoch, content FROM outbox WHERE conversation = ?1 AND digest = ?2",
                params![conversation, digest.as_slice()],
                |row| {
                    Ok(OutboxEntry {
                        digest: *digest,
                        epoch: row.get::<_, i64>(0)? as u64,
                        content: row.get(1)?,
                    })
                },
            )
            .optional()?;
        if entry.is_some() {
            self.conn().execute(
                "DELETE FROM outbox WHERE conversation = ?1 AND digest = ?2",
                params![conversation, digest.as_slice()],
            )?;
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sealed body opens only with its mailbox's binding, so the store must give back the
    /// one it was given, not just the key.
    #[test]
    fn capabilities_come_back_with_their_content_binding() {
        let store = Store::open_in_memory().unwrap();
        let content = ContentKey::random();
        let host = Fingerprint::from_bytes([7; 32]);
        let key = || SigningKey::from_bytes(&rand::random());
        let write = WriteCap {
            id: Id::from_bytes(rand::random()),
            key: key(),
            content: content.clone(),
        };
        let read = ReadCap {
            id: Id::from_bytes(rand::random()),
            key: key(),
            content: content.clone(),
        };
        store
            .add_conversation(b"group", "Bob", "Bob", &host, &write, &read)
            .unwrap();
        let conversation = store.conversation("Bob").unwrap().unwrap();
        assert!(conversation.write.content == content && conversation.read.content == content);

        let link = sotto_proto::LinkUri {
            host,
            id: Id::from_bytes(rand::random()),
            key: rand::random(),
        };
        let link_cap = LinkCap {
            id: link.id,
            key: key(),
        };
        store
            .add_invitation(&link.to_string(), &host, &read, &link_cap, b"signer")
            .unwrap();
        assert!(store.invitations().unwrap()[0].request.content == content);
    }
}
