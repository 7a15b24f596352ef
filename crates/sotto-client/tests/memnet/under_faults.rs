//! Conversations on a network that loses, repeats, delays and reorders what it carries, and
//! restarts a host midway: nothing is lost, nothing shown twice, each sender's order is kept
//! and every text comes back delivered.

use std::time::Duration;

use crate::faults::{Direction, Faults};
use crate::network::MemoryNetwork;
use crate::people::{assert_delivered, assert_no_trouble, connected, settle, texts, Person};

/// Both listening, they send `count` texts each, crossing, settling every few.
async fn talk(network: &MemoryNetwork, count: usize) -> (Person, Person) {
    let (mut alice, mut bob) = connected(network).await;
    alice.listen().await;
    bob.listen().await;
    let (to_bob, to_alice) = (texts(&alice, count), texts(&bob, count));
    for (i, (a, b)) in to_bob.iter().zip(&to_alice).enumerate() {
        alice.send(&bob, a).await;
        bob.send(&alice, b).await;
        if i % 3 == 2 {
            settle(&mut alice, &mut bob).await;
        }
    }
    // Faults stop once everything is sent: what is lost by then must be found again.
    network.set_faults(Faults::default());
    settle(&mut alice, &mut bob).await;
    assert_delivered(&alice, &bob, &to_bob);
    assert_delivered(&bob, &alice, &to_alice);
    assert_no_trouble(&[&alice, &bob]);
    assert_eq!(network.stats().stale, 0);
    (alice, bob)
}

#[tokio::test(start_paused = true)]
async fn lost_answers_are_given_again_from_the_hosts_replay_memory() {
    let lossy = Direction {
        loss: 0.25,
        delay: Duration::from_millis(300),
        ..Direction::default()
    };
    let faults = Faults {
        requests: lossy,
        answers: Direction {
            reorder: 0.2,
            ..lossy
        },
        ..Faults::default()
    };
    let network = MemoryNetwork::new(2, 21, faults);
    talk(&network, 12).await;
    assert!(
        network.stats().repeats > 10,
        "requests sent again: {:?}",
        network.stats()
    );
}

#[tokio::test(start_paused = true)]
async fn duplicated_reordered_and_lost_pushes_are_applied_once_in_order() {
    let faults = Faults {
        pushes: Direction {
            loss: 0.1,
            duplicate: 0.3,
            reorder: 0.4,
            delay: Duration::from_millis(500),
        },
        ..Faults::default()
    };
    let network = MemoryNetwork::new(2, 22, faults);
    talk(&network, 12).await;
}

#[tokio::test(start_paused = true)]
async fn everything_at_once_whatever_the_seed() {
    let everything = Direction {
        loss: 0.1,
        duplicate: 0.1,
        reorder: 0.2,
        delay: Duration::from_millis(400),
    };
    for seed in 0..4 {
        let faults = Faults {
            requests: everything,
            answers: everything,
            pushes: everything,
        };
        talk(&MemoryNetwork::new(3, seed, faults), 6).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_host_restart_mid_conversation_loses_nothing() {
    let network = MemoryNetwork::new(2, 23, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    alice.listen().await;
    bob.listen().await;
    let host = alice
        .device
        .store()
        .conversation("Bob")
        .unwrap()
        .unwrap()
        .host;
    let (to_bob, to_alice) = (texts(&alice, 9), texts(&bob, 9));
    for (i, (a, b)) in to_bob.iter().zip(&to_alice).enumerate() {
        alice.send(&bob, a).await;
        if i % 3 == 1 {
            // With pushes and receipts on their way, and down long enough that the next
            // requests are sent again until it is back.
            network.restart(&host, Duration::from_secs(3));
        }
        bob.send(&alice, b).await;
        if i % 3 == 2 {
            settle(&mut alice, &mut bob).await;
        }
    }
    settle(&mut alice, &mut bob).await;
    assert_delivered(&alice, &bob, &to_bob);
    assert_delivered(&bob, &alice, &to_alice);
    assert_no_trouble(&[&alice, &bob]);
    let stats = network.stats();
    assert_eq!(stats.restarts, 3);
    assert!(stats.refused_while_down > 0, "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn a_seed_plays_the_same_faults_again() {
    let everything = Direction {
        loss: 0.1,
        duplicate: 0.1,
        reorder: 0.2,
        delay: Duration::from_millis(400),
    };
    let faults = Faults {
        requests: everything,
        answers: everything,
        pushes: everything,
    };
    let run = || async {
        let network = MemoryNetwork::new(2, 7, faults);
        talk(&network, 4).await;
        network.stats()
    };
    assert_eq!(run().await, run().await);
}
