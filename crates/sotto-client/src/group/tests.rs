//! Groups without a network: member devices' stores, and one group mailbox as a log every
//! member applies in the same order, as the host would serve it.

use ed25519_dalek::SigningKey;
use sotto_proto::conversation::Content;
use sotto_proto::group::{Role, Roster};
use sotto_proto::{Fingerprint, Id, Message};

use super::commit::{current_roster, stage, stage_checked, Edit, Joiner};
use super::start::{found, join, key_package};
use crate::conversation::apply::{apply, Applied};
use crate::conversation::mls::{self, their_key_package};
use crate::conversation::seal::seal;
use crate::conversation::ConversationError;
use crate::store::{Conversation, Store};
use crate::{ContentKey, ReadCap, WriteCap};

struct Device {
    name: &'static str,
    store: Store,
    number: i64,
    /// How much of the log this device applied.
    read: usize,
}

/// A group mailbox: what was written, in the host's order, and the member devices.
struct Group {
    log: Vec<Vec<u8>>,
    devices: Vec<Device>,
    write: WriteCap,
}

fn cap_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

fn record(store: &Store, group_id: &[u8], write: &WriteCap, read: ReadCap) -> i64 {
    let host = Fingerprint::from_bytes([7; 32]);
    store
        .add_conversation(group_id, "club", "club", &host, write, &read)
        .unwrap();
    let number = store.conversation("club").unwrap().unwrap().number;
    store.mark_group(number).unwrap();
    number
}

fn read_cap(write: &WriteCap) -> ReadCap {
    ReadCap {
        id: Id::from_bytes(rand::random()),
        key: cap_key(),
        content: write.content.clone(),
    }
}

impl Group {
    /// A group founded by `owner`.
    fn found(owner: &'static str) -> Self {
        let store = Store::open_in_memory().unwrap();
        let write = WriteCap {
            id: Id::from_bytes(rand::random()),
            key: cap_key(),
            content: ContentKey::random(),
        };
        let read = read_cap(&write);
        let group_id = found(&store, "club", owner, read.id).unwrap();
        let number = record(&store, &group_id, &write, read);
        Self {
            log: Vec::new(),
            devices: vec![Device {
                name: owner,
                store,
                number,
                read: 0,
            }],
            write,
        }
    }

    fn at(&self, name: &str) -> usize {
        self.devices.iter().position(|d| d.name == name).unwrap()
    }

    fn conversation(&self, name: &str) -> Conversation {
        let device = &self.devices[self.at(name)];
        device.store.conversation_by_number(device.number).unwrap()
    }

    fn roster(&self, name: &str) -> Roster {
        let device = &self.devices[self.at(name)];
        current_roster(&device.store, &self.conversation(name))
            .unwrap()
            .0
    }

    fn epoch(&self, name: &str) -> u64 {
        let device = &self.devices[self.at(name)];
        mls::load_group(&device.store.provider(), &self.conversation(name).group_id)
            .unwrap()
            .epoch()
            .as_u64()
    }

    fn identity(&self, name: &str) -> Vec<u8> {
        let roster = self.roster(name);
        roster
            .members
            .iter()
            .find(|m| m.name == name)
            .unwrap()
            .identity
            .clone()
    }

    /// `by` stages a commit adding a new device `name` with `role` (as `device::groups` does,
    /// less the network), written to the log; the joiner joins from its Welcome once the
    /// commit is applied by everyone.
    fn add(&mut self, by: &str, name: &'static str, role: Role) {
        let store = Store::open_in_memory().unwrap();
        let (package, _) = key_package(&store).unwrap();
        let read = read_cap(&self.write);
        let adder = self.at(by);
        let package = their_key_package(&self.devices[adder].store.provider(), &package).unwrap();
        let joiner = Joiner {
            key_package: package,
            role,
            name: name.into(),
            read_id: read.id,
        };
        let staged = stage(
            &self.devices[adder].store,
            &self.conversation(by),
            Edit::Add(vec![joiner]),
        )
        .unwrap();
        self.log.push(staged.wire);
        let from = self.log.len() - 1;
        self.deliver_all();
        let (group_id, roster) = join(&store, &staged.welcome.unwrap(), &read.id).unwrap();
        assert_eq!(
            roster.member(&roster_identity(&roster, name)).unwrap().role,
            role
        );
        let number = record(&store, &group_id, &self.write, read);
        // Its reader was added before the commit was written: it reads the commit too.
        self.devices.push(Device {
            name,
            store,
            number,
            read: from,
        });
        self.deliver_all();
    }

