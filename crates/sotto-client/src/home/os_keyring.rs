//! A home's random key in the OS keyring (the Secret Service on Linux, the Keychain on macOS,
//! the Credential Manager on Windows), as hex under the service `sotto` and an entry name of
//! its own. A keyring unlocks with the person's login, so the key is not on the disk in clear.
//!
//! Every call runs on a thread of its own and is given up after a timeout: the Secret Service
//! is reached over D-Bus, which may be absent, or present with nothing behind the name, and
//! waits for activation then. The crate's tokio-based client must also not run on a thread
//! that drives a runtime.

use std::sync::mpsc;
use std::time::Duration;

use rand::RngCore;
use zeroize::Zeroizing;

use crate::store::{StoreError, StoreKey};

const SERVICE: &str = "sotto";
/// How long a new home waits for a keyring before it keeps its key in the file: long enough
/// for a keyring on a loaded machine, short enough that a home made where none answers is not
/// noticeably slower.
const PROBE_WITHIN: Duration = Duration::from_secs(3);
/// How long a home whose key is in the keyring waits for it: the keyring may first ask the
/// person to unlock it.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// Runs `call` against the entry `name`, on its own thread, for at most `within`.
fn ask<T: Send + 'static>(
    name: &str,
    within: Duration,
    call: impl FnOnce(&keyring::Entry) -> keyring::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    let name = name.to_string();
    let (answer, answered) = mpsc::channel();
    std::thread::Builder::new()
        .name("sotto-keyring".into())
        .spawn(move || {
            let result = keyring::Entry::new(SERVICE, &name).and_then(|entry| call(&entry));
            let _ = answer.send(result);
        })
        .map_err(|error| StoreError::Keyring(error.to_string()))?;
    // A keyring that does not answer in time is left to its thread, which ends when it does.
    match answered.recv_timeout(within) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(keyring::Error::NoEntry)) => Err(StoreError::KeyringEntryMissing),
        Ok(Err(error)) => Err(StoreError::Keyring(error.to_string())),
        Err(_) => Err(StoreError::Keyring(format!(
            "no answer within {} s",
            within.as_secs()
        ))),
    }
}

/// Makes a new random key and keeps it in the keyring under a new entry, which is read back
/// before it is trusted. Returns the entry's name and the key, or why the keyring cannot
/// keep it.
pub(super) fn create() -> Result<(String, StoreKey), StoreError> {
    let name = format!("store-{:032x}", rand::random::<u128>());
    let mut key = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(key.as_mut());
    let text = Zeroizing::new(hex::encode(key.as_ref()));
    let stored = text.clone();
    ask(&name, PROBE_WITHIN, move |entry| {
        entry.set_password(&stored)
    })?;
    match read_within(&name, PROBE_WITHIN)? {
        StoreKey::Raw(read_back) if *read_back == *key => Ok((name, StoreKey::Raw(key))),
        _ => Err(StoreError::Keyring(
            "the keyring gave back another key than it was given".into(),
        )),
    }
}

/// The key kept in the keyring under `name`.
pub(super) fn read(name: &str) -> Result<StoreKey, StoreError> {
    read_within(name, ANSWER_WITHIN)
}

fn read_within(name: &str, within: Duration) -> Result<StoreKey, StoreError> {
    let text = Zeroizing::new(ask(name, within, |entry| entry.get_password())?);
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), key.as_mut())
        .map_err(|_| StoreError::Damaged("the keyring's entry is not 64 hex digits"))?;
    Ok(StoreKey::Raw(key))
}

/// Forgets the key under `name`; one already gone is fine.
pub(super) fn delete(name: &str) -> Result<(), StoreError> {
    match ask(name, ANSWER_WITHIN, |entry| entry.delete_credential()) {
        Err(StoreError::KeyringEntryMissing) => Ok(()),
        other => other,
    }
}
