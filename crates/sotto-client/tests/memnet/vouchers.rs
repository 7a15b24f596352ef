//! A network that requires vouchers: devices pay for every mailbox and link without anyone
//! noticing, while creations without a good voucher are refused and create nothing.

use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;
use sotto_client::ConversationError;
use sotto_proto::voucher::Voucher;
use sotto_proto::{Command, ErrorCode, Id, MailboxKind, Request, Response, ResponseBody};

use crate::faults::Faults;
use crate::network::MemoryNetwork;
use crate::people::{assert_delivered, assert_no_trouble, connected, texts, Person};

const RELAYS: usize = 3;

/// A create frame of someone outside any device, with or without a voucher.
fn create(voucher: Option<Voucher>) -> Vec<u8> {
    let key = SigningKey::generate(&mut OsRng);
    let mut nonce = [0u8; 16];
    rand::RngCore::fill_bytes(&mut OsRng, &mut nonce);
    Request {
        command: Command::Create {
            kind: MailboxKind::Conversation,
            ttl_secs: 0,
            quota: 0,
            writer_key: key.verifying_key(),
            reader_key: key.verifying_key(),
            voucher,
        },
        nonce,
        timestamp: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        target: Id::from_bytes([0; Id::LEN]),
    }
    .seal(&key)
    .unwrap()
}

fn answer(frame: &[u8]) -> ResponseBody {
    Response::open(frame).unwrap().body
}

/// Sends `count` creations without vouchers to every relay; each must be refused.
fn flood(network: &MemoryNetwork, count: usize) {
    for relay in (0..RELAYS).map(|i| network.relay(i)) {
        for _ in 0..count {
            assert_eq!(
                answer(&network.send_to(&relay, create(None))),
                ResponseBody::Error(ErrorCode::VoucherNeeded)
            );
        }
    }
}

fn mailboxes_and_links(network: &MemoryNetwork) -> (u64, u64) {
    (0..RELAYS)
        .map(|i| network.held(&network.relay(i)))
        .fold((0, 0), |(m, l), (dm, dl)| (m + dm, l + dl))
}

#[tokio::test(start_paused = true)]
async fn a_flood_without_vouchers_is_refused_while_people_connect_and_talk() {
    let network = MemoryNetwork::with_vouchers(RELAYS, 31, Faults::default(), 20);
    flood(&network, 100);
    let (mut alice, mut bob) = connected(&network).await;
    flood(&network, 100);
    let (to_bob, to_alice) = (texts(&alice, 3), texts(&bob, 3));
    for (a, b) in to_bob.iter().zip(&to_alice) {
        alice.send(&bob, a).await;
        bob.send(&alice, b).await;
    }
    for _ in 0..2 {
        alice.sync().await;
        bob.sync().await;
    }
    assert_delivered(&alice, &bob, &to_bob);
    assert_delivered(&bob, &alice, &to_alice);
    assert_no_trouble(&[&alice, &bob]);
    // The conversation's mailbox is all there is: the answered link's mailbox and data are
    // gone, and the flood made nothing.
    assert_eq!(mailboxes_and_links(&network), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn the_wallet_pays_quietly_and_a_voucher_spends_once_at_one_host() {
    let network = MemoryNetwork::with_vouchers(RELAYS, 32, Faults::default(), 20);
    let (alice, bob) = connected(&network).await;
    // One refill of eight each: Alice paid for a mailbox and a link, Bob for a mailbox.
    assert_eq!(alice.device.store().vouchers().unwrap().len(), 6);
    assert_eq!(bob.device.store().vouchers().unwrap().len(), 7);

    let entry = alice.device.store().vouchers().unwrap().remove(0);
    alice.device.store().remove_voucher(&entry).unwrap();
    let (host, voucher) = (entry.host, entry.voucher);
    assert!(matches!(
        answer(&network.send_to(&host, create(Some(voucher.clone())))),
        ResponseBody::Created { .. }
    ));
    let spent = ResponseBody::Error(ErrorCode::VoucherSpent);
    assert_eq!(
        answer(&network.send_to(&host, create(Some(voucher.clone())))),
        spent
    );
    network.restart(&host, std::time::Duration::ZERO);
    assert_eq!(
        answer(&network.send_to(&host, create(Some(voucher.clone())))),
        spent
    );
    // Good at its own host only, so it buys one mailbox in the whole network.
    let invalid = ResponseBody::Error(ErrorCode::VoucherInvalid);
    for other in (0..RELAYS).map(|i| network.relay(i)).filter(|r| *r != host) {
        assert_eq!(
            answer(&network.send_to(&other, create(Some(voucher.clone())))),
            invalid
        );
    }
    let mut forged = voucher;
    forged.nonce[0] ^= 1;
    assert_eq!(
        answer(&network.send_to(&host, create(Some(forged)))),
        invalid
    );
}

#[tokio::test(start_paused = true)]
async fn a_device_past_its_daily_allowance_is_told_plainly() {
    let network = MemoryNetwork::with_vouchers(RELAYS, 33, Faults::default(), 3);
    let mut alice = Person::new(&network, "Alice", 0);
    // The refill asks for fewer while the allowance has less left: 2 of 3 for this link.
    alice.device.invite().await.unwrap();
    let refused = alice.device.invite().await.unwrap_err();
    assert!(
        matches!(refused, ConversationError::NoVouchers(_)),
        "{refused}"
    );
    assert!(refused.to_string().contains("tomorrow"), "{refused}");
}
