//! A device's home directory: the encrypted store (`sotto.db` and SQLite's side files), what
//! unlocks it, and the front ends' files (the network file's path, the API token). The
//! directory and everything in it are readable by their owner only.

mod key_file;
#[cfg(test)]
pub(crate) mod tests;

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::owner_only;
use crate::store::encrypt::{contents, Contents};
use crate::store::{Store, StoreError, StoreKey};

pub use key_file::KEY_FILE;

/// The database file under a client's home directory.
pub const DATABASE_FILE: &str = "sotto.db";

pub fn database_path(home: &Path) -> PathBuf {
    home.join(DATABASE_FILE)
}

/// How a home's store is unlocked.
#[derive(Clone)]
pub enum Unlock {
    /// By the random key in the home's key file, made with the store: nothing to remember or
    /// type, and the store is as safe as the home's owner-only modes make it.
    KeyFile,
    /// By a passphrase given at every start. There is no key file, so a copy of the home (a
    /// backup, a stolen disk) opens nothing without the passphrase.
    Passphrase(Zeroizing<String>),
}

/// Opens the store in `home`, creating both when missing. The home is made its owner's only
/// first, which also mends the modes of homes made by an older sotto.
pub fn open_store(home: &Path, unlock: &Unlock) -> Result<Store, StoreError> {
    owner_only::directory(home).map_err(|error| StoreError::file(home, error))?;
    let path = database_path(home);
    let key = match unlock {
        Unlock::Passphrase(passphrase) => StoreKey::Passphrase(passphrase.clone()),
        Unlock::KeyFile => match key_file::read(home)? {
            Some(key) => key,
            // Made with a passphrase: a new key file would not open it, only litter the home.
            None if contents(&path)? == Contents::Encrypted => {
                return Err(StoreError::PassphraseNeeded)
            }
            None => key_file::create(home)?,
        },
    };
    Store::open(&path, &key)
}
