//! Where a person's options may go, checked without a network: `--home`, `--network` and
//! `--json` work before the command and after it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn sotto(args: &[&str], sotto_home: Option<&PathBuf>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sotto"));
    command
        .args(args)
        .env_remove("SOTTO_HOME")
        .env_remove("SOTTO_NETWORK")
        // Throwaway homes keep their keys in files, never in the person's OS keyring.
        .env("SOTTO_KEYRING", "off");
    if let Some(home) = sotto_home {
        command.env("SOTTO_HOME", home);
    }
    command.output().expect("running sotto")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_root() -> PathBuf {
    let root = std::env::temp_dir().join(format!("sotto-options-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&root).unwrap();
    root
}

#[test]
fn device_options_go_before_or_after_the_command() {
    let root = temp_root();
    let (alice, bob) = (root.join("alice"), root.join("bob"));
    let (alice, bob) = (alice.to_str().unwrap(), bob.to_str().unwrap());

    assert!(
        stdout(&sotto(&["--home", alice, "init", "--name", "Alice"], None))
            .starts_with("Hello Alice.")
    );
    let line = stdout(&sotto(
        &["init", "--home", bob, "--name", "Bob", "--json"],
        None,
    ));
    let json: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(json["event"], "initialized");
    assert_eq!(json["name"], "Bob");

    // The store is read offline, so reaching the contact check means the home was found.
    let error = stderr(&sotto(&["--json", "--home", alice, "history", "Bob"], None));
    assert!(error.contains("no contact named 'Bob'"), "{error}");

    // After the command beats before it, and either beats $SOTTO_HOME.
    let again = |args: &[&str], env: Option<&PathBuf>| stderr(&sotto(args, env));
    let bob_env = PathBuf::from(bob);
    assert!(again(&["init", "--name", "C"], Some(&bob_env)).contains("profile (Bob)"));
    assert!(
        again(&["--home", alice, "init", "--name", "C"], Some(&bob_env))
            .contains("profile (Alice)")
    );
    assert!(again(
        &["--home", bob, "init", "--home", alice, "--name", "C"],
        None
    )
    .contains("profile (Alice)"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn commands_without_a_device_refuse_device_options_before_them() {
    let out = sotto(&["--home", "somewhere", "completions", "bash"], None);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(stderr(&out).contains("are for a person's commands"));
    let help = stdout(&sotto(&["--help"], None));
    assert!(help.contains("history"), "{help}");
    assert!(help.contains("also accepted after the command"), "{help}");
}
