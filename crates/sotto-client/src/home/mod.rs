//! A device's home directory: the encrypted store (`sotto.db` and SQLite's side files), the
//! record of where its key is (`store.unlock`), the key file when the key is kept there, and
//! the front ends' files (the network file's path, the API token). The directory and
//! everything in it are readable by their owner only.

mod change;
mod key_file;
mod os_keyring;
mod place;
#[cfg(test)]
pub(crate) mod tests;

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::owner_only;
use crate::store::encrypt::{contents, Contents};
use crate::store::{Store, StoreError, StoreKey};

pub use change::change_unlock;
pub use key_file::KEY_FILE;
pub use place::{read as key_record, KeyPlace, Record, PLACE_FILE};

/// The database file under a client's home directory.
pub const DATABASE_FILE: &str = "sotto.db";

pub fn database_path(home: &Path) -> PathBuf {
    home.join(DATABASE_FILE)
}

/// How a home's store is unlocked. A home that keeps its key (in the OS keyring or its key
/// file) opens with either kept-key variant, wherever its record says the key is; the
/// variants differ only in where a new home, or one leaving its passphrase, puts a new key.
#[derive(Clone)]
pub enum Unlock {
    /// By a random key the home keeps, a new one in its key file: nothing to remember or
    /// type, and the store is as safe as the home's owner-only modes make it. For homes that
    /// must not reach the person's keyring (tests, benchmarks, the demo).
    KeyFile,
    /// By a random key the home keeps, a new one in the OS keyring when one answers (so it is
    /// not on the disk in clear), else in the key file.
    Keyring,
    /// By a passphrase given at every start. Nothing kept on disk opens the store, so a copy
    /// of the home (a backup, a stolen disk) opens nothing without the passphrase.
    Passphrase(Zeroizing<String>),
}

/// Opens the store in `home`, creating both when missing. The home is made its owner's only
/// first, which also mends the modes of homes made by an older sotto.
pub fn open_store(home: &Path, unlock: &Unlock) -> Result<Store, StoreError> {
    owner_only::directory(home).map_err(|error| StoreError::file(home, error))?;
    let path = database_path(home);
    let record = match place::read(home)? {
        Some(record) => record,
        None => {
            let (record, key) = adopt(home, &path, unlock)?;
            place::write(home, &record)?;
            if let Some(key) = key {
                return Store::open(&path, &key);
            }
            record
        }
    };
    match record.from {
        None => Store::open(&path, &key_at(home, &record.place, unlock)?),
        Some(from) => settle(home, &path, record.place, from, unlock),
    }
}

/// The record of a home that has none: a new one (with its new key), or one made before
/// records, whose key is where that sotto kept it.
fn adopt(
    home: &Path,
    path: &Path,
    unlock: &Unlock,
) -> Result<(Record, Option<StoreKey>), StoreError> {
    if key_file::read(home)?.is_some() {
        return Ok((Record::settled(KeyPlace::KeyFile), None));
    }
    // Made with a passphrase: a new key would not open it.
    if contents(path)? == Contents::Encrypted {
        return Ok((Record::settled(KeyPlace::Passphrase), None));
    }
    let (place, key) = new_key(home, unlock)?;
    Ok((Record::settled(place), Some(key)))
}

/// A new key for the home, where `unlock` wants it.
fn new_key(home: &Path, unlock: &Unlock) -> Result<(KeyPlace, StoreKey), StoreError> {
    match unlock {
        Unlock::Passphrase(passphrase) => Ok((
            KeyPlace::Passphrase,
            StoreKey::Passphrase(passphrase.clone()),
        )),
        Unlock::Keyring => match os_keyring::create() {
            Ok((entry, key)) => Ok((KeyPlace::Keyring(entry), key)),
            // No keyring here (a server, a container, no login session): the key file is the
            // promised fallback, as safe as the home's modes.
            Err(_) => Ok((KeyPlace::KeyFile, key_file::create(home)?)),
        },
        Unlock::KeyFile => Ok((KeyPlace::KeyFile, key_file::create(home)?)),
    }
}

/// The key kept at `place`, or the passphrase given.
fn key_at(home: &Path, place: &KeyPlace, unlock: &Unlock) -> Result<StoreKey, StoreError> {
    match place {
        KeyPlace::KeyFile => key_file::read(home)?
            .ok_or_else(|| StoreError::KeyFileMissing(home.join(KEY_FILE).display().to_string())),
        KeyPlace::Keyring(entry) => os_keyring::read(entry),
        KeyPlace::Passphrase => match unlock {
            Unlock::Passphrase(passphrase) => Ok(StoreKey::Passphrase(passphrase.clone())),
            Unlock::KeyFile | Unlock::Keyring => Err(StoreError::PassphraseNeeded),
        },
    }
}

/// Forgets the key kept at `place`, if one is kept there.
fn forget(home: &Path, place: &KeyPlace) -> Result<(), StoreError> {
    match place {
        KeyPlace::KeyFile => key_file::remove(home),
        KeyPlace::Keyring(entry) => os_keyring::delete(entry),
        KeyPlace::Passphrase => Ok(()),
    }
}

/// Opens a store whose key was being changed from `from` to `place` when sotto stopped. The
/// old key is tried first: until the rekey committed, the store and its rollback journal are
/// under it (and rolling the journal back wants it). Whichever opens the store is then
/// recorded and the other key forgotten.
fn settle(
    home: &Path,
    path: &Path,
    place: KeyPlace,
    from: KeyPlace,
    unlock: &Unlock,
) -> Result<Store, StoreError> {
    let old = key_at(home, &from, unlock).and_then(|key| Store::open(path, &key));
    let (store, kept, dropped) = match old {
        Ok(store) => (store, from, place),
        Err(_) => {
            let store = Store::open(path, &key_at(home, &place, unlock)?)?;
            (store, place, from)
        }
    };
    place::write(home, &Record::settled(kept))?;
    forget(home, &dropped)?;
    Ok(store)
}
