//! Groups on the in-memory network: contacts invited over their conversations, one group
//! mailbox read by every member with its own reader, removal, catching up, and what the hosts
//! hold.

use sotto_client::{Event, GroupMember};
use sotto_proto::group::Role;

use crate::faults::Faults;
use crate::network::MemoryNetwork;
use crate::people::{assert_no_trouble, settle, Person};

/// `b` answers `a`'s link; both know each other by name.
async fn connect(a: &mut Person, b: &mut Person) {
    let link = a.device.invite().await.unwrap().to_string();
    assert_eq!(b.device.connect(&link, None).await.unwrap(), a.name);
    a.sync().await;
}

/// Ann founds "club" and adds Bob, Cat and Dan, her contacts, as members.
async fn club(network: &MemoryNetwork) -> Vec<Person> {
    club_of(network, &["Ann", "Bob", "Cat", "Dan"]).await
}

/// The first of `names` founds "club" and adds the others, her contacts, as members.
async fn club_of(network: &MemoryNetwork, names: &[&'static str]) -> Vec<Person> {
    let mut people: Vec<Person> = names
        .iter()
        .copied()
        .enumerate()
        .map(|(n, name)| Person::new(network, name, n % 2))
        .collect();
    let (ann, others) = people.split_first_mut().unwrap();
    for other in others.iter_mut() {
        connect(ann, other).await;
    }
    assert_eq!(ann.device.create_group("club").await.unwrap(), "club");
    ann.device
        .invite_to_group("club", &names[1..], Role::Member)
        .await
        .unwrap();
    // Their devices answer by themselves; Ann commits each answer and welcomes them.
    for other in others.iter_mut() {
        other.sync().await;
    }
    ann.sync().await;
    for other in others.iter_mut() {
        other.sync().await;
        assert!(
            other.events.contains(&Event::JoinedGroup {
                alias: "club".into()
            }),
            "{}: {:?}",
            other.name,
            other.events
        );
    }
    people
}

fn group_texts(person: &Person) -> Vec<String> {
    person
        .device
        .store()
        .messages("club")
        .unwrap()
        .into_iter()
        .filter(|m| !m.outgoing)
        .map(|m| format!("{}: {}", m.sender.unwrap_or_default(), m.text))
        .collect()
}

async fn sync_all(people: &mut [Person]) {
    for person in people.iter_mut() {
        person.sync().await;
    }
}

#[tokio::test(start_paused = true)]
async fn four_members_each_read_everyone_once_in_each_senders_order() {
    let network = MemoryNetwork::new(2, 7, Faults::default());
    let mut people = club(&network).await;
    let members = people[0].device.group_members("club").unwrap();
    let names: Vec<(&str, Role, bool)> = members
        .iter()
        .map(|m| (m.name.as_str(), m.role, m.you))
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&("Ann", Role::Owner, true)));
    assert!(names.contains(&("Dan", Role::Member, false)));
    assert_eq!(people[2].device.groups().unwrap()[0].members, 4);
    assert!(people[2]
        .device
        .contacts()
        .unwrap()
        .iter()
        .all(|c| c.alias != "club"));

    for round in 0..3 {
        for person in people.iter_mut() {
            let text = format!("{} {round}", person.name);
            person.device.send("club", &text, None).await.unwrap();
        }
    }
    sync_all(&mut people).await;
    for reader in &people {
        let received = group_texts(reader);
        assert_eq!(received.len(), 9, "{}: {received:?}", reader.name);
        for sender in people.iter().filter(|p| p.name != reader.name) {
            let theirs: Vec<&String> = received
                .iter()
                .filter(|m| m.starts_with(&format!("{}:", sender.name)))
                .collect();
            let expected: Vec<String> = (0..3)
                .map(|r| format!("{0}: {0} {r}", sender.name))
                .collect();
            assert_eq!(
                theirs,
                expected.iter().collect::<Vec<_>>(),
                "at {}",
                reader.name
            );
        }
    }
    assert_no_trouble(&people.iter().collect::<Vec<_>>());

    // No host holds a text, a display name or the group's name.
    let stored: Vec<Vec<u8>> = (0..2)
        .flat_map(|relay| network.stored(&network.relay(relay)))
        .collect();
    assert!(stored.len() > 4, "the hosts hold the mailboxes");
    for relay in 0..2 {
        for value in network.stored(&network.relay(relay)) {
            for secret in ["club", "Ann 0", "Dan 2", "Bob", "Cat"] {
                assert!(
                    !value.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "relay {relay} holds {secret:?}"
                );
            }
        }
    }
}

