//! The random key that opens a home's store when no passphrase does, kept as hex in
//! `HOME/store.key`: anyone who can read the home can read the store, which, with the home its
//! owner's only, is its owner (and root).

use std::io::ErrorKind;
use std::path::Path;

use rand::RngCore;
use zeroize::Zeroizing;

use crate::store::{StoreError, StoreKey};

/// The key file under a client's home directory.
pub const KEY_FILE: &str = "store.key";

/// The home's key, if it has a key file.
pub(super) fn read(home: &Path) -> Result<Option<StoreKey>, StoreError> {
    let path = home.join(KEY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => Zeroizing::new(text),
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(StoreError::file(&path, error)),
    };
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), key.as_mut())
        .map_err(|_| StoreError::Damaged("the key file is not 64 hex digits"))?;
    Ok(Some(StoreKey::Raw(key)))
}

/// Makes the home's key file with a new key. The key is written whole under a name of its own
/// and then linked into place, so a crash leaves no key file or a complete one, and when two
/// processes make it at once, both end up with the one that was linked first.
pub(super) fn create(home: &Path) -> Result<StoreKey, StoreError> {
    let mut key = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(key.as_mut());
    let path = home.join(KEY_FILE);
    let staging = home.join(format!("{KEY_FILE}.{:016x}", rand::random::<u64>()));
    let text = Zeroizing::new(hex::encode(key.as_ref()));
    sotto_quic::write_private(&staging, text.as_bytes(), sotto_quic::Placement::New)
        .map_err(|error| StoreError::file(&staging, error))?;
    let linked = std::fs::hard_link(&staging, &path);
    let _ = std::fs::remove_file(&staging);
    match linked {
        Ok(()) => {
            sotto_quic::sync_dir(home).map_err(|error| StoreError::file(home, error))?;
            Ok(StoreKey::Raw(key))
        }
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {
            read(home)?.ok_or(StoreError::Damaged("the key file vanished"))
        }
        Err(error) => Err(StoreError::file(&path, error)),
    }
}

/// Removes the home's key file, durably; one already gone is fine.
pub(super) fn remove(home: &Path) -> Result<(), StoreError> {
    let path = home.join(KEY_FILE);
    match std::fs::remove_file(&path) {
        Err(error) if error.kind() != ErrorKind::NotFound => Err(StoreError::file(&path, error)),
        _ => sotto_quic::sync_dir(home).map_err(|error| StoreError::file(home, error)),
    }
}
