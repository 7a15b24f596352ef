//! Who learns what, checked on what every relay of a localnet recorded (a `test-view` build):
//! no relay saw both a client's connection and a mailbox id that client used, and relays that
//! passed packets on saw only relays on either side.
//!
//! Run with `cargo test -p sotto-cli --features test-view --test view` (CI does).
#![cfg(feature = "test-view")]

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use sotto_client::MailboxOptions;
use sotto_proto::MailboxKind;
use sotto_testnet::TestLocalnet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_relay_sees_both_a_client_and_its_mailbox() {
    let net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    let renew = Duration::from_secs(3600);
    let alice = net.client(0, 4, renew).await;
    let bob = net.client(1, 4, renew).await;
    let for_alice = alice
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await
        .unwrap();
    let for_bob = bob
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await
        .unwrap();
    alice.subscribe(&for_alice.read).await.unwrap();
    for round in 0..5u8 {
        // Each writes to the other's mailbox with the capability handed over out of band.
        alice.write(&for_bob.write, &[round]).await.unwrap();
        bob.write(&for_alice.write, &[round]).await.unwrap();
        let push = tokio::time::timeout(Duration::from_secs(20), alice.next_push())
            .await
            .unwrap()
            .unwrap();
        alice.ack(&for_alice.read, push.message.seq).await.unwrap();
        let got = bob.fetch(&for_bob.read).await.unwrap();
        bob.ack(&for_bob.read, got.last().unwrap().seq)
            .await
            .unwrap();
    }

    let port = |transport: &sotto_client::OnionTransport| transport.local_addr().unwrap().port();
    let clients = [
        (
            port(alice.transport()),
            [for_alice.read.id, for_alice.write.id, for_bob.write.id],
        ),
        (
            port(bob.transport()),
            [for_bob.read.id, for_bob.write.id, for_alice.write.id],
        ),
    ];
    let relay_ports: HashSet<u16> = net
        .directory()
        .relays()
        .iter()
        .map(|r| r.address.port)
        .collect();
    drop((alice, bob));
    for index in 0..5 {
        let view = std::fs::read_to_string(net.root().join(format!("relay-{index}/view.log")))
            .unwrap_or_default();
        let saw = |prefix: &str| -> Vec<String> {
            view.lines()
                .filter_map(|l| l.strip_prefix(prefix))
                .map(str::to_string)
                .collect()
        };
        let port_of = |addr: &String| {
            addr.rsplit(':')
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .unwrap()
        };
        let client_ports: HashSet<u16> = saw("client ").iter().map(port_of).collect();
        let mailboxes: HashSet<String> = saw("mailbox ").into_iter().collect();
        for (client_port, ids) in &clients {
            if client_ports.contains(client_port) {
                for id in ids {
                    assert!(
                        !mailboxes.contains(&id.to_hex()),
                        "relay {index} saw a client and its mailbox"
                    );
                }
            }
        }
        for previous in saw("from ") {
            assert!(
                relay_ports.contains(&port_of(&previous)),
                "relay {index} got a packet straight from a client"
            );
        }
        let relays: HashSet<String> = net
            .directory()
            .relays()
            .iter()
            .map(|r| r.fingerprint().to_string())
            .collect();
        for next in saw("to ") {
            assert!(
                relays.contains(&next),
                "relay {index} sent a packet to something not a relay"
            );
        }
    }
    // The hosts did see the mailboxes, and the gateways the clients: the test looked at real views.
    let seen = |index: usize| {
        std::fs::read_to_string(net.root().join(format!("relay-{index}/view.log")))
            .unwrap_or_default()
    };
    assert!(seen(4).contains(&for_alice.read.id.to_hex()));
    assert!(seen(0).contains(&format!(":{}", clients[0].0)));
}