/// Twelve: past four members a Welcome, past six a commit, is too big for one message.
const TWELVE: [&str; 12] = [
    "Ann", "Bob", "Cat", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jay", "Kim", "Lea",
];

#[tokio::test(start_paused = true)]
async fn twelve_members_join_by_welcomes_and_commits_sent_as_file_objects() {
    let network = MemoryNetwork::new(2, 17, Faults::default());
    let mut people = club_of(&network, &TWELVE).await;
    // The eleven answers waiting when Ann read went in one commit with one Welcome.
    let club = people[0]
        .device
        .store()
        .conversation("club")
        .unwrap()
        .unwrap();
    let group = sotto_client::conversation::mls::load_group(
        &people[0].device.store().provider(),
        &club.group_id,
    )
    .unwrap();
    assert_eq!(group.epoch().as_u64(), 1, "one add commit for all eleven");
    for person in &people {
        assert_eq!(
            person.device.groups().unwrap()[0].members,
            12,
            "{}",
            person.name
        );
    }
    people[11]
        .device
        .send("club", "hello from twelve", None)
        .await
        .unwrap();
    sync_all(&mut people).await;
    for reader in &people[..11] {
        assert_eq!(
            group_texts(reader),
            ["Lea: hello from twelve"],
            "{}",
            reader.name
        );
    }
    // A removal of a large group is a large commit too: every other member applies it at its
    // place, and the removed one reads nothing sent after.
    people[0]
        .device
        .remove_from_group("club", "Kim")
        .await
        .unwrap();
    people[0]
        .device
        .send("club", "Kim is gone", None)
        .await
        .unwrap();
    sync_all(&mut people).await;
    assert!(
        people[10].events.contains(&Event::Removed {
            alias: "club".into()
        }),
        "{:?}",
        people[10].events
    );
    assert_eq!(group_texts(&people[10]), ["Lea: hello from twelve"]);
    for (n, reader) in people.iter().enumerate().skip(1) {
        if n != 10 {
            assert_eq!(
                reader.device.groups().unwrap()[0].members,
                11,
                "{}",
                reader.name
            );
            assert_eq!(
                group_texts(reader).last().map(String::as_str),
                Some("Ann: Kim is gone"),
                "{}",
                reader.name
            );
        }
    }
    let others: Vec<&Person> = people
        .iter()
        .enumerate()
        .filter(|(n, _)| *n != 10)
        .map(|(_, p)| p)
        .collect();
    assert_no_trouble(&others);
    // Every reader said it had each Welcome and commit, so the hosts let them go: all but the
    // removal's, which counts Kim among its readers, whose reader went with the removal; it
    // waits out its lifetime (docs/protocol.md §20.7).
    let files: u64 = (0..2)
        .map(|relay| network.host_stats(&network.relay(relay)).files)
        .sum();
    assert_eq!(files, 1);
    // Nothing the hosts hold names the group, its members or what they said.
    for relay in 0..2 {
        for value in network.stored(&network.relay(relay)) {
            for secret in ["club", "hello from twelve", "Kim is gone", "Kim", "Lea"] {
                assert!(
                    !value.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "relay {relay} holds {secret:?}"
                );
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_listening_member_meets_a_large_commit_in_its_pushes_and_applies_it_in_place() {
    let network = MemoryNetwork::new(2, 19, Faults::default());
    let mut people = club_of(&network, &TWELVE[..10]).await;
    let (ann, others) = people.split_first_mut().unwrap();
    let bob = &mut others[0];
    bob.listen().await;
    // A ten-member group's removal commit is over one message: Bob's pushes bring its
    // record, then the text; the text waits until the commit is fetched and applied.
    ann.device.remove_from_group("club", "Hal").await.unwrap();
    ann.device.send("club", "after Hal", None).await.unwrap();
    settle(bob, ann).await;
    assert_eq!(group_texts(bob), ["Ann: after Hal"]);
    assert_eq!(bob.device.groups().unwrap()[0].members, 9);
    assert_no_trouble(&[&*bob]);
}

#[tokio::test(start_paused = true)]
async fn a_removed_member_reads_nothing_sent_after_and_an_offline_one_catches_up() {
    let network = MemoryNetwork::new(2, 11, Faults::default());
    let mut people = club(&network).await;
    let (ann, others) = people.split_first_mut().unwrap();
    // Dan is away through three commits.
    ann.device
        .set_group_role("club", "Bob", Role::Admin)
        .await
        .unwrap();
    ann.device
        .set_group_role("club", "Cat", Role::Observer)
        .await
        .unwrap();
    ann.device.remove_from_group("club", "Cat").await.unwrap();
    ann.device.send("club", "Cat is gone", None).await.unwrap();
    others[0].device.send("club", "indeed", None).await.unwrap();
    for other in others.iter_mut() {
        other.sync().await;
    }
    let (bob, cat, dan) = (&others[0], &others[1], &others[2]);
    assert!(
        cat.events.contains(&Event::Removed {
            alias: "club".into()
        }),
        "{:?}",
        cat.events
    );
    assert!(group_texts(cat).is_empty(), "{:?}", group_texts(cat));
    assert_eq!(group_texts(bob), ["Ann: Cat is gone"]);
    assert_eq!(group_texts(dan), ["Ann: Cat is gone", "Bob: indeed"]);
    let members = dan.device.group_members("club").unwrap();
    assert!(members.contains(&GroupMember {
        name: "Bob".into(),
        role: Role::Admin,
        you: false
    }));
    assert_eq!(members.len(), 3);
    assert!(others[1]
        .device
        .send("club", "still here?", None)
        .await
        .is_err());
    assert_no_trouble(&[&people[0], &people[1], &people[3]]);
}

#[tokio::test(start_paused = true)]
async fn an_observers_device_refuses_its_message_and_a_members_refuses_an_add() {
    let network = MemoryNetwork::new(2, 13, Faults::default());
    let mut people = club(&network).await;
    people[0]
        .device
        .set_group_role("club", "Dan", Role::Observer)
        .await
        .unwrap();
    // Dan's device learns his role as it catches up before writing, and refuses; a modified
    // client's message is rejected by every member (`group::tests`, in-process).
    let refused = people[3].device.send("club", "I only watch", None).await;
    assert!(
        matches!(refused, Err(sotto_client::ConversationError::Observer(_))),
        "{refused:?}"
    );
    // A plain member's device refuses to add (a modified one's commit is rejected by every
    // member: `group::tests`, in-process).
    let refused = people[2]
        .device
        .invite_to_group("club", &["Ann"], Role::Member)
        .await;
    assert!(
        matches!(refused, Err(sotto_client::ConversationError::NotAllowed(_))),
        "{refused:?}"
    );
    sync_all(&mut people).await;
    for person in &people {
        assert!(group_texts(person).is_empty(), "{}", person.name);
    }
}

#[tokio::test(start_paused = true)]
async fn two_admins_committing_at_once_both_get_their_change() {
    let network = MemoryNetwork::new(2, 17, Faults::default());
    let mut people = club(&network).await;
    people[0]
        .device
        .set_group_role("club", "Bob", Role::Admin)
        .await
        .unwrap();
    people[1].sync().await;
    let (ann, rest) = people.split_first_mut().unwrap();
    let bob = &mut rest[0];
    // Both catch up, then commit in the same epoch; the host's order makes one win and the
    // other commit again on the next epoch (seen to happen with this seed: seven commits
    // staged in the whole test for six changes).
    let (by_ann, by_bob) = tokio::join!(
        ann.device.set_group_role("club", "Cat", Role::Admin),
        bob.device.set_group_role("club", "Dan", Role::Observer),
    );
    by_ann.unwrap();
    by_bob.unwrap();
    sync_all(&mut people).await;
    for person in &people {
        let members = person.device.group_members("club").unwrap();
        let role = |name: &str| members.iter().find(|m| m.name == name).unwrap().role;
        assert_eq!(role("Cat"), Role::Admin, "at {}", person.name);
        assert_eq!(role("Dan"), Role::Observer, "at {}", person.name);
    }
    assert_no_trouble(&people.iter().collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn two_admins_crossing_large_commits_both_get_their_change_by_the_hosts_order() {
    let network = MemoryNetwork::new(2, 23, Faults::default());
    let mut people = club_of(&network, &TWELVE[..10]).await;
    people[0]
        .device
        .set_group_role("club", "Bob", Role::Admin)
        .await
        .unwrap();
    people[1].sync().await;
    let (ann, rest) = people.split_first_mut().unwrap();
    let bob = &mut rest[0];
    // Removals from ten members are file objects behind records; the first record in the
    // host's order wins the epoch, and the other admin removes again on the next one.
    let (by_ann, by_bob) = tokio::join!(
        ann.device.remove_from_group("club", "Hal"),
        bob.device.remove_from_group("club", "Ivy"),
    );
    by_ann.unwrap();
    by_bob.unwrap();
    sync_all(&mut people).await;
    let stayed: Vec<&Person> = people
        .iter()
        .filter(|p| p.name != "Hal" && p.name != "Ivy")
        .collect();
    for person in &stayed {
        let members = person.device.group_members("club").unwrap();
        assert_eq!(members.len(), 8, "at {}: {members:?}", person.name);
        assert!(members.iter().all(|m| m.name != "Hal" && m.name != "Ivy"));
    }
    assert_no_trouble(&stayed);
}

#[tokio::test(start_paused = true)]
async fn a_member_who_leaves_is_removed_by_the_owners_device() {
    let network = MemoryNetwork::new(2, 19, Faults::default());
    let mut people = club(&network).await;
    people[2].device.leave_group("club").await.unwrap();
    assert!(people[2].device.groups().unwrap().is_empty());
    sync_all(&mut people).await;
    sync_all(&mut people).await;
    for person in [&people[0], &people[1], &people[3]] {
        let members = person.device.group_members("club").unwrap();
        assert_eq!(members.len(), 3, "at {}: {members:?}", person.name);
        assert!(members.iter().all(|m| m.name != "Cat"));
    }
    people[1]
        .device
        .send("club", "bye Cat", None)
        .await
        .unwrap();
    sync_all(&mut people).await;
    assert_eq!(group_texts(&people[3]), ["Bob: bye Cat"]);
    assert_no_trouble(&[&people[0], &people[1], &people[3]]);
}

#[tokio::test(start_paused = true)]
async fn a_file_to_a_group_is_one_upload_every_member_fetches_and_then_it_goes() {
    let network = MemoryNetwork::new(2, 23, Faults::default());
    let mut people = club(&network).await;
    let source = people[0].path("notes.txt");
    std::fs::write(&source, "minutes of the meeting".repeat(2000)).unwrap();
    let file = sotto_client::FileToSend {
        path: &source,
        kind: sotto_proto::file_offer::FileKind::File,
        caption: "the minutes",
        limit: sotto_client::DEFAULT_MAX_FILE_SIZE,
    };
    let id = people[0]
        .device
        .send_file("club", file, &mut |_, _| true)
        .await
        .unwrap();
    let files = |network: &MemoryNetwork| -> u64 {
        (0..2)
            .map(|r| network.host_stats(&network.relay(r)).files)
            .sum()
    };
    assert_eq!(files(&network), 1, "one upload for the whole group");
    for person in people.iter_mut().skip(1) {
        person.sync().await;
        let out = person.path("minutes.txt");
        person
            .device
            .download(&id, &out, &mut |_, _| true)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(&source).unwrap()
        );
        let messages = person.device.records().messages("club").unwrap();
        assert_eq!(messages[0].sender.as_deref(), Some("Ann"));
    }
    assert_eq!(files(&network), 0, "gone once its three recipients had it");
}
