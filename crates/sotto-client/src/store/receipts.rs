//! Receipts owed: the ids of texts received whose receipt has not reached their sender's host
//! yet. Recorded with the text, in the transaction that applies it, and forgotten only once the
//! receipt was written, so a failure in between (the network, a crash) delays a receipt but
//! never loses it.

use rusqlite::params;
use sotto_proto::conversation::MessageId;

use super::{Store, StoreError};

impl Store {
    /// Owes a receipt for text `id` (once, however often the text arrives).
    pub fn owe_receipt(&self, conversation: i64, id: &MessageId) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO receipts_owed (conversation, id) VALUES (?1, ?2)",
            params![conversation, id.as_slice()],
        )?;
        Ok(())
    }

    /// The receipts owed in a conversation, in the order their texts arrived.
    pub fn receipts_owed(&self, conversation: i64) -> Result<Vec<MessageId>, StoreError> {
        let mut statement = self.conn().prepare_cached(
            "SELECT id FROM receipts_owed WHERE conversation = ?1 ORDER BY rowid",
        )?;
        let ids = statement
            .query_map([conversation], |row| row.get::<_, Vec<u8>>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        ids.into_iter()
            .map(|id| {
                MessageId::try_from(id.as_slice())
                    .map_err(|_| StoreError::Damaged("a receipt owed is not a message id"))
            })
            .collect()
    }

    /// Forgets receipts that were written.
    pub fn receipts_sent(&self, conversation: i64, ids: &[MessageId]) -> Result<(), StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached("DELETE FROM receipts_owed WHERE conversation = ?1 AND id = ?2")?;
        for id in ids {
            statement.execute(params![conversation, id.as_slice()])?;
        }
        Ok(())
    }

    /// The conversations (still read) that owe receipts.
    pub fn owing_receipts(&self) -> Result<Vec<i64>, StoreError> {
        let mut statement = self.conn().prepare_cached(
            "SELECT DISTINCT r.conversation FROM receipts_owed r \
             JOIN conversations c ON c.number = r.conversation WHERE c.removed = 0",
        )?;
        let numbers = statement
            .query_map([], |row| row.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(numbers)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use sotto_proto::{Fingerprint, Id};

    use crate::store::Store;
    use crate::{ContentKey, ReadCap, WriteCap};

    #[test]
    fn a_receipt_is_owed_once_until_sent() {
        let store = Store::open_in_memory().unwrap();
        let (id, key, content) = (
            Id::from_bytes([3; Id::LEN]),
            SigningKey::from_bytes(&[4; 32]),
            ContentKey::random(),
        );
        let write = WriteCap {
            id,
            key: key.clone(),
            content: content.clone(),
        };
        let read = ReadCap { id, key, content };
        store
            .add_conversation(
                b"group",
                "Bob",
                "Bob",
                &Fingerprint::from_bytes([5; 32]),
                &write,
                &read,
            )
            .unwrap();
        let number = store.conversation("Bob").unwrap().unwrap().number;
        let (a, b) = ([1; 16], [2; 16]);
        store.owe_receipt(number, &a).unwrap();
        store.owe_receipt(number, &b).unwrap();
        store.owe_receipt(number, &a).unwrap();
        assert_eq!(store.receipts_owed(number).unwrap(), [a, b]);
        assert_eq!(store.owing_receipts().unwrap(), [number]);
        store.receipts_sent(number, &[a]).unwrap();
        assert_eq!(store.receipts_owed(number).unwrap(), [b]);
        store.receipts_sent(number, &[b]).unwrap();
        assert!(store.owing_receipts().unwrap().is_empty());
    }
}
