//! A home at rest: its owner's only whatever the umask, nothing in it readable in clear, a
//! wrong passphrase refused without a change, and stores from before encryption taken over.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;
use crate::conversation::{local, mls};

pub(crate) fn temp_home(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sotto-{tag}-{:016x}", rand::random::<u64>()))
}

/// Every file in `home` by name, with its mode and bytes.
pub(crate) fn snapshot(home: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    std::fs::read_dir(home)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            let bytes = std::fs::read(entry.path()).unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                (mode, bytes),
            )
        })
        .collect()
}

/// Which of `secrets` can be read in clear in which of the files in `home`.
pub(crate) fn found_in_clear(home: &Path, secrets: &[&str]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (name, (_, bytes)) in snapshot(home) {
        for secret in secrets {
            if bytes
                .windows(secret.len())
                .any(|window| window == secret.as_bytes())
            {
                found.push((name.clone(), secret.to_string()));
            }
        }
    }
    found
}

/// The files in `home` (and the home itself) whose mode is not owner-only.
pub(crate) fn not_owner_only(home: &Path) -> Vec<(String, u32)> {
    let home_mode = std::fs::metadata(home).unwrap().permissions().mode() & 0o777;
    let home_entry = (home_mode != 0o700).then(|| (".".to_string(), home_mode));
    home_entry
        .into_iter()
        .chain(
            snapshot(home)
                .into_iter()
                .filter(|(_, (mode, _))| *mode != 0o600)
                .map(|(name, (mode, _))| (name, mode)),
        )
        .collect()
}

const ALICE: &str = "Alice Liddell";
const RABBIT: &str = "White Rabbit";
const TEXTS: [&str; 2] = [
    "meet me under the tree at noon",
    "late for the tea party again",
];

/// Makes a profile named `name` in `store` and a conversation with a device named `peer`
/// (whose store is `peers`) holding both texts; returns the conversation's group id.
fn converse(store: &Store, name: &str, peers: &Store, peer: &str) -> Vec<u8> {
    store.create_profile(name).unwrap();
    let (number, _) = local::pair(store, peers, peer, name).unwrap();
    for (n, text) in TEXTS.iter().enumerate() {
        store
            .add_message(number, &[n as u8; 16], n == 0, text, None, 1)
            .unwrap();
    }
    store.conversation_by_number(number).unwrap().group_id
}

#[test]
#[allow(
    unsafe_code,
    reason = "umask(2) is the only way to make files under another mask in this process"
)]
fn a_home_made_under_umask_000_is_its_owners_only_and_holds_nothing_in_clear() {
    let (alice_home, rabbit_home) = (temp_home("umask-a"), temp_home("umask-b"));
    // SAFETY: umask only swaps the process's file mode mask; it is set back below.
    let previous = unsafe { libc::umask(0) };
    let opened = open_store(&alice_home, &Unlock::KeyFile).and_then(|alice| {
        let rabbit = open_store(&rabbit_home, &Unlock::KeyFile)?;
        converse(&alice, ALICE, &rabbit, RABBIT);
        rabbit.create_profile(RABBIT)?;
        Ok((alice, rabbit))
    });
    // SAFETY: as above.
    unsafe { libc::umask(previous) };
    let (alice, rabbit) = opened.unwrap();

    let secrets = [ALICE, RABBIT, TEXTS[0], TEXTS[1]];
    for home in [&alice_home, &rabbit_home] {
        let files = snapshot(home);
        for side_file in [DATABASE_FILE, KEY_FILE, "sotto.db-wal", "sotto.db-shm"] {
            assert!(files.contains_key(side_file), "{side_file} in {files:?}");
        }
        assert_eq!(not_owner_only(home), []);
        assert_eq!(found_in_clear(home, &secrets), []);
    }
    // Closed, the WAL is folded into the database file.
    drop((alice, rabbit));
    for home in [&alice_home, &rabbit_home] {
        assert_eq!(found_in_clear(home, &secrets), []);
        assert!(!snapshot(home)[DATABASE_FILE]
            .1
            .starts_with(b"SQLite format 3"));
        std::fs::remove_dir_all(home).unwrap();
    }
}

