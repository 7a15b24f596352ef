//! The person commands as a newcomer runs them: two homes, one localnet, `sotto` processes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sotto_testnet::TestLocalnet;

struct Person {
    home: PathBuf,
    network: PathBuf,
    /// Gives `--home`, `--network` and `--json` before the command rather than after it.
    options_first: bool,
}

impl Person {
    /// `sotto ARGS` on this person's home, under umask 000: what sotto makes in a home must be
    /// its owner's only whatever the umask says.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("sh");
        command
            .args(["-c", "umask 000 && exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_sotto"))
            // Throwaway homes keep their keys in files, never in the person's OS keyring.
            .env("SOTTO_KEYRING", "off");
        if !self.options_first {
            command.args(args);
        }
        command
            .arg("--home")
            .arg(&self.home)
            .arg("--network")
            .arg(&self.network)
            .arg("--json");
        if self.options_first {
            command.args(args);
        }
        command
            .env_remove("SOTTO_HOME")
            .env_remove("SOTTO_NETWORK")
            .env_remove("SOTTO_PASSPHRASE");
        command
    }

    fn sotto(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running sotto")
    }

    /// Runs a command that must succeed and returns its JSON lines.
    fn ok(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let out = self.sotto(args);
        assert!(
            out.status.success(),
            "sotto {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect()
    }
}

fn person(net: &TestLocalnet, name: &str) -> Person {
    let person = Person {
        home: net.root().join(name),
        network: net.root().join("network.toml"),
        options_first: name == "Alice",
    };
    let out = person.ok(&["init", "--name", name]);
    assert_eq!(out[0]["event"], "initialized");
    person
}

/// The home and the files in it that others than their owner may use.
fn not_owner_only(home: &Path) -> Vec<String> {
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let files = std::fs::read_dir(home)
        .unwrap()
        .map(|entry| entry.unwrap().path());
    (mode(home) != 0o700)
        .then(|| home.display().to_string())
        .into_iter()
        .chain(
            files
                .filter(|file| mode(file) != 0o600)
                .map(|file| format!("{} ({:o})", file.display(), mode(&file))),
        )
        .collect()
}

/// The files in `home` where `secret` can be read as it is.
fn found_in_clear(home: &Path, secret: &str) -> Vec<String> {
    std::fs::read_dir(home)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|file| {
            std::fs::read(file)
                .unwrap()
                .windows(secret.len())
                .any(|window| window == secret.as_bytes())
        })
        .map(|file| file.display().to_string())
        .collect()
}

fn network_file(net: &TestLocalnet) -> PathBuf {
    // TestLocalnet keeps its network file in its root.
    let file = net.root().join("network.toml");
    assert!(file.exists(), "{}", file.display());
    file
}