    /// `by` seals a text with id `id` and writes it.
    fn send(&mut self, by: &str, id: u8, text: &str) {
        let device = &self.devices[self.at(by)];
        let content = Content::Text {
            id: [id; 16],
            sent_at_ms: 1,
            reply_to: None,
            text: text.into(),
        }
        .encode()
        .unwrap();
        let wire = seal(&device.store, &self.conversation(by), content, |store| {
            store
                .add_message(device.number, &[id; 16], true, text, None, 1)
                .map(|_| ())
        })
        .unwrap();
        self.log.push(wire);
    }

    /// `name` applies what it has not applied of the log; returns what each message did.
    fn deliver(&mut self, name: &str) -> Vec<Applied> {
        let at = self.at(name);
        let conversation = self.conversation(name);
        let device = &mut self.devices[at];
        let mut applied = Vec::new();
        while device.read < self.log.len() {
            let message = Message {
                seq: device.read as u64 + 1,
                written_at: 0,
                body: self.log[device.read].clone(),
            };
            device.read += 1;
            let current = device
                .store
                .conversation_by_number(conversation.number)
                .unwrap();
            applied.push(apply(&device.store, &current, &message).unwrap());
        }
        applied
    }

    fn deliver_all(&mut self) -> Vec<(&'static str, Vec<Applied>)> {
        let names: Vec<&'static str> = self.devices.iter().map(|d| d.name).collect();
        names
            .into_iter()
            .map(|name| (name, self.deliver(name)))
            .collect()
    }

    /// The texts `name` received, as "sender: text", in the order applied.
    fn received(&self, name: &str) -> Vec<String> {
        let device = &self.devices[self.at(name)];
        device
            .store
            .messages("club")
            .unwrap()
            .into_iter()
            .filter(|m| !m.outgoing)
            .map(|m| format!("{}: {}", m.sender.unwrap_or_default(), m.text))
            .collect()
    }
}

fn roster_identity(roster: &Roster, name: &str) -> Vec<u8> {
    roster
        .members
        .iter()
        .find(|m| m.name == name)
        .unwrap()
        .identity
        .clone()
}

fn rejected(applied: &[Applied]) -> bool {
    applied.iter().any(|a| matches!(a, Applied::Rejected(_)))
}

fn four() -> Group {
    let mut group = Group::found("Ann");
    group.add("Ann", "Bob", Role::Admin);
    group.add("Ann", "Cat", Role::Member);
    group.add("Bob", "Dan", Role::Observer);
    group
}

#[test]
fn four_members_read_each_other_in_each_senders_order() {
    let mut group = four();
    let names = ["Ann", "Bob", "Cat"];
    for round in 0..3u8 {
        for (n, name) in names.iter().enumerate() {
            group.send(name, round * 10 + n as u8, &format!("{name} {round}"));
        }
    }
    group.deliver_all();
    for reader in ["Ann", "Bob", "Cat", "Dan"] {
        let received = group.received(reader);
        for sender in names.iter().filter(|s| **s != reader) {
            let theirs: Vec<&String> = received
                .iter()
                .filter(|m| m.starts_with(&format!("{sender}:")))
                .collect();
            let expected: Vec<String> = (0..3).map(|r| format!("{sender}: {sender} {r}")).collect();
            assert_eq!(theirs, expected.iter().collect::<Vec<_>>(), "{reader}");
        }
        assert_eq!(received.len(), if reader == "Dan" { 9 } else { 6 });
    }
    let epochs: Vec<u64> = ["Ann", "Bob", "Cat", "Dan"]
        .iter()
        .map(|n| group.epoch(n))
        .collect();
    assert!(epochs.windows(2).all(|w| w[0] == w[1]), "{epochs:?}");
    let roster = group.roster("Dan");
    let roles: Vec<(String, Role)> = ["Ann", "Bob", "Cat", "Dan"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                roster.member(&roster_identity(&roster, n)).unwrap().role,
            )
        })
        .collect();
    assert_eq!(
        roles.iter().map(|(_, r)| *r).collect::<Vec<_>>(),
        [Role::Owner, Role::Admin, Role::Member, Role::Observer]
    );
}

