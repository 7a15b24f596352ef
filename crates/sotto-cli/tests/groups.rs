//! A group between three `sotto` processes over real relays on 127.0.0.1: created, contacts
//! added, messages to everyone, members listed, a member removed. The logic is tested on the
//! in-memory network (sotto-client's memnet `groups`); this proves the wire and the commands.

use std::path::Path;

use sotto_testnet::person::{events, CliPerson as Person};
use sotto_testnet::TestLocalnet;

fn person(net: &TestLocalnet, name: &str) -> Person {
    Person::new(Path::new(env!("CARGO_BIN_EXE_sotto")), net, name)
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
        person(&net, "Ann"),
        person(&net, "Bob"),
        person(&net, "Cat"),
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
    assert_eq!(events(&added, "added_to_group").len(), 2, "{added:?}");
    for person in [&bob, &cat] {
        let joined = person.ok(&["read"]);
        assert_eq!(events(&joined, "joined_group").len(), 1, "{joined:?}");
    }

    ann.ok(&["send", "club", "hello club"]);
    bob.ok(&["send", "club", "hi from Bob"]);
    let read = cat.ok(&["read"]);
    let messages: Vec<(String, String, String)> = events(&read, "message")
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
        events(&bob_read, "message")
            .iter()
            .all(|m| m["text"] != "only us now"),
        "{bob_read:?}"
    );
    assert_eq!(events(&bob_read, "removed").len(), 1, "{bob_read:?}");
    cat.ok(&["read"]);
    // History is what the device has: nothing of the network.
    let history = cat.ok(&["history", "club"]);
    assert_eq!(history.last().unwrap()["text"], "only us now");
    assert_eq!(history.last().unwrap()["from"], "Ann");
    assert_eq!(cat.ok(&["group", "members", "club"]).len(), 2);
}
