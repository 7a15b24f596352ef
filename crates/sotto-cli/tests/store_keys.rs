//! Where a home's key is kept and how its store is unlocked, from the command line and without
//! a network: the OS keyring when a Secret Service answers, else the key file; and `sotto
//! passphrase set|remove` moving a home between a kept key and a passphrase.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const PLACE_FILE: &str = "store.unlock";
const KEY_FILE: &str = "store.key";

/// `sotto` with no session bus to find a Secret Service on, unless `bus` names one.
fn sotto(args: &[&str], bus: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sotto"));
    command
        .args(args)
        .env_remove("SOTTO_HOME")
        .env_remove("SOTTO_NETWORK")
        .env_remove("SOTTO_PASSPHRASE")
        .env_remove("SOTTO_KEYRING")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            bus.unwrap_or("unix:path=/nonexistent/sotto-test-bus"),
        );
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("running sotto")
}

fn succeeded(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failed(out: Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_root(tag: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("sotto-{tag}-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&root).unwrap();
    root
}

fn record(home: &Path) -> String {
    std::fs::read_to_string(home.join(PLACE_FILE)).unwrap()
}

/// Reads the store without a network: the contact is unknown, so it fails after the store
/// opened, or earlier with why the store did not open.
fn history(home: &str, passphrase: Option<&Path>) -> String {
    let mut args = vec!["history", "--home", home, "Nobody"];
    if let Some(file) = passphrase {
        args.extend(["--passphrase-file", file.to_str().unwrap()]);
    }
    failed(run(&mut sotto(&args, None)))
}

const OPENED: &str = "Nobody";

#[test]
fn without_a_secret_service_a_new_key_is_kept_in_the_key_file_and_recorded_there() {
    let root = temp_root("no-keyring");
    for (name, extra, keyring_off) in [
        ("plain", None, false),
        ("flag", Some("--no-keyring"), false),
        ("variable", None, true),
    ] {
        let home = root.join(name);
        let home_text = home.to_str().unwrap();
        let mut args = vec!["init", "--name", "Alice", "--home", home_text];
        args.extend(extra);
        let mut command = sotto(&args, None);
        if keyring_off {
            command.env("SOTTO_KEYRING", "off");
        }
        let started = Instant::now();
        succeeded(run(&mut command));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no keyring is given up on quickly"
        );
        assert_eq!(record(&home), "key-file\n", "{name}");
        let key = std::fs::read_to_string(home.join(KEY_FILE)).unwrap();
        assert!(!record(&home).contains(key.trim()));
        assert!(history(home_text, None).contains(OPENED), "{name}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn passphrase_set_and_remove_rekey_the_store_and_a_wrong_passphrase_changes_nothing() {
    let root = temp_root("passphrase-cli");
    let home = root.join("alice");
    let home_text = home.to_str().unwrap();
    let (right, wrong) = (root.join("right"), root.join("wrong"));
    std::fs::write(&right, "drink me\n").unwrap();
    std::fs::write(&wrong, "eat me\n").unwrap();
    succeeded(run(&mut sotto(
        &["init", "--name", "Alice", "--home", home_text],
        None,
    )));

    let said = succeeded(run(&mut sotto(
        &[
            "passphrase",
            "set",
            "--home",
            home_text,
            "--new-passphrase-file",
            right.to_str().unwrap(),
        ],
        None,
    )));
    assert!(said.contains("passphrase alone"), "{said}");
    assert!(!home.join(KEY_FILE).exists(), "the old key file is removed");
    assert_eq!(record(&home), "passphrase\n");
    assert!(history(home_text, None).contains("locked by a passphrase"));
    let before = std::fs::read(home.join("sotto.db")).unwrap();
    assert!(history(home_text, Some(&wrong)).contains("passphrase does not open"));
    let refused = failed(run(&mut sotto(
        &[
            "passphrase",
            "remove",
            "--home",
            home_text,
            "--passphrase-file",
            wrong.to_str().unwrap(),
        ],
        None,
    )));
    assert!(refused.contains("passphrase does not open"), "{refused}");
    assert_eq!(std::fs::read(home.join("sotto.db")).unwrap(), before);
    assert!(history(home_text, Some(&right)).contains(OPENED));

    let said = succeeded(run(&mut sotto(
        &[
            "passphrase",
            "remove",
            "--home",
            home_text,
            "--passphrase-file",
            right.to_str().unwrap(),
            "--json",
        ],
        None,
    )));
    assert_eq!(said.trim(), r#"{"event":"rekeyed","unlocked_by":"key-file"}"#);
    assert_eq!(record(&home), "key-file\n");
    assert!(history(home_text, None).contains(OPENED));
    let refused = failed(run(&mut sotto(
        &["passphrase", "remove", "--home", home_text],
        None,
    )));
    assert!(refused.contains("already unlocked by a key it keeps"), "{refused}");
    std::fs::remove_dir_all(&root).unwrap();
}
