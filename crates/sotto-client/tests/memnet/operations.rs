//! Every `Device` operation on a network that does nothing wrong.

use std::time::Duration;

use sotto_client::{Event, SELF_UPDATE_EVERY};

use crate::faults::Faults;
use crate::network::MemoryNetwork;
use crate::people::{assert_delivered, assert_no_trouble, connected, settle, texts, Person};

#[tokio::test(start_paused = true)]
async fn one_shot_commands_invite_connect_send_and_sync() {
    let network = MemoryNetwork::new(2, 1, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    let (to_bob, to_alice) = (texts(&alice, 3), texts(&bob, 3));
    for (a, b) in to_bob.iter().zip(&to_alice) {
        alice.send(&bob, a).await;
        bob.send(&alice, b).await;
    }
    // The last texts, then the receipts for them.
    for _ in 0..2 {
        alice.sync().await;
        bob.sync().await;
    }
    assert_delivered(&alice, &bob, &to_bob);
    assert_delivered(&bob, &alice, &to_alice);
    assert_no_trouble(&[&alice, &bob]);
}

#[tokio::test(start_paused = true)]
async fn listening_devices_apply_pushes_as_they_arrive() {
    let network = MemoryNetwork::new(2, 2, Faults::default());
    let mut alice = Person::new(&network, "Alice", 0);
    let mut bob = Person::new(&network, "Bob", 1);
    let link = alice.device.invite().await.unwrap().to_string();
    alice.listen().await;
    bob.device.connect(&link, None).await.unwrap();
    bob.listen().await;
    settle(&mut alice, &mut bob).await;
    assert!(
        alice.events.contains(&Event::Connected {
            alias: "Bob".into()
        }),
        "the answer to the link came as a push: {:?}",
        alice.events
    );
    assert!(
        alice.device.store().invitations().unwrap().is_empty(),
        "the spent link is forgotten"
    );

    let (to_bob, to_alice) = (texts(&alice, 10), texts(&bob, 10));
    for (a, b) in to_bob.iter().zip(&to_alice) {
        alice.send(&bob, a).await;
        bob.send(&alice, b).await;
        settle(&mut alice, &mut bob).await;
    }
    assert_delivered(&alice, &bob, &to_bob);
    assert_delivered(&bob, &alice, &to_alice);
    let delivered: usize = alice
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Delivered { count, .. } => Some(*count),
            _ => None,
        })
        .sum();
    assert_eq!(delivered, to_bob.len(), "one receipt per text, each once");
    assert_no_trouble(&[&alice, &bob]);
}