#[test]
fn an_observers_message_and_a_plain_members_add_are_rejected_by_everyone() {
    // Three, so that a fourth's Welcome fits one message.
    let mut group = Group::found("Ann");
    group.add("Ann", "Cat", Role::Member);
    group.add("Ann", "Dan", Role::Observer);
    group.send("Dan", 1, "I am only watching");
    let applied = group.deliver_all();
    for (name, applied) in &applied {
        if *name != "Dan" {
            assert!(rejected(applied), "{name}: {applied:?}");
            assert!(group.received(name).is_empty(), "{name}");
        }
    }
    // Cat's client refuses, and a modified one's commit is refused by everyone else.
    let cat = group.at("Cat");
    let store = Store::open_in_memory().unwrap();
    let (package, _) = key_package(&store).unwrap();
    let joiner = || Joiner {
        key_package: their_key_package(&group.devices[cat].store.provider(), &package).unwrap(),
        role: Role::Member,
        name: "Eve".into(),
        read_id: Id::from_bytes([9; 24]),
    };
    let refused = stage(
        &group.devices[cat].store,
        &group.conversation("Cat"),
        Edit::Add(vec![joiner()]),
    );
    assert!(matches!(refused, Err(ConversationError::NotAllowed(_))));
    let epoch = group.epoch("Ann");
    let rogue = stage_checked(
        &group.devices[cat].store,
        &group.conversation("Cat"),
        Edit::Add(vec![joiner()]),
        false,
    )
    .unwrap();
    group.log.push(rogue.wire);
    for (name, applied) in group.deliver_all() {
        if name != "Cat" {
            assert!(rejected(&applied), "{name}: {applied:?}");
        }
    }
    for name in ["Ann", "Dan"] {
        assert_eq!(group.epoch(name), epoch, "{name}'s epoch stays");
        assert_eq!(group.roster(name).members.len(), 3);
    }
    // The next valid commit wins the epoch.
    let dan = group.identity("Dan");
    let staged = stage(
        &group.devices[group.at("Ann")].store,
        &group.conversation("Ann"),
        Edit::Role(dan.clone(), Role::Member),
    )
    .unwrap();
    group.log.push(staged.wire);
    group.deliver_all();
    for name in ["Ann", "Dan"] {
        assert_eq!(group.epoch(name), epoch + 1, "{name}");
        assert_eq!(group.roster(name).member(&dan).unwrap().role, Role::Member);
    }
}

#[test]
fn a_removed_member_reads_nothing_sent_after() {
    let mut group = four();
    let cat = group.identity("Cat");
    let staged = stage(
        &group.devices[group.at("Bob")].store,
        &group.conversation("Bob"),
        Edit::Remove(vec![cat]),
    )
    .unwrap();
    group.log.push(staged.wire);
    let applied = group.deliver_all();
    let cat_applied = &applied.iter().find(|(n, _)| *n == "Cat").unwrap().1;
    assert_eq!(cat_applied.as_slice(), [Applied::Removed]);
    assert!(group.conversation("Cat").removed);
    group.send("Ann", 1, "after Cat left");
    let applied = group.deliver_all();
    let cat_applied = &applied.iter().find(|(n, _)| *n == "Cat").unwrap().1;
    assert_eq!(cat_applied.as_slice(), [Applied::Ended]);
    assert!(group.received("Cat").is_empty());
    assert_eq!(group.received("Bob"), ["Ann: after Cat left"]);
    assert_eq!(group.roster("Dan").members.len(), 3);
}

#[test]
fn of_two_admins_committing_at_once_the_first_wins_and_the_other_commits_again() {
    let mut group = four();
    let (cat, dan) = (group.identity("Cat"), group.identity("Dan"));
    let epoch = group.epoch("Ann");
    let by_ann = stage(
        &group.devices[group.at("Ann")].store,
        &group.conversation("Ann"),
        Edit::Role(cat.clone(), Role::Admin),
    )
    .unwrap();
    let bobs_edit = || Edit::Role(dan.clone(), Role::Member);
    let by_bob = stage(
        &group.devices[group.at("Bob")].store,
        &group.conversation("Bob"),
        bobs_edit(),
    )
    .unwrap();
    group.log.push(by_ann.wire);
    group.log.push(by_bob.wire);
    group.deliver_all();
    for name in ["Ann", "Bob", "Cat", "Dan"] {
        assert_eq!(group.epoch(name), epoch + 1, "{name}");
        let roster = group.roster(name);
        assert_eq!(roster.member(&cat).unwrap().role, Role::Admin);
        assert_eq!(
            roster.member(&dan).unwrap().role,
            Role::Observer,
            "Bob's lost"
        );
    }
    let again = stage(
        &group.devices[group.at("Bob")].store,
        &group.conversation("Bob"),
        bobs_edit(),
    )
    .unwrap();
    group.log.push(again.wire);
    group.deliver_all();
    for name in ["Ann", "Bob", "Cat", "Dan"] {
        assert_eq!(group.epoch(name), epoch + 2, "{name}");
        assert_eq!(group.roster(name).member(&dan).unwrap().role, Role::Member);
    }
}

