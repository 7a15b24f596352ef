//! Changing the key of a store in place with SQLCipher's `PRAGMA rekey`, which re-encrypts
//! every page in one transaction. It runs under a rollback journal (SQLCipher 4 cannot rekey
//! a database in WAL mode): the journal keeps the pages as they were, under the old key, so a
//! crash midway is rolled back by the next open with the old key, and the new key holds only
//! once the commit is on the disk.

use std::path::Path;

use rusqlite::Connection;

use super::key::{unlock, StoreKey};
use super::StoreError;

/// Re-encrypts the database at `path` from `old` to `new`. Nothing else may have it open.
pub(crate) fn rekey(path: &Path, old: &StoreKey, new: &StoreKey) -> Result<(), StoreError> {
    // A key that cannot be used is refused before the file is touched.
    let new = new.sqlcipher_text()?;
    let conn = Connection::open(path)?;
    unlock(&conn, old)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Held exclusively, out of WAL mode: the WAL's content moves into the file first, and a
    // process that has the store open stops this here instead of reading half-changed pages.
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "DELETE", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::InUse);
    }
    // FULL: the commit, and so the new key, is durable when the pragma returns.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "rekey", new.as_str())?;
    conn.close().map_err(|(_, error)| error)?;
    Ok(())
}
