//! Mailboxes through the onion network: a localnet of five relays, every request on
//! client -> gateway -> mix -> mix -> host, every answer and push back through reply blocks.

use std::path::Path;
use std::time::Duration;

use sotto_client::{MailboxClient, MailboxOptions, NewMailbox, OnionTransport};
use sotto_proto::{ErrorCode, MailboxKind};
use sotto_testnet::TestLocalnet;

const RENEW: Duration = Duration::from_secs(3600);

fn localnet() -> TestLocalnet {
    TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5)
}

async fn next_push(client: &MailboxClient<OnionTransport>) -> sotto_proto::Push {
    tokio::time::timeout(Duration::from_secs(20), client.next_push())
        .await
        .expect("a push within 20 s")
        .expect("push")
}

/// Alice, entering at relay 0, subscribed to a new mailbox on relay 4 (nothing waits in it);
/// Bob, entering at relay 1, to write to it.
async fn alice_reads_bob_writes(
    net: &TestLocalnet,
) -> (
    MailboxClient<OnionTransport>,
    MailboxClient<OnionTransport>,
    NewMailbox,
) {
    let alice = net.client(0, 4, RENEW).await;
    let bob = net.client(1, 4, RENEW).await;
    let m = alice
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await
        .unwrap();
    assert!(alice.subscribe(&m.read).await.unwrap().is_empty());
    (alice, bob, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mailbox_command_works_through_the_onion_path() {
    let net = localnet();
    let (alice, bob, m) = alice_reads_bob_writes(&net).await;
    for text in [&b"x"[..], &vec![0x42; 12 * 1024][..]] {
        let seq = bob.write(&m.write, text).await.unwrap();
        let push = next_push(&alice).await;
        assert_eq!((push.message.seq, &push.message.body[..]), (seq, text));
        alice.ack(&m.read, seq).await.unwrap();
    }
    let second = alice.add_reader(&m.read).await.unwrap();
    bob.write(&m.write, b"both").await.unwrap();
    assert_eq!(alice.fetch(&second).await.unwrap()[0].body, b"both");
    alice.remove_reader(&m.read, second.id).await.unwrap();
    assert_eq!(
        alice.fetch(&second).await.unwrap_err().code(),
        Some(ErrorCode::Auth)
    );
    let (link, link_cap) = bob.put_link(0, b"link data").await.unwrap();
    assert_eq!(alice.get_link(&link).await.unwrap(), b"link data");
    bob.delete_link(&link_cap).await.unwrap();
    alice.delete(&m.read).await.unwrap();
    assert_eq!(
        bob.write(&m.write, b"gone").await.unwrap_err().code(),
        Some(ErrorCode::Auth)
    );

    // Metrics count packets by role: the host ran requests and sent answers and pushes, the
    // gateways took packets in from their clients, and mixes passed packets on.
    let packets = |relay: usize, role: &str, direction: &str| {
        net.counter(
            relay,
            &format!("sotto_onion_packets_total{{role=\"{role}\",direction=\"{direction}\"}}"),
        )
    };
    assert!(packets(4, "host", "in") > 0 && packets(4, "host", "out") > 0);
    assert!(net.counter(4, "sotto_onion_pushes_total") >= 2);
    assert!(packets(0, "gateway", "in") > 0 && packets(0, "gateway", "out") > 0);
    assert_eq!(packets(0, "host", "in"), 0, "relay 0 hosts nothing here");
    assert!((0..5).map(|r| packets(r, "mix", "out")).sum::<u64>() > 0);
}

/// A burst written faster than the reader's acknowledgements bring reply blocks back: the
/// pushes that found no block are held at the host and sent with the next ones, and pushes
/// that overtake each other on their separate paths come out in order. Renewal is an hour
/// away, so nothing here is recovered by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_pushed_whole_and_in_order() {
    let net = localnet();
    let (alice, bob, m) = alice_reads_bob_writes(&net).await;
    let bob = std::sync::Arc::new(bob);
    const BURST: u64 = 24;
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..BURST {
        let (bob, write) = (bob.clone(), m.write.clone());
        writes.spawn(async move { bob.write(&write, &i.to_be_bytes()).await.unwrap() });
    }
    for expected in 1..=BURST {
        let push = tokio::time::timeout(Duration::from_secs(15), alice.next_push())
            .await
            .unwrap_or_else(|_| panic!("message {expected} of {BURST} never pushed"))
            .unwrap();
        assert_eq!(push.message.seq, expected, "in order, none skipped");
        alice.ack(&m.read, push.message.seq).await.unwrap();
    }
    while writes.join_next().await.is_some() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_who_acknowledges_each_push_never_runs_out_of_push_blocks() {
    // Each acknowledgement brings back about as many reply blocks as the pushes spent (one,
    // here), not a whole set: if it brought none, the fifth push would find no block and wait
    // for a deposit that never comes.
    let net = localnet();
    let (alice, bob, m) = alice_reads_bob_writes(&net).await;
    for seq in 1..=30u64 {
        bob.write(&m.write, &seq.to_be_bytes()).await.unwrap();
        let push = next_push(&alice).await;
        assert_eq!(push.message.seq, seq, "message {seq}");
        alice.ack(&m.read, seq).await.unwrap();
    }
    assert_eq!(
        net.counter(4, "sotto_onion_pushes_total"),
        30,
        "each message pushed once, none fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_mix_costs_time_not_messages() {
    let net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 8);
    let (net, mut relays) = net.into_processes();
    // Alice reads through gateway 0, Bob writes through gateway 1, the mailbox is on relay 4;
    // the others serve as mixes, and relay 2 dies.
    let renew = Duration::from_secs(2);
    let alice = net.client(0, 4, renew).await;
    let bob = net.client(1, 4, renew).await;
    let m = alice
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await
        .unwrap();
    alice.subscribe(&m.read).await.unwrap();
    bob.write(&m.write, b"before").await.unwrap();
    assert_eq!(next_push(&alice).await.message.body, b"before");

    relays[2].kill();
    let mut sent = Vec::new();
    for i in 0..5u8 {
        sent.push(
            bob.write(&m.write, &[i])
                .await
                .expect("the write found a live path"),
        );
    }
    let mut received = Vec::new();
    while received.len() < sent.len() {
        let push = tokio::time::timeout(Duration::from_secs(90), alice.next_push())
            .await
            .expect("every message arrives despite the dead mix")
            .unwrap();
        received.push(push.message.seq);
        alice.ack(&m.read, push.message.seq).await.unwrap();
    }
    received.sort_unstable();
    assert_eq!(received, sent, "each message exactly once");
    drop(relays);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onion_keys_rotate_and_the_network_file_follows() {
    let mut net = TestLocalnet::start_with_epoch(Path::new(env!("CARGO_BIN_EXE_sotto")), 5, 4);
    let first = net.directory().relays()[0].descriptor.onion_key.epoch;
    let client = net.client(0, 4, RENEW).await;
    let m = client
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await
        .unwrap();
    // Two rotations later the first file's keys are gone from every relay.
    tokio::time::sleep(Duration::from_secs(9)).await;
    net.reload();
    assert!(
        net.directory().relays()[0].descriptor.onion_key.epoch >= first + 2,
        "the file was refreshed"
    );
    let fresh = net.client(0, 4, RENEW).await;
    fresh.write(&m.write, b"after rotation").await.unwrap();
    assert_eq!(
        fresh.fetch(&m.read).await.unwrap()[0].body,
        b"after rotation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_localnet_comes_back_with_its_mailboxes() {
    let mut net = localnet();
    let before = net.directory().clone();
    let client = net.client(0, 4, RENEW).await;
    let m = client
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await
        .unwrap();
    let seq = client
        .write(&m.write, b"acknowledged by the host")
        .await
        .unwrap();
    drop(client);
    net.restart();
    // The network file is issued again (a later serial); its relays and keys stay.
    assert_eq!(
        net.directory().relays(),
        before.relays(),
        "the same relays and keys"
    );
    let client = net.client(1, 4, RENEW).await;
    let waiting = client.fetch(&m.read).await.unwrap();
    assert_eq!(
        (waiting[0].seq, &waiting[0].body[..]),
        (seq, &b"acknowledged by the host"[..])
    );
}