/// Every stream a relay read or wrote during a conversation (`DIR/wire.cap` of a test-view
/// build): direction, then the bytes.
fn captured(net: &TestLocalnet, relay: usize) -> Vec<(u8, Vec<u8>)> {
    let bytes = std::fs::read(net.root().join(format!("relay-{relay}/wire.cap"))).unwrap();
    let mut rest = &bytes[..];
    let mut streams = Vec::new();
    while let [direction, a, b, c, d, tail @ ..] = rest {
        let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
        streams.push((*direction, tail[..len].to_vec()));
        rest = &tail[len..];
    }
    streams
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_link_carries_one_packet_size_and_no_plaintext() {
    use sotto_onion::packet::{PACKET_LEN, PAYLOAD_LEN};
    use sotto_testnet::scan::contains;
    let net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    let homes = std::env::temp_dir().join(format!("sotto-wire-{:016x}", rand::random::<u64>()));
    let open = |name: &str| {
        let home = homes.join(name);
        sotto_client::init(&home, name).unwrap();
        sotto_client::Device::open(&home, net.directory().clone()).unwrap()
    };
    let (alice_name, bob_name) = ("Wilhelmina Quux", "Bartholomew Zed");
    let mut alice = open(alice_name);
    let mut bob = open(bob_name);
    let link = alice.invite().await.unwrap();
    bob.connect(&link.to_string(), None).await.unwrap();
    alice.sync().await.unwrap();
    let texts = ["x".to_string(), "a longer secret sentence ".repeat(100)];
    for text in &texts {
        bob.send(alice_name, text, None).await.unwrap();
        alice
            .send(bob_name, &format!("re: {text}"), None)
            .await
            .unwrap();
    }
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();
    assert_eq!(alice.store().take_unshown(None).unwrap().len(), texts.len());

    // What travels: a packet between relays; a client's first hop and packet, or its
    // 32-byte address, from client to gateway; a reply id and payload from gateway to client.
    let allowed = [PACKET_LEN, 32 + PACKET_LEN, 32, 16 + PAYLOAD_LEN];
    let secrets: Vec<Vec<u8>> = [alice_name, bob_name, "a longer secret sentence"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([link.key.to_vec()])
        .collect();
    let mut streams = 0;
    for relay in 0..5 {
        for (direction, bytes) in captured(&net, relay) {
            streams += 1;
            assert!(
                allowed.contains(&bytes.len()),
                "relay {relay} {} a {}-byte stream",
                if direction == b'i' { "read" } else { "wrote" },
                bytes.len()
            );
            for secret in &secrets {
                assert!(
                    !contains(&bytes, secret),
                    "plaintext on the wire at relay {relay}"
                );
            }
        }
    }
    assert!(
        streams > 50,
        "the capture saw the conversation ({streams} streams)"
    );
    std::fs::remove_dir_all(&homes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_network_that_duplicates_and_reorders_loses_and_repeats_nothing() {
    // Every relay drops 2 % of what it forwards, sends 20 % twice, and holds each packet up to
    // 30 ms (so packets overtake each other).
    let faults = [("SOTTO_FAULTS", "drop=0.02,duplicate=0.2,delay_ms=30")];
    let net = TestLocalnet::start_with(Path::new(env!("CARGO_BIN_EXE_sotto")), 5, 86_400, &faults);
    let homes = std::env::temp_dir().join(format!("sotto-lossy-{:016x}", rand::random::<u64>()));
    let open = |name: &str| {
        let home = homes.join(name);
        sotto_client::init(&home, name).unwrap();
        sotto_client::Device::open(&home, net.directory().clone()).unwrap()
    };
    let mut alice = open("Alice");
    let mut bob = open("Bob");
    let link = alice.invite().await.unwrap();
    bob.connect(&link.to_string(), None).await.unwrap();
    alice.sync().await.unwrap();
    const EACH: usize = 10;
    for i in 0..EACH {
        alice.send("Bob", &format!("a{i}"), None).await.unwrap();
        bob.send("Alice", &format!("b{i}"), None).await.unwrap();
    }
    for _ in 0..3 {
        alice.sync().await.unwrap();
        bob.sync().await.unwrap();
    }
    let texts = |device: &sotto_client::Device, alias: &str| -> Vec<String> {
        let messages = device.store().messages(alias).unwrap();
        messages
            .into_iter()
            .filter(|m| !m.outgoing)
            .map(|m| m.text)
            .collect()
    };
    let expected = |p: &str| (0..EACH).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    assert_eq!(texts(&bob, "Alice"), expected("a"), "once each, in order");
    assert_eq!(texts(&alice, "Bob"), expected("b"));
    // The duplicates were there, and the relays' replay caches dropped them.
    let replays: u64 = (0..5)
        .map(|i| net.counter(i, "sotto_onion_drops_total{kind=\"replay\"}"))
        .sum();
    assert!(replays > 0, "duplicated packets were caught as replays");
    std::fs::remove_dir_all(&homes).unwrap();
}
