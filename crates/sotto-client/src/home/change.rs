//! Changing how a home is unlocked: from the key it keeps to a passphrase, from a passphrase
//! to a kept key, or from one passphrase to another.
//!
//! The order makes a crash at any point recoverable by the next open (`settle`): the new key
//! is made durable and the record says `place / from old` before the store is rekeyed; the old
//! key is forgotten only after the record says the new place alone.

use std::path::Path;

use super::place::{self, KeyPlace, Record};
use super::{database_path, forget, key_at, new_key, open_store, Unlock};
use crate::store::rekey::rekey;
use crate::store::StoreError;

/// Re-encrypts the store in `home`, opened by `current`, so that `to` opens it instead, and
/// forgets the old key. The caller holds the home: no other sotto may have it open.
pub fn change_unlock(home: &Path, current: &Unlock, to: &Unlock) -> Result<(), StoreError> {
    if matches!(to, Unlock::Passphrase(passphrase) if passphrase.is_empty()) {
        return Err(StoreError::EmptyPassphrase);
    }
    // Proves `current` right and finishes any change a crash interrupted.
    drop(open_store(home, current)?);
    let from = place::read(home)?
        .ok_or(StoreError::Damaged("store.unlock vanished"))?
        .place;
    match (&from, to) {
        (KeyPlace::Passphrase, _) | (_, Unlock::Passphrase(_)) => {}
        _ => return Err(StoreError::AlreadyKept),
    }
    let old_key = key_at(home, &from, current)?;
    let (place, new_key) = new_key(home, to)?;
    place::write(
        home,
        &Record {
            place: place.clone(),
            from: Some(from.clone()),
        },
    )?;
    // On an error the record stays as it is: whether the rekey committed is for the next
    // open to find out, by trying the keys, and until then both are kept.
    rekey(&database_path(home), &old_key, &new_key)?;
    place::write(home, &Record::settled(place))?;
    forget(home, &from)
}

#[cfg(test)]
mod tests {
    use zeroize::Zeroizing;

    use super::*;
    use crate::home::tests::{found_in_clear, snapshot, temp_home};
    use crate::home::{key_file, KEY_FILE};

    const ALICE: &str = "Alice Liddell";

    fn passphrase(text: &str) -> Unlock {
        Unlock::Passphrase(Zeroizing::new(text.to_string()))
    }

    fn record(home: &Path) -> Record {
        place::read(home).unwrap().unwrap()
    }

    fn profile_name(home: &Path, unlock: &Unlock) -> String {
        open_store(home, unlock)
            .unwrap()
            .profile()
            .unwrap()
            .unwrap()
            .name
    }

    #[test]
    fn a_home_rekeyed_to_a_passphrase_opens_only_with_it_and_back() {
        let home = temp_home("rekey");
        open_store(&home, &Unlock::KeyFile)
            .unwrap()
            .create_profile(ALICE)
            .unwrap();

        change_unlock(&home, &Unlock::KeyFile, &passphrase("drink me")).unwrap();
        assert!(!home.join(KEY_FILE).exists(), "the old key file is removed");
        assert_eq!(record(&home), Record::settled(KeyPlace::Passphrase));
        assert_eq!(profile_name(&home, &passphrase("drink me")), ALICE);
        let before = snapshot(&home);
        assert!(matches!(
            open_store(&home, &Unlock::KeyFile),
            Err(StoreError::PassphraseNeeded)
        ));
        assert!(matches!(
            open_store(&home, &passphrase("eat me")),
            Err(StoreError::WrongPassphrase)
        ));
        assert!(matches!(
            change_unlock(&home, &passphrase("eat me"), &Unlock::KeyFile),
            Err(StoreError::WrongPassphrase)
        ));
        assert!(matches!(
            change_unlock(&home, &passphrase("drink me"), &passphrase("")),
            Err(StoreError::EmptyPassphrase)
        ));
        assert_eq!(snapshot(&home), before, "a refusal changes nothing");

        // From one passphrase to another, then back to a key file.
        change_unlock(&home, &passphrase("drink me"), &passphrase("eat me")).unwrap();
        assert!(matches!(
            open_store(&home, &passphrase("drink me")),
            Err(StoreError::WrongPassphrase)
        ));
        change_unlock(&home, &passphrase("eat me"), &Unlock::KeyFile).unwrap();
        assert_eq!(record(&home), Record::settled(KeyPlace::KeyFile));
        assert!(home.join(KEY_FILE).exists());
        assert_eq!(profile_name(&home, &Unlock::KeyFile), ALICE);
        assert!(matches!(
            change_unlock(&home, &Unlock::KeyFile, &Unlock::Keyring),
            Err(StoreError::AlreadyKept)
        ));
        assert_eq!(found_in_clear(&home, &[ALICE, "drink me", "eat me"]), []);
        std::fs::remove_dir_all(&home).unwrap();
    }

    /// A home keyed by its key file whose change to `to` was cut short after the record said
    /// so, and, if `rekeyed`, after the store was rekeyed too.
    fn cut_short(tag: &str, rekeyed: bool) -> std::path::PathBuf {
        let home = temp_home(tag);
        open_store(&home, &Unlock::KeyFile)
            .unwrap()
            .create_profile(ALICE)
            .unwrap();
        place::write(
            &home,
            &Record {
                place: KeyPlace::Passphrase,
                from: Some(KeyPlace::KeyFile),
            },
        )
        .unwrap();
        if rekeyed {
            let old = key_file::read(&home).unwrap().unwrap();
            let new = key_at(&home, &KeyPlace::Passphrase, &passphrase("drink me")).unwrap();
            rekey(&database_path(&home), &old, &new).unwrap();
        }
        home
    }

    #[test]
    fn a_change_cut_short_before_the_rekey_is_undone_by_the_next_open() {
        let home = cut_short("undone", false);
        assert_eq!(profile_name(&home, &Unlock::KeyFile), ALICE);
        assert_eq!(record(&home), Record::settled(KeyPlace::KeyFile));
        assert!(home.join(KEY_FILE).exists(), "the key that opens it stays");
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn a_change_cut_short_after_the_rekey_is_finished_by_the_next_open() {
        let home = cut_short("finished", true);
        // The key file no longer opens the store, and nothing is changed by trying.
        assert!(matches!(
            open_store(&home, &Unlock::KeyFile),
            Err(StoreError::PassphraseNeeded)
        ));
        assert!(home.join(KEY_FILE).exists());
        assert_eq!(profile_name(&home, &passphrase("drink me")), ALICE);
        assert_eq!(record(&home), Record::settled(KeyPlace::Passphrase));
        assert!(!home.join(KEY_FILE).exists(), "the old key is forgotten");
        std::fs::remove_dir_all(&home).unwrap();
    }
}
