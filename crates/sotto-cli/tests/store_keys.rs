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
    assert_eq!(
        said.trim(),
        r#"{"event":"rekeyed","unlocked_by":"key-file"}"#
    );
    assert_eq!(record(&home), "key-file\n");
    assert!(history(home_text, None).contains(OPENED));
    let refused = failed(run(&mut sotto(
        &["passphrase", "remove", "--home", home_text],
        None,
    )));
    assert!(
        refused.contains("already unlocked by a key it keeps"),
        "{refused}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// A Secret Service of its own: gnome-keyring's daemon, unlocked, on a private session bus,
/// with its keyrings under `dir`. Ends, daemon and bus, when dropped.
struct SecretService {
    session: std::process::Child,
    address: String,
}

/// Starts the daemon, waits until it owns the Secret Service's name, prints the bus address,
/// then waits for its stdin to close.
const SESSION_SCRIPT: &str = r#"
set -eu
printf sotto-test | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q 'boolean true'; then
        echo "$DBUS_SESSION_BUS_ADDRESS"
        cat >/dev/null
        exit 0
    fi
    sleep 0.1
done
echo "gnome-keyring-daemon did not take org.freedesktop.secrets" >&2
exit 1
"#;

impl SecretService {
    fn start(dir: &Path) -> Self {
        use std::io::BufRead;
        let run = dir.join("run");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let mut session = Command::new("timeout")
            .args([
                "120",
                "dbus-run-session",
                "--",
                "bash",
                "-c",
                SESSION_SCRIPT,
            ])
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_RUNTIME_DIR", &run)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting dbus-run-session");
        let mut address = String::new();
        std::io::BufReader::new(session.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_string();
        if address.is_empty() {
            let _ = session.kill();
            let _ = session.wait();
            panic!("no Secret Service started on a session bus");
        }
        Self { session, address }
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // Closing stdin ends the script, whose trap stops the daemon; the bus goes with it.
        drop(self.session.stdin.take());
        let _ = self.session.wait();
    }
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|out| out.status.success())
}

#[test]
fn a_home_keyed_in_a_secret_service_opens_again_and_has_no_key_file() {
    let needed = [
        "dbus-run-session",
        "dbus-send",
        "gnome-keyring-daemon",
        "timeout",
    ];
    if let Some(missing) = needed.iter().find(|program| !installed(program)) {
        assert!(
            std::env::var_os("CI").is_none(),
            "{missing} is missing; .ci/run installs it"
        );
        eprintln!("skipped: {missing} is not installed (apt-get install dbus gnome-keyring)");
        return;
    }
    let root = temp_root("keyring");
    let service = SecretService::start(&root.join("session"));
    let bus = Some(service.address.as_str());
    let home = root.join("alice");
    let home_text = home.to_str().unwrap();
    succeeded(run(&mut sotto(
        &["init", "--name", "Alice", "--home", home_text],
        bus,
    )));
    assert!(
        record(&home).starts_with("keyring store-"),
        "{}",
        record(&home)
    );
    assert!(!home.join(KEY_FILE).exists());
    let out = failed(run(&mut sotto(
        &["history", "--home", home_text, "Nobody"],
        bus,
    )));
    assert!(out.contains(OPENED), "{out}");
    // Without the keyring, the home says why it cannot open rather than making a new key.
    let out = history(home_text, None);
    assert!(out.contains("OS keyring cannot be used"), "{out}");
    assert!(!home.join(KEY_FILE).exists());

    // To a passphrase and back: the key returns to the keyring, under a new entry.
    let first = record(&home);
    let passphrase = root.join("passphrase");
    std::fs::write(&passphrase, "drink me").unwrap();
    let passphrase = passphrase.to_str().unwrap();
    succeeded(run(&mut sotto(
        &[
            "passphrase",
            "set",
            "--home",
            home_text,
            "--new-passphrase-file",
            passphrase,
        ],
        bus,
    )));
    assert_eq!(record(&home), "passphrase\n");
    succeeded(run(&mut sotto(
        &[
            "passphrase",
            "remove",
            "--home",
            home_text,
            "--passphrase-file",
            passphrase,
        ],
        bus,
    )));
    assert!(record(&home).starts_with("keyring store-"));
    assert_ne!(record(&home), first);
    let out = failed(run(&mut sotto(
        &["history", "--home", home_text, "Nobody"],
        bus,
    )));
    assert!(out.contains(OPENED), "{out}");
    drop(service);
    std::fs::remove_dir_all(&root).unwrap();
}