#[test]
fn two_people_chat_from_the_command_line() {
    let net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    network_file(&net);
    let alice = person(&net, "Alice");
    let bob = person(&net, "Bob");

    let invite = alice.ok(&[
        "invite",
        "--qr-png",
        net.root().join("qr.png").to_str().unwrap(),
    ]);
    let link = invite[0]["link"].as_str().unwrap().to_string();
    assert!(link.starts_with("sotto://"));
    assert!(std::fs::read(net.root().join("qr.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));

    let connected = bob.ok(&["connect", &link]);
    assert_eq!(connected[0]["alias"], "Alice");
    let contacts = alice.ok(&["contacts"]);
    assert!(contacts
        .iter()
        .any(|e| e["event"] == "connected" && e["alias"] == "Bob"));
    assert!(contacts
        .iter()
        .any(|e| e["event"] == "contact" && e["name"] == "Bob"));

    let sent = bob.ok(&["send", "Alice", "hello from the terminal"]);
    let id = sent[0]["id"].as_str().unwrap().to_string();
    let read = alice.ok(&["read", "Bob", "--wait", "20"]);
    let message = read.iter().find(|e| e["event"] == "message").unwrap();
    assert_eq!(message["from"], "Bob");
    assert_eq!(message["text"], "hello from the terminal");
    assert_eq!(message["id"], id.as_str());
    assert!(message["sent_at"].as_u64().unwrap() > 1_700_000_000_000);

    alice.ok(&["send", "Bob", "got it", "--reply-to", &id[..8]]);
    let read = bob.ok(&["read", "--wait", "20"]);
    let reply = read.iter().find(|e| e["event"] == "message").unwrap();
    assert_eq!(reply["reply_to"], id.as_str());
    assert!(read.iter().any(|e| e["event"] == "delivered"), "{read:?}");

    // The whole conversation, both ways, from the store alone: no network file is needed.
    let offline = Person {
        network: net.root().join("nowhere.toml"),
        ..bob
    };
    let history = offline.ok(&["history", "Alice"]);
    let texts: Vec<_> = history
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hello from the terminal", "got it"]);
    assert_eq!(history[0]["mine"], true);
    assert_eq!(history[0]["from"], "Bob");
    assert_eq!(history[0]["delivered"], true);
    assert_eq!(history[1]["mine"], false);
    assert_eq!(history[1]["from"], "Alice");
    assert_eq!(history[1]["reply_to"], id.as_str());
    assert!(history[1].get("delivered").is_none());
    let last = offline.ok(&["history", "Alice", "--limit", "1"]);
    assert_eq!(last.len(), 1);
    assert_eq!(last[0]["text"], "got it");
    let bob = Person {
        network: network_file(&net),
        ..offline
    };

    // A long text (20,000 bytes, three parts on the wire) arrives whole; one over the limit
    // is refused before anything is sent, and the limit is named.
    let long = "ü".repeat(10_000);
    bob.ok(&["send", "Alice", &long]);
    let read = alice.ok(&["read", "Bob", "--wait", "20"]);
    let message = read.iter().find(|e| e["event"] == "message").unwrap();
    assert_eq!(message["text"], long.as_str());
    let out = bob.sotto(&["send", "Alice", &"x".repeat(70_000)]);
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(error.contains("70000 bytes, at most 65536"), "{error}");

    // Neither home lets another user of the machine in, and neither holds a name or a text in
    // clear (Bob's name is too short to look for in encrypted bytes without false alarms).
    for person in [&alice, &bob] {
        assert_eq!(not_owner_only(&person.home), [] as [String; 0]);
        for secret in ["hello from the terminal", "got it", "Alice"] {
            assert_eq!(found_in_clear(&person.home, secret), [] as [String; 0]);
        }
    }
    // The link is spent; a stranger's try fails with a clear message and changes nothing.
    let carol = person(&net, "Carol");
    let out = carol.sotto(&["connect", &link]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already used"));
    assert!(carol
        .ok(&["contacts"])
        .iter()
        .all(|e| e["event"] != "contact"));

    // Mistakes get a sentence, not a panic.
    let out = bob.sotto(&["send", "Nobody", "hi"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no contact named 'Nobody'"));
    let out = alice.sotto(&["init", "--name", "Again"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already has a profile"));

    // A network file that was changed, or signed by another authority than the one Alice's
    // device was set up with, is refused.
    let text = std::fs::read_to_string(network_file(&net)).unwrap();
    let elsewhere = |name: &str, text: &str| {
        let file = net.root().join(name);
        std::fs::write(&file, text).unwrap();
        Person {
            home: alice.home.clone(),
            network: file,
            options_first: false,
        }
    };
    let changed = elsewhere(
        "changed.toml",
        &text.replacen("@127.0.0.1:", "@127.0.0.2:", 1),
    );
    let out = changed.sotto(&["invite"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match: the file was changed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other_key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let resigned = sotto_onion::directory::NetworkFile::parse(&text)
        .unwrap()
        .with_authorities(sotto_onion::directory::Authorities::single(
            other_key.verifying_key(),
        ))
        .sign(&other_key)
        .unwrap()
        .to_toml();
    let other = elsewhere("other.toml", &resigned);
    let out = other.sotto(&["invite"]);
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(error.contains("another network's file"), "{error}");

    // Dave was given the network's authority key by a source he trusts: a network file signed
    // by another key is refused before anything is made, the right one is accepted.
    let authority = text
        .lines()
        .find_map(|line| line.strip_prefix("authorities = [\""))
        .unwrap()
        .trim_end_matches("\"]")
        .to_owned();
    let dave = Person {
        home: net.root().join("Dave"),
        network: other.network.clone(),
        options_first: false,
    };
    let out = dave.sotto(&["init", "--name", "Dave", "--authority", &authority]);
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("not that network's file"), "{error}");
    assert!(!dave.home.join("sotto.db").exists(), "nothing made");
    let dave = Person {
        network: network_file(&net),
        ..dave
    };
    dave.ok(&["init", "--name", "Dave", "--authority", &authority]);
    let out = dave.sotto(&["init", "--name", "Dave", "--authority", "beef"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex digits"));

    // Erin keeps nothing on disk that opens her store: every command needs her passphrase.
    let erin = Person {
        home: net.root().join("Erin"),
        network: network_file(&net),
        options_first: false,
    };
    let with_passphrase = |passphrase: &str, args: &[&str]| {
        erin.command(args)
            .env("SOTTO_PASSPHRASE", passphrase)
            .output()
            .unwrap()
    };
    assert!(with_passphrase("drink me", &["init", "--name", "Erin"])
        .status
        .success());
    assert!(!erin.home.join("store.key").exists());
    assert!(with_passphrase("drink me", &["contacts"]).status.success());
    let out = with_passphrase("eat me", &["contacts"]);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("the passphrase does not open this home's store"),
        "{error}"
    );
    let error = String::from_utf8_lossy(&erin.sotto(&["contacts"]).stderr).into_owned();
    assert!(error.contains("locked by a passphrase"), "{error}");
    let file = net.root().join("erin-passphrase");
    std::fs::write(&file, "drink me\n").unwrap();
    let out = erin.sotto(&["contacts", "--passphrase-file", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(not_owner_only(&erin.home), [] as [String; 0]);
}

#[test]
fn the_demo_runs_to_the_end_with_every_message_pushed() {
    let out = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .arg("demo")
        .output()
        .expect("running sotto demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("pushed  ").count(), 4, "{stdout}");
    assert!(stdout.contains("-> relay"), "paths are shown");
    assert!(stdout.contains("Delivery receipts came back for 2 of Alice's and 2 of Bob's"));
    assert!(stdout.trim_end().ends_with("its files removed."));
}