#[test]
fn a_passphrase_leaves_no_key_file_and_a_wrong_one_changes_nothing() {
    let home = temp_home("passphrase");
    let passphrase = |text: &str| Unlock::Passphrase(Zeroizing::new(text.to_string()));
    open_store(&home, &passphrase("curiouser and curiouser"))
        .unwrap()
        .create_profile(ALICE)
        .unwrap();
    let before = snapshot(&home);
    assert!(!before.contains_key(KEY_FILE), "{before:?}");
    assert_eq!(found_in_clear(&home, &[ALICE]), []);

    let error = open_store(&home, &passphrase("curiouser")).err().unwrap();
    assert!(matches!(error, StoreError::WrongPassphrase));
    assert_eq!(
        error.to_string(),
        "the passphrase does not open this home's store"
    );
    assert_eq!(snapshot(&home), before);
    // Without the passphrase, no key file is made up for it.
    let error = open_store(&home, &Unlock::KeyFile).err().unwrap();
    assert!(matches!(error, StoreError::PassphraseNeeded), "{error}");
    assert!(matches!(
        open_store(&home, &passphrase("")),
        Err(StoreError::EmptyPassphrase)
    ));
    assert_eq!(snapshot(&home), before);

    let store = open_store(&home, &passphrase("curiouser and curiouser")).unwrap();
    assert_eq!(store.profile().unwrap().unwrap().name, ALICE);
    drop(store);
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn a_store_from_before_encryption_is_encrypted_in_place_and_its_home_mended() {
    let home = temp_home("before");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The older sotto was killed while it ran: what it wrote last is still in its WAL.
    let crashed = temp_home("crashed");
    std::fs::create_dir(&crashed).unwrap();
    let old = Store::open_unencrypted(&database_path(&crashed)).unwrap();
    let group_id = converse(&old, ALICE, &Store::open_in_memory().unwrap(), RABBIT);
    for (name, contents) in [
        (
            DATABASE_FILE,
            std::fs::read(database_path(&crashed)).unwrap(),
        ),
        (
            "sotto.db-wal",
            std::fs::read(crashed.join("sotto.db-wal")).unwrap(),
        ),
        ("api-token", b"an older sotto's token".to_vec()),
        // A copy an earlier attempt left half made when it crashed in turn.
        ("sotto.db.encrypting", b"half a copy".to_vec()),
    ] {
        std::fs::write(home.join(name), contents).unwrap();
        std::fs::set_permissions(home.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    drop(old);
    std::fs::remove_dir_all(&crashed).unwrap();
    let in_clear = found_in_clear(&home, &[TEXTS[1]]);
    assert!(
        in_clear.contains(&("sotto.db-wal".into(), TEXTS[1].into())),
        "{in_clear:?}"
    );

    let store = open_store(&home, &Unlock::KeyFile).unwrap();
    assert_eq!(store.profile().unwrap().unwrap().name, ALICE);
    let texts: Vec<String> = store
        .messages(RABBIT)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, TEXTS);
    assert!(mls::load_group(&store.provider(), &group_id).is_ok());
    drop(store);
    let files = snapshot(&home);
    assert!(!files[DATABASE_FILE].1.starts_with(b"SQLite format 3"));
    assert!(!files.contains_key("sotto.db.encrypting"), "{files:?}");
    assert_eq!(not_owner_only(&home), []);
    assert_eq!(
        found_in_clear(&home, &[ALICE, RABBIT, TEXTS[0], TEXTS[1]]),
        []
    );
    // Opened again, it is the encrypted store, schema version and all.
    let store = open_store(&home, &Unlock::KeyFile).unwrap();
    assert_eq!(store.messages(RABBIT).unwrap().len(), TEXTS.len());
    drop(store);
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn a_commit_is_made_durable_on_demand_and_memory_has_nothing_to_sync() {
    let home = temp_home("durable");
    let store = open_store(&home, &Unlock::KeyFile).unwrap();
    store.create_profile("Alice").unwrap();
    let wal = database_path(&home).with_file_name(format!("{DATABASE_FILE}-wal"));
    assert!(wal.exists(), "the commit waits in the write-ahead log");
    store.make_durable().unwrap();
    drop(store);
    let reopened = open_store(&home, &Unlock::KeyFile).unwrap();
    assert_eq!(reopened.profile().unwrap().unwrap().name, "Alice");
    crate::store::Store::open_in_memory()
        .unwrap()
        .make_durable()
        .unwrap();
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn a_home_records_where_its_key_is_and_never_the_key() {
    let home = temp_home("record");
    drop(open_store(&home, &Unlock::KeyFile).unwrap());
    let key = std::fs::read_to_string(home.join(KEY_FILE)).unwrap();
    let record = std::fs::read_to_string(home.join(PLACE_FILE)).unwrap();
    assert_eq!(record, "key-file\n");
    assert!(!record.contains(key.trim()));

    // A home made before the record gets one from where its key is.
    std::fs::remove_file(home.join(PLACE_FILE)).unwrap();
    drop(open_store(&home, &Unlock::Keyring).unwrap());
    assert_eq!(
        place::read(&home).unwrap(),
        Some(Record::settled(KeyPlace::KeyFile))
    );
    // A record that names a key file which is gone says so, and no new key is made up.
    std::fs::remove_file(home.join(KEY_FILE)).unwrap();
    let error = open_store(&home, &Unlock::KeyFile).err().unwrap();
    assert!(matches!(error, StoreError::KeyFileMissing(_)), "{error}");
    assert!(!home.join(KEY_FILE).exists());
    std::fs::remove_dir_all(&home).unwrap();

    let home = temp_home("record-passphrase");
    let unlock = Unlock::Passphrase(Zeroizing::new("off with her head".into()));
    drop(open_store(&home, &unlock).unwrap());
    std::fs::remove_file(home.join(PLACE_FILE)).unwrap();
    drop(open_store(&home, &unlock).unwrap());
    assert_eq!(
        place::read(&home).unwrap(),
        Some(Record::settled(KeyPlace::Passphrase))
    );
    std::fs::remove_dir_all(&home).unwrap();
}
