//! The wallet's vouchers and the device's issuance key in the store. A voucher is taken out
//! before the request that spends it is sent: one lost with its request costs a voucher, never
//! a second spend.

use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;
use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};
use crate::wallet::Entry;

impl Store {
    /// The key this device asks the issuer for vouchers with, made on first use. The issuer
    /// counts the daily allowance by it, so it is the one thing that links a device's
    /// purchases; it signs nothing else.
    pub fn voucher_key(&self) -> Result<SigningKey, StoreError> {
        let stored: Option<Vec<u8>> = self
            .conn()
            .query_row(
                "SELECT voucher_key FROM profile WHERE only = 1",
                [],
                |row| row.get(0),
            )
            .optional()?
            .flatten();
        if let Some(bytes) = stored {
            let secret = <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| StoreError::Damaged("the voucher key is not 32 bytes"))?;
            return Ok(SigningKey::from_bytes(&secret));
        }
        let key = SigningKey::generate(&mut OsRng);
        self.conn().execute(
            "UPDATE profile SET voucher_key = ?1 WHERE only = 1",
            params![key.to_bytes().as_slice()],
        )?;
        Ok(key)
    }

    /// Keeps newly issued vouchers.
    pub fn add_vouchers(&self, entries: &[Entry]) -> Result<(), StoreError> {
        for entry in entries {
            self.conn().execute(
                "INSERT OR IGNORE INTO vouchers (nonce, entry) VALUES (?1, ?2)",
                params![entry.voucher.nonce.as_slice(), entry.encode()],
            )?;
        }
        Ok(())
    }

    /// Every voucher the wallet holds, oldest first.
    pub fn vouchers(&self) -> Result<Vec<Entry>, StoreError> {
        let mut statement = self
            .conn()
            .prepare_cached("SELECT entry FROM vouchers ORDER BY added, rowid")?;
        let rows = statement.query_map([], |row| row.get::<_, Vec<u8>>(0))?;
        let mut entries = Vec::new();
        for row in rows {
            entries.push(Entry::decode(&row?).map_err(|_| StoreError::Damaged("a wallet entry"))?);
        }
        Ok(entries)
    }

    /// Takes a voucher out of the wallet, to spend it.
    pub fn remove_voucher(&self, entry: &Entry) -> Result<(), StoreError> {
        self.conn().execute(
            "DELETE FROM vouchers WHERE nonce = ?1",
            params![entry.voucher.nonce.as_slice()],
        )?;
        Ok(())
    }
}
