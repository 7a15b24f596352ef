//! The device's records of groups: which conversations are groups, who sent each group
//! message, and the invitations into groups on their way (see `device::groups`).

use ed25519_dalek::SigningKey;
use rusqlite::{params, OptionalExtension};
use sotto_proto::conversation::MessageId;
use sotto_proto::group::Role;
use sotto_proto::Id;

use super::rows::array;
use super::{Store, StoreError};

/// An invitation this device sent into a group, with the contact's answer once it came.
pub struct GroupInvite {
    pub invite: [u8; 16],
    pub group: i64,
    pub contact: i64,
    pub role: Role,
    /// The answer: the contact's key package, reader key and name in the group.
    pub answer: Option<(Vec<u8>, [u8; 32], String)>,
    pub read_id: Option<Id>,
}

impl Store {
    pub fn mark_group(&self, conversation: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE conversations SET is_group = 1 WHERE number = ?1",
            [conversation],
        )?;
        Ok(())
    }

    /// Records who in the group sent message `id`.
    pub fn set_sender(
        &self,
        conversation: i64,
        id: &MessageId,
        identity: &[u8],
        name: &str,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE messages SET sender_id = ?3, sender_name = ?4 \
             WHERE conversation = ?1 AND id = ?2",
            params![conversation, id.as_slice(), identity, name],
        )?;
        Ok(())
    }

    /// Who in the group sent message `id`: `None` if it is not here, `Some(None)` if this
    /// device sent it.
    pub fn sender_of(
        &self,
        conversation: i64,
        id: &MessageId,
    ) -> Result<Option<Option<Vec<u8>>>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT sender_id FROM messages WHERE conversation = ?1 AND id = ?2",
                params![conversation, id.as_slice()],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Records that member `identity` of group `conversation` asked to leave.
    pub fn add_group_leave(&self, conversation: i64, identity: &[u8]) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO group_leaves (conversation, identity) VALUES (?1, ?2)",
            params![conversation, identity],
        )?;
        Ok(())
    }

    /// Members who asked to leave, by group.
    pub fn group_leaves(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let mut statement = self
            .conn()
            .prepare("SELECT conversation, identity FROM group_leaves ORDER BY rowid")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn remove_group_leave(&self, conversation: i64, identity: &[u8]) -> Result<(), StoreError> {
        self.conn().execute(
            "DELETE FROM group_leaves WHERE conversation = ?1 AND identity = ?2",
            params![conversation, identity],
        )?;
        Ok(())
    }

    pub fn add_group_invite(
        &self,
        invite: &[u8; 16],
        group: i64,
        contact: i64,
        role: Role,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO group_invites (invite, group_conversation, contact, role) \
             VALUES (?1, ?2, ?3, ?4)",
            params![invite.as_slice(), group, contact, role.code()],
        )?;
        Ok(())
    }

    /// Records the answer to invitation `invite` from `contact`; false if this device sent
    /// that contact no such invitation (or it was answered already).
    pub fn answer_group_invite(
        &self,
        invite: &[u8; 16],
        contact: i64,
        key_package: &[u8],
        reader_key: &[u8; 32],
        name: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.conn().execute(
            "UPDATE group_invites SET key_package = ?3, reader_key = ?4, name = ?5 \
             WHERE invite = ?1 AND contact = ?2 AND key_package IS NULL",
            params![
                invite.as_slice(),
                contact,
                key_package,
                reader_key.as_slice(),
                name
            ],
        )? == 1)
    }

    /// Invitations answered and not yet welcomed.
    pub fn answered_group_invites(&self) -> Result<Vec<GroupInvite>, StoreError> {
        let mut statement = self.conn().prepare(
            "SELECT invite, group_conversation, contact, role, key_package, reader_key, name, \
             read_id FROM group_invites WHERE key_package IS NOT NULL ORDER BY rowid",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, u8>(3)?,
                row.get::<_, Vec<u8>>(4)?,
                row.get::<_, Vec<u8>>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, Option<Vec<u8>>>(7)?,
            ))
        })?;
        rows.map(|row| {
            let (invite, group, contact, role, key_package, reader_key, name, read_id) = row?;
            Ok(GroupInvite {
                invite: array(invite, "group invite")?,
                group,
                contact,
                role: Role::from_code(role).map_err(|_| StoreError::Damaged("group role"))?,
                answer: Some((key_package, array(reader_key, "reader key")?, name)),
                read_id: read_id
                    .map(|id| array(id, "read id").map(Id::from_bytes))
                    .transpose()?,
            })
        })
        .collect()
    }

    pub fn set_group_invite_reader(
        &self,
        invite: &[u8; 16],
        read_id: &Id,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE group_invites SET read_id = ?2 WHERE invite = ?1",
            params![invite.as_slice(), read_id.as_bytes().as_slice()],
        )?;
        Ok(())
    }

    pub fn remove_group_invite(&self, invite: &[u8; 16]) -> Result<(), StoreError> {
        self.conn().execute(
            "DELETE FROM group_invites WHERE invite = ?1",
            [invite.as_slice()],
        )?;
        Ok(())
    }

    /// Records that this device answered invitation `invite` of `contact`, with the reader
    /// key it will read the group with and the signature key of its key package.
    pub fn add_group_join(
        &self,
        invite: &[u8; 16],
        contact: i64,
        reader: &SigningKey,
        signer_public: &[u8],
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO group_joins (invite, contact, reader_key, signer_public) \
             VALUES (?1, ?2, ?3, ?4)",
            params![
                invite.as_slice(),
                contact,
                reader.to_bytes().as_slice(),
                signer_public
            ],
        )?;
        Ok(())
    }

    /// Takes the join this device answered invitation `invite` of `contact` with: its reader
    /// key and signature key.
    pub fn take_group_join(
        &self,
        invite: &[u8; 16],
        contact: i64,
    ) -> Result<Option<(SigningKey, Vec<u8>)>, StoreError> {
        let found = self
            .conn()
            .query_row(
                "SELECT reader_key, signer_public FROM group_joins \
                 WHERE invite = ?1 AND contact = ?2",
                params![invite.as_slice(), contact],
                |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?)),
            )
            .optional()?;
        let Some((reader, signer)) = found else {
            return Ok(None);
        };
        self.conn().execute(
            "DELETE FROM group_joins WHERE invite = ?1 AND contact = ?2",
            params![invite.as_slice(), contact],
        )?;
        Ok(Some((
            SigningKey::from_bytes(&array(reader, "reader key")?),
            signer,
        )))
    }

    /// Keeps the Welcome by file (an encoded Content kind 16) that answers this device's join
    /// `invite` of `contact`, until it is fetched; `false` if this device made no such join.
    pub fn set_group_welcome_file(
        &self,
        invite: &[u8; 16],
        contact: i64,
        content: &[u8],
    ) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE group_joins SET welcome_file = ?3 WHERE invite = ?1 AND contact = ?2",
            params![invite.as_slice(), contact, content],
        )?;
        Ok(changed > 0)
    }

    /// The Welcomes by file waiting to be fetched: `(contact, encoded content)`.
    pub fn group_welcome_files(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let mut statement = self.conn().prepare(
            "SELECT contact, welcome_file FROM group_joins WHERE welcome_file IS NOT NULL",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
