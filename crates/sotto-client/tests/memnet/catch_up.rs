//! A device that does not listen catching up (`sotto read`), and a listening one answering
//! pushes: the mailboxes of one host are read and answered together, so what it costs grows
//! with its hosts, not its conversations.

use sotto_client::Event;

use crate::faults::Faults;
use crate::network::MemoryNetwork;
use crate::people::{assert_no_trouble, settle, Person};

const CONTACTS: [&str; 10] = [
    "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
];

/// Alice (entering at relay 0) and ten contacts (entering at relay 1) who each answered one
/// of her links: every conversation mailbox is on relay 0, the one relay not a contact's
/// gateway.
pub async fn alice_and_ten(network: &MemoryNetwork) -> (Person, Vec<Person>) {
    let mut alice = Person::new(network, "Alice", 0);
    let mut contacts = Vec::new();
    for name in CONTACTS {
        let mut contact = Person::new(network, name, 1);
        let link = alice.device.invite().await.unwrap().to_string();
        contact.device.connect(&link, None).await.unwrap();
        contacts.push(contact);
    }
    alice.sync().await;
    let connected = alice
        .events
        .iter()
        .filter(|e| matches!(e, Event::Connected { .. }))
        .count();
    assert_eq!(connected, CONTACTS.len());
    let conversations = alice.device.store().conversations().unwrap();
    assert!(conversations.iter().all(|c| c.host == network.relay(0)));
    (alice, contacts)
}

#[tokio::test(start_paused = true)]
async fn catching_up_ten_conversations_on_one_host_costs_two_packets_for_one_message() {
    let network = MemoryNetwork::new(2, 21, Faults::default());
    let (mut alice, mut contacts) = alice_and_ten(&network).await;
    let carol = &mut contacts[1];
    carol.send(&alice, "hello Alice").await;

    let before = alice.packets().0;
    alice.sync().await;
    assert_eq!(
        alice.packets().0 - before,
        2,
        "one batch of ten fetches, then the acknowledgement with the receipt (one per mailbox \
         was eleven and more)"
    );
    let got = alice.device.store().take_unshown(None).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text, "hello Alice");

    // Her receipt came back to her mailbox (a device that does not listen gets its own
    // writes back): the batch, and its acknowledgement. Then nothing new: the batch alone.
    for expected in [2, 1] {
        let before = alice.packets().0;
        alice.sync().await;
        assert_eq!(alice.packets().0 - before, expected);
    }

    carol.sync().await;
    assert!(carol.device.store().messages("Alice").unwrap()[0].delivered);
    assert_no_trouble(&[&alice, carol]);
}

#[tokio::test(start_paused = true)]
async fn what_does_not_fit_one_answer_comes_in_the_next_rounds_in_order() {
    let network = MemoryNetwork::new(2, 22, Faults::default());
    let (mut alice, mut contacts) = alice_and_ten(&network).await;
    // Three texts of 6,000 bytes from each of three contacts: about 19 KB each, more than one
    // answer holds, so the batches' shared room runs out and mailboxes are fetched again.
    let long = |sender: &str, i: usize| format!("{sender} {i} {}", "x".repeat(6000));
    for contact in contacts.iter_mut().take(3) {
        for i in 0..3 {
            let text = long(contact.name, i);
            contact.device.send("Alice", &text, None).await.unwrap();
        }
    }
    let before = alice.packets().0;
    alice.sync().await;
    let cost = alice.packets().0 - before;
    for contact in contacts.iter().take(3) {
        let received: Vec<String> = alice
            .texts(contact, false)
            .into_iter()
            .map(|(_, text)| text)
            .collect();
        let sent: Vec<String> = (0..3).map(|i| long(contact.name, i)).collect();
        assert_eq!(
            received, sent,
            "{}'s texts, each once, in order",
            contact.name
        );
    }
    // Nine messages of 6 KB, two to an answer: five rounds of fetches at most, and a receipt
    // frame for each of the three conversations.
    assert!(cost <= 5 + 3, "{cost} packets");
    for contact in contacts.iter_mut().take(3) {
        contact.sync().await;
        let delivered = contact
            .device
            .store()
            .messages("Alice")
            .unwrap()
            .iter()
            .all(|m| m.delivered);
        assert!(delivered, "{}'s texts came back delivered", contact.name);
    }
    assert_no_trouble(&[&alice]);
}

#[tokio::test(start_paused = true)]
async fn answering_ten_conversations_costs_packets_per_host() {
    let network = MemoryNetwork::new(2, 23, Faults::default());
    let (mut alice, mut contacts) = alice_and_ten(&network).await;
    for contact in &mut contacts {
        contact.send(&alice, "hi").await;
    }
    let before = alice.packets().0;
    alice.sync().await;
    assert_eq!(
        alice.packets().0 - before,
        1 + 2,
        "the fetches, then the acknowledgements with their receipts, eight conversations to \
         a frame (one frame per conversation was ten)"
    );
    // Her ten receipts came back to her (she does not listen): they need acknowledging only,
    // all in one frame.
    let before = alice.packets().0;
    alice.sync().await;
    assert_eq!(alice.packets().0 - before, 2);
    for contact in &mut contacts {
        contact.sync().await;
        assert!(contact.device.store().messages("Alice").unwrap()[0].delivered);
    }
    assert_no_trouble(&[&alice]);
}

/// A listening device answers the pushes that came together the same way: one frame for the
/// acknowledgements and receipts of every conversation on the host.
#[tokio::test(start_paused = true)]
async fn pushes_from_three_conversations_are_answered_in_one_frame() {
    let network = MemoryNetwork::new(2, 24, Faults::default());
    let (mut alice, mut contacts) = alice_and_ten(&network).await;
    alice.listen().await;
    let before = alice.packets();
    for contact in contacts.iter_mut().take(3) {
        contact.send(&alice, "hello").await;
    }
    let (first, _) = contacts.split_at_mut(1);
    settle(&mut alice, &mut first[0]).await;
    let (sent, received) = (alice.packets().0 - before.0, alice.packets().1 - before.1);
    assert_eq!(
        (sent, received),
        (1, 3 + 1),
        "the three pushes, then one frame with every acknowledgement and receipt, and its answer"
    );
    assert_eq!(alice.device.store().take_unshown(None).unwrap().len(), 3);
    for contact in contacts.iter_mut().take(3) {
        contact.sync().await;
        assert!(contact.device.store().messages("Alice").unwrap()[0].delivered);
    }
    assert_no_trouble(&[&alice]);
}