#[tokio::test(start_paused = true)]
async fn wait_applies_what_arrives_and_sync_reports_it() {
    let network = MemoryNetwork::new(2, 3, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    assert!(
        !bob.device.wait(Duration::from_secs(5)).await.unwrap(),
        "nothing yet"
    );
    alice.send(&bob, "are you there?").await;
    assert!(bob.device.wait(Duration::from_secs(5)).await.unwrap());
    let unshown = bob.device.store().take_unshown(Some("Alice")).unwrap();
    assert_eq!(unshown.len(), 1);
    assert_eq!(unshown[0].text, "are you there?");
    let reply = bob
        .device
        .send("Alice", "yes", Some(unshown[0].id))
        .await
        .unwrap();
    alice.sync().await;
    assert!(
        alice.events.contains(&Event::Delivered {
            alias: "Bob".into(),
            count: 1
        }),
        "{:?}",
        alice.events
    );
    let got = alice.device.store().take_unshown(None).unwrap();
    assert_eq!((got[0].id, got[0].reply_to), (reply, Some(unshown[0].id)));
}

#[tokio::test(start_paused = true)]
async fn each_device_renews_its_keys_every_fifty_texts() {
    let network = MemoryNetwork::new(2, 4, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    alice.listen().await;
    bob.listen().await;
    let each = SELF_UPDATE_EVERY as usize + 10;
    let (to_bob, to_alice) = (texts(&alice, each), texts(&bob, each));
    for (a, b) in to_bob.iter().zip(&to_alice) {
        alice.send(&bob, a).await;
        settle(&mut alice, &mut bob).await;
        bob.send(&alice, b).await;
        settle(&mut alice, &mut bob).await;
    }
    assert_delivered(&alice, &bob, &to_bob);
    assert_delivered(&bob, &alice, &to_alice);
    // Every device counts the texts both ways: each passed fifty twice, and the one that
    // got there first updated for both (an update resets the count of every member).
    assert_eq!(alice.epoch(&bob), bob.epoch(&alice));
    assert!(alice.epoch(&bob) >= 2, "epoch {}", alice.epoch(&bob));
    assert_no_trouble(&[&alice, &bob]);
}

#[tokio::test(start_paused = true)]
async fn self_updates_that_cross_settle_on_one_commit() {
    let network = MemoryNetwork::new(2, 5, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    alice.listen().await;
    bob.listen().await;
    let start = alice.epoch(&bob);
    // Each sends its texts while neither loop runs, so each counts only its own: both are
    // due, and neither has updated.
    let due = SELF_UPDATE_EVERY as usize;
    let (to_bob, to_alice) = (texts(&alice, due + 2), texts(&bob, due + 2));
    for (a, b) in to_bob.iter().zip(&to_alice).take(due) {
        alice.send(&bob, a).await;
        bob.send(&alice, b).await;
    }
    assert_eq!(alice.epoch(&bob), start, "no update yet");

    // Both commit their update before either reads the other's: the host's order decides,
    // the loser's commit is dropped and its text sealed again in the winner's epoch.
    let (a, b) = (&to_bob[due], &to_alice[due]);
    let (sent_a, sent_b) = tokio::join!(
        alice.device.send("Bob", a, None),
        bob.device.send("Alice", b, None)
    );
    sent_a.unwrap();
    sent_b.unwrap();
    assert_eq!(
        (alice.epoch(&bob), bob.epoch(&alice)),
        (start + 1, start + 1),
        "one commit won; had they not crossed, the second would have followed the first"
    );

    // They go on talking, and the loser updates again.
    alice.send(&bob, &to_bob[due + 1]).await;
    bob.send(&alice, &to_alice[due + 1]).await;
    settle(&mut alice, &mut bob).await;
    assert_eq!(alice.epoch(&bob), bob.epoch(&alice));
    assert_eq!(
        alice.epoch(&bob),
        start + 2,
        "the loser's update came after"
    );
    assert_delivered(&alice, &bob, &to_bob);
    assert_delivered(&bob, &alice, &to_alice);
    assert_no_trouble(&[&alice, &bob]);
}

/// What one text with its receipt costs two listening devices, in packets on their links
/// (protocol §17.7): the sender 5 (its write with its own acknowledgement and the answer; the
/// receipt pushed, its acknowledgement and the answer), the receiver 3 (the push; its
/// acknowledgement with the receipt, and the answer). Renewals of subscriptions, on their own
/// timer, are left out.
#[tokio::test(start_paused = true)]
async fn a_text_with_its_receipt_costs_the_sender_five_packets_and_the_receiver_three() {
    let network = MemoryNetwork::new(2, 6, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    alice.listen().await;
    bob.listen().await;
    settle(&mut alice, &mut bob).await;
    for text in texts(&alice, 3) {
        let (alice_before, bob_before) = (alice.packets(), bob.packets());
        alice.send(&bob, &text).await;
        settle(&mut alice, &mut bob).await;
        let cost = |(sent, received): (u64, u64), (sent_before, received_before): (u64, u64)| {
            (sent - sent_before, received - received_before)
        };
        assert_eq!(
            cost(alice.packets(), alice_before),
            (2, 3),
            "the sender: sent the text and the receipt's acknowledgement; received their \
             answers and the receipt"
        );
        assert_eq!(
            cost(bob.packets(), bob_before),
            (1, 2),
            "the receiver: received the text and the answer; sent the acknowledgement with \
             the receipt"
        );
    }
    assert_delivered(&alice, &bob, &texts(&alice, 3));
    assert_no_trouble(&[&alice, &bob]);
}
