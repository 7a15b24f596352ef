//! Stores written before encryption came in are encrypted in place the first time they are
//! opened: an encrypted copy is made beside the file and then renamed over it, so a crash at
//! any point leaves either the whole old store or the whole new one.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::key::StoreKey;
use super::StoreError;
use crate::owner_only;

/// The first 16 bytes of every unencrypted SQLite database. An encrypted one starts with its
/// salt instead, which is random.
const PLAINTEXT_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// What a database file holds, judged by its first bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Contents {
    /// No file, or an empty one: a new store.
    Nothing,
    Plaintext,
    Encrypted,
}

pub(crate) fn contents(path: &Path) -> Result<Contents, StoreError> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::Nothing),
        Err(error) => return Err(StoreError::file(path, error)),
    };
    let mut header = Vec::with_capacity(PLAINTEXT_HEADER.len());
    file.by_ref()
        .take(PLAINTEXT_HEADER.len() as u64)
        .read_to_end(&mut header)
        .map_err(|error| StoreError::file(path, error))?;
    Ok(match header.as_slice() {
        [] => Contents::Nothing,
        header if header == PLAINTEXT_HEADER => Contents::Plaintext,
        _ => Contents::Encrypted,
    })
}

/// `path` with `suffix` added to its file name.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Replaces the unencrypted database at `path` by an encrypted copy under `key`.
pub(super) fn in_place(path: &Path, key: &StoreKey) -> Result<(), StoreError> {
    // A key that cannot be used is refused before the old file is touched.
    let key = key.sqlcipher_text()?;
    let staging = suffixed(path, ".encrypting");
    // What an earlier attempt left: the old file is still the store, so this is only a copy.
    remove_if_present(&staging)?;
    remove_if_present(&suffixed(&staging, "-journal"))?;
    owner_only::file(&staging).map_err(|error| StoreError::file(&staging, error))?;
    let staging_text = staging
        .to_str()
        .ok_or_else(|| StoreError::file(&staging, std::io::ErrorKind::InvalidInput.into()))?;

    let plain = Connection::open(path)?;
    plain.busy_timeout(std::time::Duration::from_secs(5))?;
    // Out of WAL mode, and held exclusively: the old WAL's content moves into the file and the
    // WAL goes, so none of it is left beside the new file, and no other process writes to the
    // old file while it is copied. A process that has it open stops this here.
    plain.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    let mode: String =
        plain.pragma_update_and_check(None, "journal_mode", "DELETE", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::InUse);
    }
    plain.execute_batch("BEGIN EXCLUSIVE; COMMIT;")?;
    plain.execute(
        "ATTACH DATABASE ?1 AS encrypted KEY ?2",
        rusqlite::params![staging_text, key.as_str()],
    )?;
    plain.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
    // The export copies tables and rows but not the header's fields: the schema version is
    // what tells the store which migrations it had.
    let version: i64 = plain.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    plain.pragma_update(Some("encrypted"), "user_version", version)?;
    plain.execute_batch("DETACH DATABASE encrypted")?;
    plain.close().map_err(|(_, error)| error)?;

    owner_only::file(&staging)
        .and_then(|file| file.sync_all())
        .map_err(|error| StoreError::file(&staging, error))?;
    std::fs::rename(&staging, path).map_err(|error| StoreError::file(path, error))?;
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sotto_quic::sync_dir(dir).map_err(|error| StoreError::file(dir, error))
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(StoreError::file(path, error))
        }
        _ => Ok(()),
    }
}
