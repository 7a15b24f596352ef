//! Changes to messages already kept: edits and deletions by their sender, reactions by
//! either side, and the disappearing timer that takes them away. A change of a message not
//! here, or of one the changer did not send, changes nothing and says so.

use rusqlite::params;
use sotto_proto::conversation::MessageId;

use super::{Store, StoreError};

impl Store {
    /// Gives the message `id` sent by this device (`outgoing`) or the other side a new text;
    /// a deleted message stays deleted.
    pub fn edit_message(
        &self,
        conversation: i64,
        id: &MessageId,
        outgoing: bool,
        text: &str,
    ) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE messages SET text = ?4, edited = 1 \
             WHERE conversation = ?1 AND id = ?2 AND outgoing = ?3 AND deleted = 0",
            params![conversation, id.as_slice(), outgoing, text],
        )?;
        Ok(changed == 1)
    }

    /// Takes the text of message `id`, sent by this device (`outgoing`) or the other side,
    /// out of the store, and the reactions to it; the message stays as "deleted".
    pub fn delete_message(
        &self,
        conversation: i64,
        id: &MessageId,
        outgoing: bool,
    ) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE messages SET text = '', deleted = 1, edited = 0 \
             WHERE conversation = ?1 AND id = ?2 AND outgoing = ?3",
            params![conversation, id.as_slice(), outgoing],
        )?;
        self.conn().execute(
            "DELETE FROM reactions WHERE conversation = ?1 AND id = ?2",
            params![conversation, id.as_slice()],
        )?;
        Ok(changed == 1)
    }

    /// Sets this device's (`outgoing`) or the other side's reaction to message `id`, or
    /// takes it away when `emoji` is empty. A deleted message takes no reactions.
    pub fn set_reaction(
        &self,
        conversation: i64,
        id: &MessageId,
        outgoing: bool,
        emoji: &str,
    ) -> Result<bool, StoreError> {
        let exists = self.conn().query_row(
            "SELECT COUNT(*) FROM messages WHERE conversation = ?1 AND id = ?2 AND deleted = 0",
            params![conversation, id.as_slice()],
            |row| row.get::<_, i64>(0),
        )? == 1;
        if !exists {
            return Ok(false);
        }
        if emoji.is_empty() {
            self.conn().execute(
                "DELETE FROM reactions WHERE conversation = ?1 AND id = ?2 AND outgoing = ?3",
                params![conversation, id.as_slice(), outgoing],
            )?;
        } else {
            self.conn().execute(
                "INSERT OR REPLACE INTO reactions (conversation, id, outgoing, emoji) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![conversation, id.as_slice(), outgoing, emoji],
            )?;
        }
        Ok(true)
    }

    /// Whether message `id` of the conversation was sent by this device; `None` if there is
    /// no such message, or it was deleted.
    pub fn sent_here(&self, conversation: i64, id: &MessageId) -> Result<Option<bool>, StoreError> {
        let mut statement = self.conn().prepare_cached(
            "SELECT outgoing FROM messages WHERE conversation = ?1 AND id = ?2 AND deleted = 0",
        )?;
        let mut rows = statement.query(params![conversation, id.as_slice()])?;
        Ok(match rows.next()? {
            Some(row) => Some(row.get(0)?),
            None => None,
        })
    }

    /// Sets the conversation's disappearing timer (0: messages stay).
    pub fn set_timer(&self, conversation: i64, seconds: u32) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE conversations SET disappear_secs = ?2 WHERE number = ?1",
            params![conversation, seconds],
        )?;
        Ok(())
    }

    /// Deletes the messages whose time came by `now_ms`, and their reactions; returns how
    /// many went.
    pub fn forget_expired(&self, now_ms: u64) -> Result<usize, StoreError> {
        let now = now_ms as i64;
        self.conn().execute(
            "DELETE FROM reactions WHERE EXISTS (SELECT 1 FROM messages m \
             WHERE m.conversation = reactions.conversation AND m.id = reactions.id \
             AND m.expires_at <= ?1)",
            [now],
        )?;
        Ok(self
            .conn()
            .execute("DELETE FROM messages WHERE expires_at <= ?1", [now])?)
    }
}
