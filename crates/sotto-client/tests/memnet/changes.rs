//! Edits, deletions for everyone and reactions: made on one side, seen on the other.

use sotto_client::{Change, ConversationError, Event};

use crate::faults::Faults;
use crate::network::MemoryNetwork;
use crate::people::{assert_no_trouble, connected, settle};

#[tokio::test(start_paused = true)]
async fn edits_deletions_and_reactions_reach_the_other_side() {
    let network = MemoryNetwork::new(2, 7, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    alice.listen().await;
    bob.listen().await;
    let hello = alice.send(&bob, "helo Bob").await;
    let answer = bob.send(&alice, "hi Alice").await;
    settle(&mut alice, &mut bob).await;

    alice
        .device
        .change("Bob", hello, Change::Edit("hello Bob".into()))
        .await
        .unwrap();
    bob.device
        .change("Alice", hello, Change::React("👍".into()))
        .await
        .unwrap();
    settle(&mut alice, &mut bob).await;
    let message = |person: &crate::people::Person, alias: &str, id| {
        let messages = person.device.store().messages(alias).unwrap();
        messages.into_iter().find(|m| m.id == id).unwrap()
    };
    let seen = message(&bob, "Alice", hello);
    assert_eq!((seen.text.as_str(), seen.edited), ("hello Bob", true));
    assert_eq!(seen.my_reaction.as_deref(), Some("👍"));
    let own = message(&alice, "Bob", hello);
    assert_eq!((own.text.as_str(), own.edited), ("hello Bob", true));
    assert_eq!(own.their_reaction.as_deref(), Some("👍"));
    let changed = |events: &[Event], alias: &str| {
        events
            .iter()
            .filter(|e| matches!(e, Event::Changed { alias: a, id } if a == alias && *id == hello))
            .count()
    };
    assert_eq!(changed(&bob.events, "Alice"), 1, "the edit, once");
    assert_eq!(changed(&alice.events, "Bob"), 1, "the reaction, once");

    // Only its sender changes a message's text; anyone reacts; unknown ids change nothing.
    let refused = bob
        .device
        .change("Alice", hello, Change::Edit("mine now".into()))
        .await;
    assert!(matches!(refused, Err(ConversationError::NotYourMessage)));
    let unknown = alice.device.change("Bob", [9; 16], Change::Delete).await;
    assert!(matches!(unknown, Err(ConversationError::UnknownMessage)));

    alice
        .device
        .change("Bob", hello, Change::Delete)
        .await
        .unwrap();
    bob.device
        .change("Alice", answer, Change::React("".into()))
        .await
        .unwrap();
    settle(&mut alice, &mut bob).await;
    for (person, alias) in [(&bob, "Alice"), (&alice, "Bob")] {
        let gone = message(person, alias, hello);
        assert!(gone.deleted && gone.text.is_empty(), "{alias}: {gone:?}");
        assert_eq!((gone.my_reaction, gone.their_reaction), (None, None));
    }
    assert_eq!(message(&alice, "Bob", answer).text, "hi Alice");
    let again = bob
        .device
        .change("Alice", hello, Change::React("❤".into()))
        .await;
    assert!(
        matches!(again, Err(ConversationError::UnknownMessage)),
        "a deleted message takes no reactions"
    );
    assert_no_trouble(&[&alice, &bob]);
}

#[tokio::test(start_paused = true)]
async fn under_a_timer_messages_disappear_on_both_sides() {
    let network = MemoryNetwork::new(2, 8, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    alice.listen().await;
    bob.listen().await;
    let kept = alice.send(&bob, "before the timer").await;
    alice.device.set_timer("Bob", 1).await.unwrap();
    settle(&mut alice, &mut bob).await;
    assert!(
        bob.events.contains(&Event::Timer {
            alias: "Alice".into(),
            seconds: 1
        }),
        "{:?}",
        bob.events
    );
    let timers = |person: &crate::people::Person| {
        let contacts = person.device.contacts().unwrap();
        contacts
            .iter()
            .map(|c| c.disappear_secs)
            .collect::<Vec<_>>()
    };
    assert_eq!((timers(&alice), timers(&bob)), (vec![1], vec![1]));
    bob.send(&alice, "gone soon").await;
    settle(&mut alice, &mut bob).await;
    let texts = |person: &crate::people::Person, alias: &str| {
        let messages = person.device.store().messages(alias).unwrap();
        messages.into_iter().map(|m| m.text).collect::<Vec<_>>()
    };
    assert_eq!(texts(&alice, "Bob"), ["before the timer", "gone soon"]);
    // The store's clock is the wall clock, not tokio's paused one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for (person, alias) in [(&alice, "Bob"), (&bob, "Alice")] {
        assert_eq!(texts(person, alias), ["before the timer"], "{alias}");
        assert_eq!(person.device.forget_expired().unwrap(), 1, "{alias}");
        let ids: Vec<_> = person
            .device
            .store()
            .messages(alias)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, [kept]);
    }
    alice.device.set_timer("Bob", 0).await.unwrap();
    settle(&mut alice, &mut bob).await;
    assert_eq!((timers(&alice), timers(&bob)), (vec![0], vec![0]));
    assert_no_trouble(&[&alice, &bob]);
}
