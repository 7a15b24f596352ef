//! Curious relays: after a scenario (three people, two conversations made from one-time links,
//! a relay SIGKILLed and restarted in the middle, the last texts left unread at their hosts),
//! every relay's whole data directory, its log
//! at trace level and what it recorded seeing (a `test-view` build) are read and checked
//! against the "who learns what" table of DESIGN.md, role by role:
//!
//! - gateway: learns a client's address, never a mailbox or link that client reaches through
//!   it;
//! - mix: learns the previous and next relay, nothing else;
//! - mailbox host: learns that a mailbox exists and is used, never who uses it (no address);
//! - every role: no content, names or link keys anywhere, and no id or client address in logs.
//!
//! What is checked is what each relay records and can read, role by role. A relay that is one
//! person's gateway and also hosts, for another of their connections, one of their mailboxes
//! holds both an address and an id of the same person, unlinked: tying them together would take
//! timing correlation, which the table leaves to mixing mode and cover traffic.
//!
//! Run with `cargo test -p sotto-cli --features test-view --test curious_relays` (CI does).
#![cfg(feature = "test-view")]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use sotto_client::{init, Device, Unlock};
use sotto_proto::{Fingerprint, Id};
use sotto_testnet::scan::{contains, files_under};
use sotto_testnet::{RelayProcess, TestLocalnet};

const RELAYS: usize = 5;
const PEOPLE: [&str; 3] = ["Wilhelmina Quux", "Bartholomew Zed", "Cordelia Yarrow"];

/// What one person used, for telling whether a relay learnt it.
#[derive(Default)]
struct Footprint {
    /// Each mailbox or link id, with the relay that hosts it.
    ids: HashSet<(Fingerprint, Id)>,
    /// Each connection: the host it reaches and the address its entry relay sees.
    connections: Vec<(Fingerprint, String)>,
}

impl Footprint {
    fn addresses(&self) -> impl Iterator<Item = &String> {
        self.connections.iter().map(|(_, address)| address)
    }

    /// The ids this person reaches through the connection from `address`.
    fn ids_through(&self, address: &str) -> Vec<Id> {
        let hosts: Vec<&Fingerprint> = self
            .connections
            .iter()
            .filter(|(_, a)| a == address)
            .map(|(host, _)| host)
            .collect();
        self.ids
            .iter()
            .filter(|(host, _)| hosts.contains(&host))
            .map(|(_, id)| *id)
            .collect()
    }
}

/// Everything of a relay a curious operator can read.
struct Relay {
    view: Vec<String>,
    /// The data directory without the test hooks' own files.
    stored: Vec<(String, Vec<u8>)>,
    wire: Vec<u8>,
    log: String,
}

impl Relay {
    fn read(root: &Path, index: usize) -> Self {
        let dir = root.join(format!("relay-{index}"));
        let hook = |name: &str| name.ends_with("view.log") || name.ends_with("wire.cap");
        Self {
            view: std::fs::read_to_string(dir.join("view.log"))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect(),
            stored: files_under(&dir)
                .into_iter()
                .filter(|(name, _)| !hook(name))
                .collect(),
            wire: std::fs::read(dir.join("wire.cap")).unwrap_or_default(),
            log: std::fs::read_to_string(root.join(format!("relay-{index}.log"))).unwrap(),
        }
    }

    fn saw(&self, prefix: &str) -> HashSet<String> {
        self.view
            .iter()
            .filter_map(|line| line.strip_prefix(prefix))
            .map(str::to_string)
            .collect()
    }

    /// Whether `needle` is anywhere in what the relay kept or logged.
    fn holds(&self, needle: &[u8]) -> bool {
        self.stored.iter().any(|(_, bytes)| contains(bytes, needle))
            || contains(self.log.as_bytes(), needle)
            || contains(&self.wire, needle)
            || self.view.iter().any(|l| contains(l.as_bytes(), needle))
    }
}

