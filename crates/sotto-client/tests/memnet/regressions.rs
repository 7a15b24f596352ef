//! Old bugs, brought back by the faults that showed them.

use std::time::Duration;

use crate::faults::{Direction, Faults};
use crate::network::MemoryNetwork;
use crate::people::{assert_delivered, assert_no_trouble, connected, settle, texts, Person, QUIET};

/// A link's request mailbox is deleted once answered, but its subscription stayed with the
/// mailbox client: when the subscriptions were next renewed (every 30 s, or after a restart)
/// the host refused it, and the renewal stopped there, before the conversation's own
/// subscription on the same host. Pushes stopped, and the loop reported itself offline.
#[tokio::test(start_paused = true)]
async fn a_spent_link_does_not_stop_the_renewal_of_other_subscriptions() {
    let network = MemoryNetwork::new(2, 11, Faults::default());
    // Both enter at relay 0, so the link and the conversation are both on relay 1.
    let mut alice = Person::new(&network, "Alice", 0);
    let mut bob = Person::new(&network, "Bob", 0);
    let link = alice.device.invite().await.unwrap().to_string();
    alice.listen().await;
    bob.device.connect(&link, None).await.unwrap();
    bob.listen().await;
    settle(&mut alice, &mut bob).await;

    network.restart(&network.relay(1), Duration::from_secs(1));
    tokio::time::sleep(QUIET).await;
    let to_alice = texts(&bob, 3);
    for text in &to_alice {
        bob.send(&alice, text).await;
    }
    settle(&mut alice, &mut bob).await;
    assert_delivered(&bob, &alice, &to_alice);
    assert_no_trouble(&[&alice, &bob]);
}

/// Pushes travel separate paths and overtake each other. If the inbox handed out a push that
/// overtook an earlier one, the earlier one would then count as seen: never applied, and
/// deleted at the host by the acknowledgement of the later one (`inbox.rs`).
#[tokio::test(start_paused = true)]
async fn a_push_that_overtakes_an_earlier_one_does_not_mark_it_seen() {
    let faults = Faults {
        pushes: Direction {
            reorder: 1.0,
            ..Direction::default()
        },
        ..Faults::default()
    };
    let network = MemoryNetwork::new(2, 12, faults);
    let (mut alice, mut bob) = connected(&network).await;
    alice.listen().await;
    bob.listen().await;
    let to_bob = texts(&alice, 6);
    for text in &to_bob {
        alice.send(&bob, text).await;
    }
    settle(&mut alice, &mut bob).await;
    assert_delivered(&alice, &bob, &to_bob);
    assert_no_trouble(&[&alice, &bob]);
}

/// How long the network is down in the test below: the push comes, the follow-up gives up.
const OUTAGE: Duration = Duration::from_secs(90);

/// Loses every request for `OUTAGE` while both loops run, then lets what was under way end.
async fn outage(network: &MemoryNetwork, alice: &mut Person, bob: &mut Person) {
    network.set_faults(Faults {
        requests: Direction {
            loss: 1.0,
            ..Direction::default()
        },
        ..Faults::default()
    });
    // A network that stays down never settles.
    let _ = tokio::time::timeout(OUTAGE, settle(alice, bob)).await;
    network.set_faults(Faults::default());
    settle(alice, bob).await;
    assert!(!bob.offline.is_empty(), "Bob's follow-up failed");
    // (Renewing subscriptions failed meanwhile too.)
    alice.offline.clear();
    bob.offline.clear();
}

/// A receipt whose follow-up failed (the network down right after the text was applied) used
/// to be lost for good: the text was applied, so it never counted as received again.
#[tokio::test(start_paused = true)]
async fn a_receipt_whose_follow_up_failed_goes_at_the_next_chance() {
    let network = MemoryNetwork::new(2, 31, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    alice.listen().await;
    bob.listen().await;
    let texts = ["one", "two", "three"].map(String::from);
    alice.send(&bob, &texts[0]).await;
    outage(&network, &mut alice, &mut bob).await;
    assert_eq!(
        bob.texts(&alice, false).len(),
        1,
        "applied before the failure"
    );

    // The next text's follow-up sends both receipts.
    alice.send(&bob, &texts[1]).await;
    settle(&mut alice, &mut bob).await;
    assert_delivered(&alice, &bob, &texts[..2]);

    // A loop that only comes back, with nothing arriving, sends what it owes.
    alice.send(&bob, &texts[2]).await;
    outage(&network, &mut alice, &mut bob).await;
    let events = bob.device.send_owed_receipts().await.unwrap();
    assert!(events.is_empty(), "{events:?}");
    settle(&mut alice, &mut bob).await;
    assert_delivered(&alice, &bob, &texts);
    assert_no_trouble(&[&alice, &bob]);
}
