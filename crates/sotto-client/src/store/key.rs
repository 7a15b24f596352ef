//! What opens a store: SQLCipher encrypts every page of the database file (and of its journal
//! and WAL) with a key given as the connection opens.

use rusqlite::{Connection, ErrorCode};
use zeroize::Zeroizing;

use super::StoreError;

/// The key of one store.
pub enum StoreKey {
    /// 256 random bits, used as SQLCipher's key as they are: there is nothing to stretch.
    Raw(Zeroizing<[u8; 32]>),
    /// A passphrase. SQLCipher derives the key from it and a salt kept in the file (PBKDF2 with
    /// SHA-512, 256,000 rounds), which makes each open, and each guess, slow on purpose.
    Passphrase(Zeroizing<String>),
}

impl StoreKey {
    /// The key as SQLCipher's `PRAGMA key` and `ATTACH ... KEY` take it: a raw key as
    /// `x'hex'`, a passphrase as it is.
    pub(super) fn sqlcipher_text(&self) -> Result<Zeroizing<String>, StoreError> {
        match self {
            Self::Raw(key) => Ok(Zeroizing::new(format!("x'{}'", hex::encode(key.as_ref())))),
            // SQLCipher takes an empty key to mean "do not encrypt".
            Self::Passphrase(passphrase) if passphrase.is_empty() => {
                Err(StoreError::EmptyPassphrase)
            }
            Self::Passphrase(passphrase) => Ok(passphrase.clone()),
        }
    }

    fn refused(&self) -> StoreError {
        match self {
            Self::Raw(_) => StoreError::WrongKey,
            Self::Passphrase(_) => StoreError::WrongPassphrase,
        }
    }
}

/// Keys `conn` and proves the key right. SQLCipher only tries a key when it first reads a page,
/// so one is read here: a wrong key is this error, before anything is written.
pub(crate) fn unlock(conn: &Connection, key: &StoreKey) -> Result<(), StoreError> {
    // SQLCipher would also print a wrong key's failed checks on stderr, where a person at the
    // command line sees them above the one sentence that matters.
    conn.pragma_update(None, "cipher_log_level", "NONE")?;
    conn.pragma_update(None, "key", key.sqlcipher_text()?.as_str())?;
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())) {
        Err(rusqlite::Error::SqliteFailure(error, _)) if error.code == ErrorCode::NotADatabase => {
            Err(key.refused())
        }
        other => Ok(other?),
    }
}
