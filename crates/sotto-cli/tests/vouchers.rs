//! A localnet that requires vouchers (`sotto localnet --vouchers N`), as real processes: its
//! relay 0 issues vouchers through the onion path, people connect and talk paying for their
//! mailboxes without noticing, and the issuer keeps no trace of where its vouchers went.

use std::path::Path;

use sotto_client::{init, ConversationError, Device, Event, Unlock};
use sotto_testnet::TestLocalnet;

const PER_DAY: u32 = 10;

#[tokio::test(flavor = "current_thread")]
async fn people_connect_on_a_voucher_localnet_within_their_allowance() {
    let net = TestLocalnet::start_with_vouchers(Path::new(env!("CARGO_BIN_EXE_sotto")), 5, PER_DAY);
    let issuer = net
        .directory()
        .issuer()
        .cloned()
        .expect("the network file names an issuer");
    assert_eq!(issuer.relay(), &net.relay(0));
    let device = |name: &str| {
        let home = net.root().join(name.to_lowercase());
        init(&home, name, &Unlock::KeyFile).unwrap();
        Device::open(&home, &Unlock::KeyFile, net.directory().clone()).unwrap()
    };
    let (mut alice, mut bob) = (device("Alice"), device("Bob"));
    let link = alice.invite().await.unwrap().to_string();
    assert_eq!(bob.connect(&link, None).await.unwrap(), "Alice");
    let events = alice.sync().await.unwrap();
    assert!(
        events.contains(&Event::Connected {
            alias: "Bob".into()
        }),
        "{events:?}"
    );
    bob.send("Alice", "paid for", None).await.unwrap();
    alice.sync().await.unwrap();
    let texts: Vec<String> = alice
        .store()
        .messages("Bob")
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["paid for"]);

    // One refill of eight, two spent: the request mailbox and the link data.
    assert_eq!(alice.store().vouchers().unwrap().len(), 6);
    // A device takes at most PER_DAY a day: inviting on empties the wallet, and then the
    // device says so plainly.
    let mut invites = 0;
    let refused = loop {
        match alice.invite().await {
            Ok(_) => invites += 1,
            Err(error) => break error,
        }
        assert!(invites < 10, "the allowance never ran out");
    };
    assert!(
        matches!(refused, ConversationError::NoVouchers(_)),
        "{refused}"
    );
}
