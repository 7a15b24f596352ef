//! One behaviour, checked against every backend.

use super::*;

fn backends() -> Vec<(Box<dyn Store>, Option<std::path::PathBuf>)> {
    let path =
        std::env::temp_dir().join(format!("sotto-store-test-{}.redb", rand::random::<u64>()));
    let redb = RedbStore::open(&path).expect("open redb");
    vec![
        (Box::new(MemoryStore::new()), None),
        (Box::new(redb), Some(path)),
    ]
}

fn each_backend(check: impl Fn(&mut dyn Store)) {
    for (mut store, path) in backends() {
        check(store.as_mut());
        drop(store);
        if let Some(path) = path {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[test]
fn committed_writes_are_visible_and_ordered() {
    each_backend(|store| {
        let mut txn = store.begin().unwrap();
        for key in [[3u8], [1], [2]] {
            txn.put(Table::Messages, &key, &key).unwrap();
        }
        txn.commit().unwrap();
        let txn = store.begin().unwrap();
        let keys: Vec<Vec<u8>> = txn
            .range(Table::Messages, &[0], &[9], 10)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, vec![vec![1], vec![2], vec![3]]);
        assert_eq!(txn.range(Table::Messages, &[0], &[9], 2).unwrap().len(), 2);
        assert_eq!(txn.get(Table::Links, &[1]).unwrap(), None);
    });
}

#[test]
fn a_dropped_transaction_changes_nothing() {
    each_backend(|store| {
        let mut txn = store.begin().unwrap();
        txn.put(Table::Mailboxes, b"a", b"1").unwrap();
        txn.commit().unwrap();
        let mut txn = store.begin().unwrap();
        txn.put(Table::Mailboxes, b"a", b"2").unwrap();
        txn.put(Table::Mailboxes, b"b", b"3").unwrap();
        txn.remove(Table::Mailboxes, b"a").unwrap();
        drop(txn);
        let txn = store.begin().unwrap();
        assert_eq!(
            txn.get(Table::Mailboxes, b"a").unwrap(),
            Some(b"1".to_vec())
        );
        assert_eq!(txn.get(Table::Mailboxes, b"b").unwrap(), None);
    });
}

#[test]
fn remove_range_removes_exactly_the_range() {
    each_backend(|store| {
        let mut txn = store.begin().unwrap();
        for key in 0u8..10 {
            txn.put(Table::Nonces, &[key], b"x").unwrap();
        }
        let removed = txn.remove_range(Table::Nonces, &[2], &[5]).unwrap();
        assert_eq!(
            removed,
            Removed {
                entries: 3,
                bytes: 6
            }
        );
        let nothing = txn.remove_range(Table::Nonces, &[5], &[2]).unwrap();
        assert_eq!(nothing, Removed::default());
        assert_eq!(
            txn.remove(Table::Nonces, &[6]).unwrap(),
            Removed::of(&[6], b"x")
        );
        assert_eq!(txn.stored_bytes(Table::Nonces).unwrap(), 12);
        txn.commit().unwrap();
        let txn = store.begin().unwrap();
        assert_eq!(txn.range(Table::Nonces, &[0], &[10], 100).unwrap().len(), 6);
        assert_eq!(txn.get(Table::Nonces, &[4]).unwrap(), None);
    });
}

#[test]
fn a_scan_stops_where_its_reader_does() {
    each_backend(|store| {
        let mut txn = store.begin().unwrap();
        for key in 0u8..10 {
            txn.put(Table::Messages, &[key], &[key; 3]).unwrap();
        }
        let mut seen = Vec::new();
        txn.scan(Table::Messages, &[2], &[9], &mut |key, value| {
            seen.push((key[0], value.len()));
            seen.len() < 3
        })
        .unwrap();
        assert_eq!(seen, vec![(2, 3), (3, 3), (4, 3)]);
        assert_eq!(txn.stored_bytes(Table::Messages).unwrap(), 40);
    });
}

#[cfg(unix)]
#[test]
fn the_redb_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let path =
        std::env::temp_dir().join(format!("sotto-store-mode-{}.redb", rand::random::<u64>()));
    drop(RedbStore::open(&path).unwrap());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    let _ = std::fs::remove_file(&path);
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_recovered_redb_store_keeps_what_was_committed() {
    let path = std::env::temp_dir().join(format!(
        "sotto-store-recover-{}.redb",
        rand::random::<u64>()
    ));
    let mut store = RedbStore::open(&path).unwrap();
    let mut txn = store.begin().unwrap();
    txn.put(Table::Links, b"kept", b"1").unwrap();
    txn.commit().unwrap();
    let mut txn = store.begin().unwrap();
    txn.put(Table::Links, b"lost", b"2").unwrap();
    drop(txn);
    store.recover().unwrap();
    let txn = store.begin().unwrap();
    assert_eq!(txn.get(Table::Links, b"kept").unwrap(), Some(b"1".to_vec()));
    assert_eq!(txn.get(Table::Links, b"lost").unwrap(), None);
    drop(txn);
    drop(store);
    let _ = std::fs::remove_file(&path);
}

/// A store file made by this backend, holding one message, damaged by `damage`: opened, it
/// must either refuse with what to do or still hold the message.
fn damaged_redb(damage: impl Fn(&mut Vec<u8>)) -> Result<Option<Vec<u8>>, String> {
    let path = std::env::temp_dir().join(format!(
        "sotto-store-damaged-{}.redb",
        rand::random::<u64>()
    ));
    let mut store = RedbStore::open(&path).unwrap();
    let mut txn = store.begin().unwrap();
    txn.put(Table::Messages, b"m", &[1; 4096]).unwrap();
    txn.commit().unwrap();
    drop(store);
    let mut bytes = std::fs::read(&path).unwrap();
    damage(&mut bytes);
    std::fs::write(&path, &bytes).unwrap();
    let opened = RedbStore::open(&path)
        .map_err(|e| e.to_string())
        .and_then(|mut store| {
            let txn = store.begin().map_err(|e| e.to_string())?;
            txn.get(Table::Messages, b"m").map_err(|e| e.to_string())
        });
    let _ = std::fs::remove_file(&path);
    opened
}

#[test]
fn a_damaged_redb_file_is_refused_with_what_to_do() {
    // Garbage over the header (the magic number and the commit slots).
    let refused = damaged_redb(|bytes| bytes[..512].fill(0xa5)).expect_err("refused");
    assert!(refused.contains("move it aside"), "{refused}");
    // Cut short, as by a copy that stopped halfway.
    match damaged_redb(|bytes| bytes.truncate(bytes.len() / 2)) {
        Err(refused) => assert!(refused.contains("move it aside"), "{refused}"),
        Ok(kept) => assert_eq!(
            kept,
            Some(vec![1; 4096]),
            "opened, so nothing may be missing"
        ),
    }
}