#[test]
fn a_member_offline_through_three_commits_catches_up() {
    let mut group = four();
    let dan = group.at("Dan");
    let (bob, cat) = (group.identity("Bob"), group.identity("Cat"));
    let ann = group.at("Ann");
    let before = group.epoch("Dan");
    let names: Vec<&'static str> = vec!["Ann", "Bob", "Cat"];
    let commits = [
        Edit::Role(cat.clone(), Role::Admin),
        Edit::Rename {
            name: "club".into(),
            description: "Thursdays".into(),
        },
        Edit::Role(bob.clone(), Role::Member),
    ];
    for (n, edit) in commits.into_iter().enumerate() {
        let staged = stage(&group.devices[ann].store, &group.conversation("Ann"), edit).unwrap();
        group.log.push(staged.wire);
        for name in &names {
            group.deliver(name);
        }
        group.send("Cat", n as u8, &format!("between {n}"));
        for name in &names {
            group.deliver(name);
        }
    }
    assert_eq!(group.devices[dan].read + 6, group.log.len());
    group.deliver("Dan");
    assert_eq!(group.epoch("Dan"), before + 3);
    assert_eq!(group.epoch("Dan"), group.epoch("Ann"));
    let roster = group.roster("Dan");
    assert_eq!(roster.description, "Thursdays");
    assert_eq!(roster.member(&bob).unwrap().role, Role::Member);
    assert_eq!(
        group.received("Dan"),
        ["Cat: between 0", "Cat: between 1", "Cat: between 2"]
    );
}

#[test]
fn only_its_sender_edits_a_group_message() {
    let mut group = four();
    group.send("Cat", 1, "mine");
    group.deliver_all();
    let bob = group.at("Bob");
    let forged = Content::Edit {
        target: [1; 16],
        text: "yours now".into(),
    }
    .encode()
    .unwrap();
    let wire = seal(
        &group.devices[bob].store,
        &group.conversation("Bob"),
        forged,
        |_| Ok(()),
    )
    .unwrap();
    group.log.push(wire);
    let applied = group.deliver("Ann");
    assert!(rejected(&applied), "{applied:?}");
    assert_eq!(group.received("Ann"), ["Cat: mine"]);
}

/// The sizes a group's MLS messages reach with X-Wing keys, to 30 members (see
/// docs/performance.md; `sotto bench group` measures larger groups).
#[test]
#[ignore = "prints sizes; run with --ignored --nocapture"]
fn group_message_sizes() {
    let mut group = Group::found("m0");
    for n in 1..30 {
        let store = Store::open_in_memory().unwrap();
        let (package, _) = key_package(&store).unwrap();
        let owner = &group.devices[0];
        let joiner = Joiner {
            key_package: their_key_package(&owner.store.provider(), &package).unwrap(),
            role: Role::Member,
            name: format!("m{n}"),
            read_id: Id::from_bytes([1; 24]),
        };
        let members = group.roster("m0").members.len() + 1;
        match stage(
            &owner.store,
            &group.conversation("m0"),
            Edit::Add(vec![joiner]),
        ) {
            Ok(staged) => {
                println!(
                    "members {members:>3}: add commit {:>6} B, welcome {:>6} B, key package {} B",
                    staged.wire.len(),
                    staged.welcome.map_or(0, |w| w.len()),
                    package.len()
                );
                group.log.push(staged.wire);
                group.deliver("m0");
            }
            Err(error) => {
                println!("members {members:>3}: {error}");
                return;
            }
        }
    }
}

/// A record of a large message whose object no device could fetch (gone, altered, not what
/// its digest binds: `Device::resolve_mls_objects` leaves it in place) is rejected by every
/// member alike where it stands, and the group goes on in the same epoch.
#[test]
fn a_large_message_record_left_unfetched_is_rejected_by_everyone_alike() {
    use sotto_proto::file_offer::{ChunkHost, FileKind, FileOffer};
    use sotto_proto::mls_object::MlsObject;

    let mut group = four();
    let epoch = group.epoch("Cat");
    let record = MlsObject {
        offer: FileOffer {
            id: [7; 16],
            sent_at_ms: 0,
            kind: FileKind::File,
            name: String::new(),
            size: 20_000,
            key: [1; 32],
            digest: [2; 32],
            hosts: vec![ChunkHost {
                host: Fingerprint::from_bytes([3; 32]),
                read_id: Id::from_bytes([4; 24]),
                read_key: [5; 32],
            }],
            caption: String::new(),
            media: None,
        },
    }
    .encode()
    .unwrap();
    group.log.push(record);
    for (name, applied) in group.deliver_all() {
        assert!(rejected(&applied), "{name}: {applied:?}");
    }
    assert_eq!(group.epoch("Cat"), epoch);
    group.send("Bob", 1, "after it");
    group.deliver_all();
    assert_eq!(group.received("Cat"), ["Bob: after it"]);
}
