//! The home's lock as front ends meet it: one sotto per home, a clear message for the second,
//! and the home free again once the first is done.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use sotto_client::{ConversationError, Unlock};

use crate::{change_unlock, init, look_back, App, AppError, Home};

/// A home path under the temporary directory that no other test uses.
fn fresh_home(test: &str) -> Home {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir: PathBuf =
        std::env::temp_dir().join(format!("sotto-app-{test}-{}-{nanos}", std::process::id()));
    Home::new(dir)
}

#[test]
fn a_second_sotto_on_a_home_is_refused_until_the_first_is_done() {
    let home = fresh_home("lock");
    init(&home, "Alice", &Unlock::KeyFile, None, None).unwrap();
    let first = home.lock().unwrap();

    let refused = home.lock().unwrap_err();
    let pid = std::process::id();
    assert!(
        matches!(&refused, AppError::Busy { pid: Some(p), home: h } if *p == pid && h == home.dir()),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        format!(
            "another sotto (pid {pid}) is using {}; stop it or use another --home",
            home.dir().display()
        )
    );
    // Every way in takes the lock before touching the store or the network.
    let opening = App::open(home.clone(), &Unlock::KeyFile, None).err();
    assert!(matches!(opening, Some(AppError::Busy { .. })));
    let again = init(&home, "Alice", &Unlock::KeyFile, None, None).unwrap_err();
    assert!(matches!(again, AppError::Busy { .. }), "{again:?}");
    let passphrase = Unlock::Passphrase("drink me".to_string().into());
    let rekeying = change_unlock(&home, &Unlock::KeyFile, &passphrase).unwrap_err();
    assert!(matches!(rekeying, AppError::Busy { .. }), "{rekeying:?}");
    assert!(home.key_file().exists(), "the store keeps its key");

    drop(first);
    let second = home.lock().unwrap();
    drop(second);
    let _ = std::fs::remove_dir_all(home.dir());
}

#[test]
fn history_reads_beside_the_sotto_that_holds_the_home() {
    let home = fresh_home("look-back");
    init(&home, "Alice", &Unlock::KeyFile, None, None).unwrap();
    let _held = home.lock().unwrap();
    // Reaching the contact check means the store was opened and read.
    let error = look_back(&home, &Unlock::KeyFile, "Bob", None).unwrap_err();
    assert!(
        matches!(
            error,
            AppError::Conversation(ConversationError::UnknownContact(ref c)) if c == "Bob"
        ),
        "{error:?}"
    );
    let _ = std::fs::remove_dir_all(home.dir());
}

#[test]
fn a_home_that_does_not_exist_is_not_made_by_opening_it() {
    let home = fresh_home("missing");
    let error = App::open(home.clone(), &Unlock::KeyFile, None).err();
    assert!(matches!(
        error,
        Some(AppError::Conversation(ConversationError::NotInitialized))
    ));
    assert!(!home.dir().exists());
}
