//! What travels between relays and clients, from what every relay of a localnet recorded (a
//! `test-view` build): one packet size and no plaintext on any link, and a lossy network
//! that loses and repeats nothing. Who learns what is `tests/curious_relays.rs`.
//!
//! Run with `cargo test -p sotto-cli --features test-view --test view` (CI does).
#![cfg(feature = "test-view")]

use std::path::Path;

use sotto_testnet::TestLocalnet;

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
    let open = |name: &str| device(&net, &homes, name);
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
    let open = |name: &str| device(&net, &homes, name);
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

/// A new device named `name`, its home under `homes`, on `net`.
fn device(net: &TestLocalnet, homes: &Path, name: &str) -> sotto_client::Device {
    let home = homes.join(name);
    sotto_client::init(&home, name, &sotto_client::Unlock::KeyFile).unwrap();
    sotto_client::Device::open(
        &home,
        &sotto_client::Unlock::KeyFile,
        net.directory().clone(),
    )
    .unwrap()
}
