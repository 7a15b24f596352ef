//! A group between three `sotto` processes over real relays on 127.0.0.1: created, contacts
//! added, messages to everyone, members listed, a member removed. The logic is tested on the
//! in-memory network (sotto-client's memnet `groups`); this proves the wire and the commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sotto_testnet::TestLocalnet;

struct Person {
    home: PathBuf,
    network: PathBuf,
}

impl Person {
    fn new(net: &TestLocalnet, name: &str) -> Self {
        let person = Self {
            home: net.root().join(name),
            network: net.root().join("network.toml"),
        };
        person.ok(&["init", "--name", name]);
        person
    }

    /// Runs `sotto ARGS --json` on this person's home; each line of its output.
    fn ok(&self, args: &[&str]) -> Vec<Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_sotto"))
            .args(args)
            .arg("--home")
            .arg(&self.home)
            .arg("--network")
            .arg(&self.network)
            .arg("--json")
            .env_remove("SOTTO_HOME")
            .env_remove("SOTTO_NETWORK")
            .env_remove("SOTTO_PASSPHRASE")
            .env("SOTTO_KEYRING", "off")
            .output()
            .expect("running sotto");
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

    /// Events of kind `event` among `lines`.
    fn having<'a>(lines: &'a [Value], event: &str) -> Vec<&'a Value> {
        lines.iter().filter(|l| l["event"] == event).collect()
    }
}

fn connect(a: &Person, b: &Person) {
    let invite = a.ok(&["invite", "--no-qr"]);
    let link = invite[0]["link"].as_str().unwrap().to_string();
    b.ok(&["connect", &link]);
    a.ok(&["contacts"]);
}

#[test]
fn three_people_make_a_group_talk_in_it_and_remove_one() {
    let net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    let (ann, bob, cat) = (
        Person::new(&net, "Ann"),
        Person::new(&net, "Bob"),
        Person::new(&net, "Cat"),
    );
    connect(&ann, &bob);
    connect(&ann, &cat);
    let created = ann.ok(&["group", "create", "club"]);
    assert_eq!(created.last().unwrap()["group"], "club");
    ann.ok(&["group", "add", "club", "Bob", "Cat"]);
    // Their devices answer; Ann's commits the answers and welcomes them; they join.
    bob.ok(&["read"]);
    cat.ok(&["read"]);
    let added = ann.ok(&["read"]);
    assert_eq!(
        Person::having(&added, "added_to_group").len(),
        2,
        "{added:?}"
    );
    for person in [&bob, &cat] {
        let joined = person.ok(&["read"]);
        assert_eq!(
            Person::having(&joined, "joined_group").len(),
            1,
            "{joined:?}"
        );
    }

    ann.ok(&["send", "club", "hello club"]);
    bob.ok(&["send", "club", "hi from Bob"]);
    let read = cat.ok(&["read"]);
    let messages: Vec<(String, String, String)> = Person::having(&read, "message")
        .iter()
        .map(|m| {
            (
                m["group"].as_str().unwrap_or_default().to_string(),
                m["from"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        messages,
        [
            ("club".into(), "Ann".into(), "hello club".into()),
            ("club".into(), "Bob".into(), "hi from Bob".into())
        ]
    );
    let members = cat.ok(&["group", "members", "club"]);
    let roles: Vec<(String, String)> = members
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(roles.len(), 3, "{members:?}");
    assert!(roles.contains(&("Ann".into(), "owner".into())));
    assert!(roles.contains(&("Bob".into(), "member".into())));

    ann.ok(&["group", "remove", "club", "Bob"]);
    ann.ok(&["send", "club", "only us now"]);
    let bob_read = bob.ok(&["read"]);
    assert!(
        Person::having(&bob_read, "message")
            .iter()
            .all(|m| m["text"] != "only us now"),
        "{bob_read:?}"
    );
    assert_eq!(
        Person::having(&bob_read, "removed").len(),
        1,
        "{bob_read:?}"
    );
    cat.ok(&["read"]);
    // History is what the device has: nothing of the network.
    let history = cat.ok(&["history", "club"]);
    assert_eq!(history.last().unwrap()["text"], "only us now");
    assert_eq!(history.last().unwrap()["from"], "Ann");
    assert_eq!(cat.ok(&["group", "members", "club"]).len(), 2);
}
