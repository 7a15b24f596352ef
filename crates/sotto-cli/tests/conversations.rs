//! Conversations end to end on a localnet of five relays: two people who share nothing but a
//! link connect, talk through MLS over the onion path, and restart in the middle.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sotto_client::conversation::mls;
use sotto_client::{init, ConversationError, Device, Event, Unlock, SELF_UPDATE_EVERY};
use sotto_proto::Fingerprint;
use sotto_testnet::{RelayProcess, TestLocalnet};

fn localnet() -> TestLocalnet {
    TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5)
}

fn person(net: &TestLocalnet, name: &str) -> (PathBuf, Device) {
    let home = net.root().join(name.to_lowercase());
    init(&home, name, &Unlock::KeyFile).unwrap();
    let device = Device::open(&home, &Unlock::KeyFile, net.directory().clone()).unwrap();
    (home, device)
}

fn reopen(net: &TestLocalnet, home: &Path) -> Device {
    Device::open(home, &Unlock::KeyFile, net.directory().clone()).unwrap()
}

/// Alice invites, Bob connects, Alice picks up the answer.
async fn connected(net: &TestLocalnet) -> ((PathBuf, Device), (PathBuf, Device), String) {
    let (alice_home, mut alice) = person(net, "Alice");
    let (bob_home, mut bob) = person(net, "Bob");
    let link = alice.invite().await.unwrap().to_string();
    assert_eq!(bob.connect(&link, None).await.unwrap(), "Alice");
    let events = alice.sync().await.unwrap();
    assert!(
        events.contains(&Event::Connected {
            alias: "Bob".into()
        }),
        "{events:?}"
    );
    ((alice_home, alice), (bob_home, bob), link)
}