fn id_forms(id: &Id) -> [Vec<u8>; 2] {
    [id.as_bytes().to_vec(), id.to_hex().into_bytes()]
}

/// One round of texts along both conversations; returns what was sent.
async fn talk(people: &mut [Device], round: usize) -> Vec<String> {
    let lines = [
        (
            0,
            PEOPLE[1],
            format!("alice whispers secret {round} to bob"),
        ),
        (1, PEOPLE[0], format!("bob answers secret {round} to alice")),
        (1, PEOPLE[2], format!("bob tells carol secret {round}")),
        (2, PEOPLE[1], format!("carol replies secret {round}")),
    ];
    for (from, to, text) in &lines {
        people[*from].send(to, text, None).await.unwrap();
    }
    lines.into_iter().map(|(_, _, text)| text).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_relay_learns_more_than_its_role_allows() {
    let binary = Path::new(env!("CARGO_BIN_EXE_sotto"));
    let env = [("SOTTO_LOG", "trace")];
    let (net, mut relays) = TestLocalnet::start_with(binary, RELAYS, 86_400, &env).into_processes();
    let homes = std::env::temp_dir().join(format!("sotto-curious-{:016x}", rand::random::<u64>()));
    let mut people: Vec<Device> = PEOPLE
        .iter()
        .map(|name| {
            let home = homes.join(&name[..1]);
            init(&home, name, &Unlock::KeyFile).unwrap();
            Device::open(&home, &Unlock::KeyFile, net.directory().clone()).unwrap()
        })
        .collect();
    let mut footprints: Vec<Footprint> = (0..PEOPLE.len()).map(|_| Footprint::default()).collect();
    let mut secrets: Vec<Vec<u8>> = PEOPLE.iter().map(|n| n.as_bytes().to_vec()).collect();

    // Alice invites Bob, Bob invites Carol.
    for (inviter, invitee) in [(0, 1), (1, 2)] {
        let link = people[inviter].invite().await.unwrap();
        let invitation = people[inviter]
            .store()
            .invitations()
            .unwrap()
            .pop()
            .unwrap();
        footprints[inviter].ids.extend([
            (invitation.request_host, invitation.request.id),
            (link.host, link.id),
        ]);
        footprints[invitee].ids.insert((link.host, link.id));
        let text = link.to_string();
        let (_, key) = text.split_once('#').unwrap();
        secrets.extend([
            link.key.to_vec(),
            key.as_bytes().to_vec(),
            hex::encode(link.key).into_bytes(),
            text.clone().into_bytes(),
        ]);
        people[invitee]
            .connect(&link.to_string(), None)
            .await
            .unwrap();
        people[inviter].sync().await.unwrap();
    }
    let mut texts = talk(&mut people, 0).await;
    // A relay dies and comes back; what it kept across the crash is read too.
    let victim = rand::random::<usize>() % RELAYS;
    relays[victim].kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    relays[victim] = RelayProcess::start_with(
        binary,
        &net.root().join(format!("relay-{victim}")),
        &net.root().join("network.toml"),
        &net.root().join(format!("relay-{victim}.log")),
        &[("SOTTO_LOG".into(), "trace".into())],
    );
    for round in 1..4 {
        texts.extend(talk(&mut people, round).await);
    }
    for _ in 0..2 {
        for person in people.iter_mut() {
            person.sync().await.unwrap();
        }
    }
    let received: usize = people
        .iter()
        .map(|p| p.store().take_unshown(None).unwrap().len())
        .sum();
    assert_eq!(received, texts.len(), "the scenario delivered every text");
    // A last round nobody reads yet: it sits at its hosts while they are read.
    texts.extend(talk(&mut people, 4).await);
    for (person, footprint) in people.iter().zip(&mut footprints) {
        for conversation in person.store().conversations().unwrap() {
            footprint.ids.extend([
                (conversation.host, conversation.read.id),
                (conversation.host, conversation.write.id),
            ]);
        }
        footprint.connections = person
            .connections()
            .into_iter()
            // Everything runs on loopback; relays see clients at 127.0.0.1.
            .map(|(host, address)| (host, format!("127.0.0.1:{}", address.port())))
            .collect();
        assert!(!footprint.connections.is_empty());
    }
    secrets.extend(texts.iter().map(|t| t.as_bytes().to_vec()));
    drop(people);
    drop(relays);

    let relay_addresses: HashSet<String> = net
        .directory()
        .relays()
        .iter()
        .map(|r| format!("127.0.0.1:{}", r.address().port))
        .collect();
    let fingerprints: HashSet<String> = net
        .directory()
        .relays()
        .iter()
        .map(|r| r.fingerprint().to_string())
        .collect();
    let all_ids: Vec<Id> = footprints
        .iter()
        .flat_map(|f| f.ids.iter().map(|(_, id)| *id))
        .collect();
    let all_addresses: Vec<&String> = footprints.iter().flat_map(|f| f.addresses()).collect();
    let mut roles: HashMap<&str, usize> = HashMap::new();
    for index in 0..RELAYS {
        let relay = Relay::read(net.root(), index);
        assert!(relay.log.contains("TRACE") || relay.log.contains("DEBUG"));

        // Every role: no content, name or link key, in any form, anywhere.
        for secret in &secrets {
            assert!(
                !relay.holds(secret),
                "relay {index} holds plaintext, a name or a link key"
            );
        }
        // Logs: no mailbox or link id, no client address.
        for id in &all_ids {
            for form in id_forms(id) {
                assert!(
                    !contains(relay.log.as_bytes(), &form),
                    "relay {index} logged an id"
                );
            }
        }
        for address in &all_addresses {
            assert!(
                !relay.log.contains(address.as_str()),
                "relay {index} logged a client address"
            );
        }

        // Gateway: the clients it saw, and none of the ids they reached through it.
        let clients = relay.saw("client ");
        for (person, footprint) in footprints.iter().enumerate() {
            for address in footprint.addresses().filter(|a| clients.contains(*a)) {
                *roles.entry("gateway").or_default() += 1;
                for id in footprint.ids_through(address) {
                    for form in id_forms(&id) {
                        assert!(
                            !relay.holds(&form),
                            "relay {index}, gateway of {}, knows a mailbox or link they \
                             reach through it",
                            PEOPLE[person]
                        );
                    }
                }
            }
        }

        // Mix: packets from relays (clients come in as "client"), to relays.
        let from = relay.saw("from ");
        let to = relay.saw("to ");
        if !from.is_empty() {
            *roles.entry("mix").or_default() += 1;
        }
        assert!(
            from.is_subset(&relay_addresses),
            "relay {index} took a packet straight from a client: {:?}",
            from.difference(&relay_addresses).collect::<Vec<_>>()
        );
        assert!(
            to.is_subset(&fingerprints),
            "relay {index} sent a packet to something not a relay"
        );

        // Host: mailboxes, and no address of anyone who used them, in its store or anywhere.
        if !relay.saw("mailbox ").is_empty() {
            *roles.entry("host").or_default() += 1;
        }
        for address in &all_addresses {
            let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
            let mut raw = vec![127, 0, 0, 1];
            raw.extend_from_slice(&port.to_be_bytes());
            for (name, bytes) in &relay.stored {
                assert!(
                    !contains(bytes, address.as_bytes()) && !contains(bytes, &raw),
                    "relay {index} stored a client address in {name}"
                );
            }
        }
    }
    // The checks looked at relays that really played each role.
    for role in ["gateway", "mix", "host"] {
        assert!(
            roles.get(role).is_some_and(|n| *n > 0),
            "no relay was a {role}"
        );
    }
    std::fs::remove_dir_all(&homes).unwrap();
}
