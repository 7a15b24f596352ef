//! Listening in batches: a device subscribes the mailboxes of one host together, and renews
//! them together when the path of their pushes is lost, so what listening costs grows with
//! its hosts, not its conversations (protocol §17.7).

use std::time::Duration;

use crate::catch_up::alice_and_ten;
use crate::faults::Faults;
use crate::network::MemoryNetwork;
use crate::people::{assert_no_trouble, settle};

#[tokio::test(start_paused = true)]
async fn ten_conversations_on_one_host_are_subscribed_and_renewed_in_one_packet() {
    let network = MemoryNetwork::new(2, 24, Faults::default());
    let (mut alice, mut contacts) = alice_and_ten(&network).await;

    let before = alice.subscribe_frames();
    alice.listen().await;
    assert_eq!(
        alice.subscribe_frames() - before,
        1,
        "ten subscribes in one frame (one a mailbox was ten)"
    );
    let carol = &mut contacts[1];
    carol.send(&alice, "pushed").await;
    settle(&mut alice, carol).await;
    let got = alice.device.store().take_unshown(None).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text, "pushed");

    // The host restarts at once and forgets every subscription: all ten come back in one
    // frame within the second the device takes to notice (and before the periodic renewal).
    network.restart(&network.relay(0), Duration::ZERO);
    let before = alice.subscribe_frames();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(alice.subscribe_frames() - before, 1, "renewed together");
    let dan = &mut contacts[2];
    dan.send(&alice, "after the restart").await;
    settle(&mut alice, dan).await;
    let got = alice.device.store().take_unshown(None).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text, "after the restart");
    assert_no_trouble(&[&alice]);
}