fn texts(device: &Device, alias: &str, outgoing: bool) -> Vec<String> {
    device
        .store()
        .messages(alias)
        .unwrap()
        .into_iter()
        .filter(|m| m.outgoing == outgoing)
        .map(|m| m.text)
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn two_people_exchange_two_hundred_messages_each_way_across_restarts() {
    let net = localnet();
    let ((alice_home, mut alice), (bob_home, mut bob), _) = connected(&net).await;
    const EACH: usize = 200;
    for i in 0..EACH {
        alice.send("Bob", &format!("a{i}"), None).await.unwrap();
        bob.send("Alice", &format!("b{i}"), None).await.unwrap();
        if i == EACH / 2 {
            drop(alice);
            alice = reopen(&net, &alice_home);
        }
        if i == EACH / 3 {
            drop(bob);
            bob = reopen(&net, &bob_home);
        }
    }
    // Both catch up: the last texts, then the receipts for them.
    for _ in 0..3 {
        alice.sync().await.unwrap();
        bob.sync().await.unwrap();
    }
    let expected = |prefix: &str| {
        (0..EACH)
            .map(|i| format!("{prefix}{i}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        texts(&bob, "Alice", false),
        expected("a"),
        "once each, in order"
    );
    assert_eq!(texts(&alice, "Bob", false), expected("b"));
    for (device, alias) in [(&alice, "Bob"), (&bob, "Alice")] {
        let undelivered = device
            .store()
            .messages(alias)
            .unwrap()
            .into_iter()
            .filter(|m| m.outgoing && !m.delivered)
            .count();
        assert_eq!(undelivered, 0, "every message has its receipt");
    }
    // Both devices self-updated on the way (every SELF_UPDATE_EVERY texts), each update one
    // epoch: the group is far past the epoch it started in.
    let epoch = |device: &Device| {
        let conversation = &device.store().conversations().unwrap()[0];
        let provider = device.store().provider();
        mls::load_group(&provider, &conversation.group_id)
            .unwrap()
            .epoch()
            .as_u64()
    };
    assert_eq!(epoch(&alice), epoch(&bob));
    assert!(
        epoch(&alice) >= 2 * (EACH as u64) / u64::from(SELF_UPDATE_EVERY),
        "epoch {}",
        epoch(&alice)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_link_works_once() {
    let net = localnet();
    let ((_, mut alice), (_, _bob), link) = connected(&net).await;
    let (_, mut carol) = person(&net, "Carol");
    let error = carol.connect(&link, None).await.unwrap_err();
    assert!(matches!(error, ConversationError::LinkUsed), "{error}");
    assert!(error.to_string().contains("already used"));
    assert!(carol.contacts().unwrap().is_empty(), "nothing stored");

    // A fresh link with a changed key opens nothing, and says so.
    let fresh = alice.invite().await.unwrap();
    let mut tampered = fresh.clone();
    tampered.key[0] ^= 1;
    let error = carol
        .connect(&tampered.to_string(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConversationError::LinkDamaged(_)),
        "{error}"
    );
    let error = carol.connect("sotto://nonsense", None).await.unwrap_err();
    assert!(matches!(error, ConversationError::Link(_)), "{error}");
    assert!(carol.contacts().unwrap().is_empty());
    // The untampered link still works.
    assert_eq!(
        carol.connect(&fresh.to_string(), None).await.unwrap(),
        "Alice"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn messages_wait_for_a_reader_who_is_away() {
    let net = localnet();
    let ((_, mut alice), (_, mut bob), _) = connected(&net).await;
    alice.send("Bob", "are you there?", None).await.unwrap();
    assert!(bob.wait(Duration::from_secs(20)).await.unwrap());
    bob.sync().await.unwrap();
    let unshown = bob.store().take_unshown(Some("Alice")).unwrap();
    assert_eq!(unshown.len(), 1);
    assert_eq!(unshown[0].text, "are you there?");
    assert!(
        bob.store().take_unshown(None).unwrap().is_empty(),
        "shown once"
    );
    let reply = bob.send("Alice", "yes", Some(unshown[0].id)).await.unwrap();
    alice.sync().await.unwrap();
    let got = alice.store().take_unshown(None).unwrap();
    assert_eq!((got[0].id, got[0].reply_to), (reply, Some(unshown[0].id)));
}

/// A client on the mailbox's host, entering at another relay: deletes what a device holds
/// there, as an expiry would.
async fn delete_at_host(
    net: &TestLocalnet,
    host: sotto_proto::Fingerprint,
    read: &sotto_client::ReadCap,
) {
    let index = |f: &sotto_proto::Fingerprint| {
        net.directory()
            .relays()
            .iter()
            .position(|r| r.fingerprint() == f)
            .unwrap()
    };
    let host = index(&host);
    let client = net
        .client((host + 1) % 5, host, Duration::from_secs(3600))
        .await;
    client.delete(read).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_mailbox_gone_from_its_host_does_not_stop_the_others() {
    let net = localnet();
    let ((_, mut alice), (_, mut bob), _) = connected(&net).await;
    let (_, mut carol) = person(&net, "Carol");
    let link = alice.invite().await.unwrap().to_string();
    carol.connect(&link, None).await.unwrap();
    alice.sync().await.unwrap();
    alice.invite().await.unwrap(); // a link nobody will use

    let invitation = alice.store().invitations().unwrap().remove(0);
    delete_at_host(&net, invitation.request_host, &invitation.request).await;
    let with_carol = alice.store().conversation("Carol").unwrap().unwrap();
    delete_at_host(&net, with_carol.host, &with_carol.read).await;

    bob.send("Alice", "still here", None).await.unwrap();
    assert!(
        alice.wait(Duration::from_secs(20)).await.unwrap(),
        "listening still works"
    );
    let events = alice.sync().await.unwrap();
    let reasons: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Rejected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("expired before anyone used it")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("mailbox is gone")),
        "{reasons:?}"
    );
    assert!(alice.store().invitations().unwrap().is_empty());
    let got = alice.store().take_unshown(Some("Bob")).unwrap();
    assert_eq!(got[0].text, "still here");
}

/// A device that runs for days must follow the relays' key rotations: two epochs on, the keys
/// of the network file it started with are gone, and only the file read again gets it through.
#[tokio::test(flavor = "current_thread")]
async fn a_long_running_device_follows_the_network_file() {
    let mut net = TestLocalnet::start_with_epoch(Path::new(env!("CARGO_BIN_EXE_sotto")), 5, 3);
    let ((_, mut alice), (_, mut bob), _) = connected(&net).await;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let started = net.directory().clone();
    let gone = started.current_epoch(now()) + 2;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        net.reload();
        let current = net.directory();
        let epoch = current.current_epoch(now());
        if epoch >= gone && current.relays()[0].descriptor.onion_key.epoch == epoch {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the localnet did not rotate"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for device in [&mut alice, &mut bob] {
        assert!(device.set_directory(net.directory().clone()).unwrap());
        assert!(
            !device.set_directory(net.directory().clone()).unwrap(),
            "the same file again changes nothing"
        );
    }
    alice
        .send("Bob", "after two rotations", None)
        .await
        .unwrap();
    bob.sync().await.unwrap();
    assert_eq!(texts(&bob, "Alice", false), ["after two rotations"]);
}

/// One more conversation for `device`, with `crowd` (who calls it "Bob n").
async fn befriend(device: &mut Device, crowd: &mut Device, n: usize) {
    let link = device.invite().await.unwrap().to_string();
    crowd
        .connect(&link, Some(&format!("Bob {n}")))
        .await
        .unwrap();
    device.sync().await.unwrap();
}

/// What receiving one text costs a listening device, in Sphinx packets on its gateway link:
/// the push, then one acknowledgement and one receipt (each a request and its answer), and
/// whatever else arrived meanwhile.
async fn receiving_costs(bob: &mut Device, alice: &mut Device) -> u64 {
    bob.listen().await.unwrap();
    let mut arrivals = bob.arrivals().unwrap();
    let before = bob.packets();
    alice.send("Bob", "one text", None).await.unwrap();
    loop {
        let batch = tokio::time::timeout(Duration::from_secs(20), arrivals.recv_all())
            .await
            .expect("the text was pushed")
            .unwrap();
        let (_, follow_up) = bob.apply_arrivals(batch).unwrap();
        bob.follow_up(follow_up).await.unwrap();
        if !bob.store().take_unshown(None).unwrap().is_empty() {
            return bob.packets().since(before).total();
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_pushed_text_is_applied_as_it_arrives_whatever_the_number_of_conversations() {
    let net = localnet();
    let ((_, mut alice), (_, mut bob), _) = connected(&net).await;
    let (_, mut crowd) = person(&net, "Crowd");
    for n in 0..6 {
        befriend(&mut bob, &mut crowd, n).await;
    }
    assert_eq!(bob.contacts().unwrap().len(), 7);
    // A device that fetched every mailbox on each push paid 2 packets per conversation on
    // top (at least 19 here). Allowed: the push, then the acknowledgement with the receipt in
    // one request and its answer (3), and one resend of a slow request (2).
    let cost = receiving_costs(&mut bob, &mut alice).await;
    assert!(cost <= 5, "{cost} packets to receive one text");
}

/// Whom `device` reaches through its gateway (not through its second guard), and from which
/// local addresses.
fn behind_gateway(device: &Device) -> (HashSet<Fingerprint>, HashSet<SocketAddr>) {
    let gateway = device.gateway();
    device
        .connections()
        .into_iter()
        .filter(|(host, _)| *host != gateway)
        .unzip()
}

/// A device with mailboxes on several hosts holds one connection to its gateway, whatever
/// their number (and one to its second guard for mailboxes the gateway hosts); when that
/// connection is lost, the subscriptions at every host behind it are renewed, so what comes
/// next is pushed again (the periodic renewal, every 30 s, may help within the wait: the
/// one-connection half of this test is the sharp one).
#[tokio::test(flavor = "current_thread")]
async fn one_connection_to_the_gateway_serves_every_host_and_is_renewed_for_all() {
    let (net, mut relays) = localnet().into_processes();
    let ((_, mut alice), (_, mut bob), _) = connected(&net).await;
    let (_, mut crowd) = person(&net, "Crowd");
    // The connector draws a conversation's host: enough conversations for two hosts behind
    // Bob's gateway.
    let conversation_hosts = |device: &Device| {
        let conversations = device.store().conversations().unwrap();
        conversations
            .into_iter()
            .map(|c| c.host)
            .filter(|host| *host != device.gateway())
            .collect::<HashSet<_>>()
    };
    for n in 0..12 {
        if conversation_hosts(&bob).len() >= 2 {
            break;
        }
        befriend(&mut bob, &mut crowd, n).await;
    }
    bob.listen().await.unwrap();
    let (hosts, addresses) = behind_gateway(&bob);
    assert!(hosts.len() >= 2, "mailboxes on {} hosts", hosts.len());
    assert_eq!(
        addresses.len(),
        1,
        "one connection for {} hosts",
        hosts.len()
    );
    let gateway_hosted = bob
        .connections()
        .into_iter()
        .filter(|(host, _)| *host == bob.gateway())
        .map(|(_, address)| address)
        .collect::<HashSet<_>>();
    assert!(
        gateway_hosted.is_disjoint(&addresses),
        "mailboxes on the gateway are reached through the second guard"
    );

    // Bob's gateway restarts: his connection to it is reset, and with it the address his
    // push blocks lead to. Subscriptions at hosts reached through the second guard are
    // renewed only by the timer, so only texts to the others are waited for here.
    let index = (0..5).find(|i| net.relay(*i) == bob.gateway()).unwrap();
    relays[index].kill();
    relays[index] = RelayProcess::start(
        Path::new(env!("CARGO_BIN_EXE_sotto")),
        &net.root().join(format!("relay-{index}")),
        &net.root().join("network.toml"),
        &net.root().join(format!("relay-{index}.log")),
    );
    let mut arrivals = bob.arrivals().unwrap();
    let mut expected = HashSet::new();
    for conversation in bob.store().conversations().unwrap() {
        if conversation.host == bob.gateway() {
            continue;
        }
        let text = format!("to {} after the restart", conversation.alias);
        for peer in [&mut alice, &mut crowd] {
            let theirs = peer.store().conversations().unwrap();
            if let Some(theirs) = theirs
                .into_iter()
                .find(|c| c.group_id == conversation.group_id)
            {
                peer.send(&theirs.alias, &text, None).await.unwrap();
            }
        }
        expected.insert(text);
    }
    assert!(!expected.is_empty());
    let mut received = HashSet::new();
    // Generous: other relays' links to the restarted one lose a packet each before they are
    // made again, and a request that lost its attempts waits up to 8 s before the next, so on
    // a loaded machine the renewal can take its third or fourth attempt.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    while !expected.is_subset(&received) {
        let batch = tokio::time::timeout_at(deadline, arrivals.recv_all())
            .await
            .unwrap_or_else(|_| panic!("pushed {} of {}", received.len(), expected.len()))
            .unwrap();
        // Receiving fails while the gateway is down; what follows is retried.
        if let Ok((_, follow_up)) = bob.apply_arrivals(batch) {
            let _ = bob.follow_up(follow_up).await;
        }
        received.extend(
            bob.store()
                .take_unshown(None)
                .unwrap()
                .into_iter()
                .map(|m| m.text),
        );
    }
    let (_, after) = behind_gateway(&bob);
    assert_eq!(after, addresses, "the same connection, made again");
}
