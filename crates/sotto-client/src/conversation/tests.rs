//! Conversations without a network: two devices' stores, and mailbox messages handed to
//! `apply` in an order the test picks, as a host would.

use sotto_proto::conversation::Content;
use sotto_proto::Message;

use super::apply::{apply, Applied};
use super::local;
use super::mls;
use super::seal::{seal, seal_self_update};
use crate::store::{Store, StoreKey};

struct Side {
    store: Store,
    number: i64,
    seq: u64,
}

impl Side {
    fn conversation(&self) -> crate::store::Conversation {
        self.store.conversation_by_number(self.number).unwrap()
    }

    fn send(&self, id: u8, text: &str) -> Vec<u8> {
        seal(
            &self.store,
            &self.conversation(),
            text_content(id, text),
            |_| Ok(()),
        )
        .unwrap()
    }

    /// Hands `wire` to this device as the host's next message.
    fn deliver(&mut self, wire: &[u8]) -> Applied {
        self.seq += 1;
        let message = Message {
            seq: self.seq,
            written_at: 0,
            body: wire.to_vec(),
        };
        apply(&self.store, &self.conversation(), &message).unwrap()
    }

    fn epoch(&self) -> u64 {
        let provider = self.store.provider();
        mls::load_group(&provider, &self.conversation().group_id)
            .unwrap()
            .epoch()
            .as_u64()
    }

    fn texts(&self) -> Vec<String> {
        let alias = self.conversation().alias;
        let messages = self.store.messages(&alias).unwrap();
        messages.into_iter().map(|m| m.text).collect()
    }
}

fn text_content(id: u8, text: &str) -> Vec<u8> {
    Content::Text {
        id: [id; 16],
        sent_at_ms: 1,
        reply_to: None,
        text: text.into(),
    }
    .encode()
    .unwrap()
}

fn pair(alice: Store, bob: Store) -> (Side, Side) {
    let (a, b) = local::pair(&alice, &bob, "Bob", "Alice").unwrap();
    let side = |store: Store, number| Side {
        store,
        number,
        seq: 0,
    };
    (side(alice, a), side(bob, b))
}

fn in_memory_pair() -> (Side, Side) {
    pair(
        Store::open_in_memory().unwrap(),
        Store::open_in_memory().unwrap(),
    )
}

#[test]
fn texts_apply_once_and_receipts_mark_delivery() {
    let (mut alice, mut bob) = in_memory_pair();
    let wire = alice.send(1, "hello");
    assert_eq!(alice.deliver(&wire), Applied::Confirmed);
    assert_eq!(
        bob.deliver(&wire),
        Applied::Text {
            id: [1; 16],
            new: true
        }
    );
    // The host redelivers the same position after a crash: applied once.
    let again = Message {
        seq: bob.seq,
        written_at: 0,
        body: wire.clone(),
    };
    assert_eq!(
        apply(&bob.store, &bob.conversation(), &again).unwrap(),
        Applied::Again
    );
    assert_eq!(bob.texts(), ["hello"]);

    alice
        .store
        .add_message(alice.number, &[1; 16], true, "hello", None, 1)
        .unwrap();
    let receipt = Content::Receipt {
        ids: vec![[1u8; 16]],
    }
    .encode()
    .unwrap();
    let receipt = seal(&bob.store, &bob.conversation(), receipt, |_| Ok(())).unwrap();
    assert_eq!(alice.deliver(&receipt), Applied::Receipt { count: 1 });
    assert!(alice.store.messages("Bob").unwrap()[0].delivered);
}

#[test]
fn a_tampered_ciphertext_is_rejected_and_changes_nothing() {
    let (alice, mut bob) = in_memory_pair();
    let wire = alice.send(1, "the real one");
    let epoch = bob.epoch();
    for position in [wire.len() / 2, wire.len() - 1] {
        let mut tampered = wire.clone();
        tampered[position] ^= 0x20;
        let Applied::Rejected(reason) = bob.deliver(&tampered) else {
            panic!("a tampered message must be rejected");
        };
        assert!(!reason.is_empty());
    }
    assert!(bob.texts().is_empty());
    assert_eq!(bob.epoch(), epoch);
    // Nothing moved: the genuine message still opens.
    assert!(matches!(
        bob.deliver(&wire),
        Applied::Text { new: true, .. }
    ));
}

#[test]
fn a_message_from_outside_the_conversation_is_rejected() {
    let (_alice, mut bob) = in_memory_pair();
    let (carol, _dave) = in_memory_pair();
    let Applied::Rejected(reason) = bob.deliver(&carol.send(9, "let me in")) else {
        panic!("a stranger's message must be rejected");
    };
    assert!(reason.contains("another conversation"), "{reason}");
    let Applied::Rejected(reason) = bob.deliver(b"not MLS at all") else {
        panic!("garbage must be rejected");
    };
    assert!(reason.contains("not an MLS message"), "{reason}");
    assert!(bob.texts().is_empty());
}

#[test]
fn a_removed_member_is_not_heard_and_loses_its_state() {
    let (mut alice, mut bob) = in_memory_pair();
    // Bob removes Alice (sotto has no remove command yet; the group operation is MLS's own).
    let removal = bob
        .store
        .transaction(|s| {
            let provider = s.provider();
            let mut group = mls::load_group(&provider, &bob.conversation().group_id)?;
            let signer = mls::own_signer(&provider, &group)?;
            let alice_leaf = group
                .members()
                .find(|m| m.index != group.own_leaf_index())
                .unwrap()
                .index;
            let (commit, _, _) = group
                .remove_members(&provider, &signer, &[alice_leaf])
                .map_err(mls::failed("removing"))?;
            group
                .merge_pending_commit(&provider)
                .map_err(mls::failed("removing"))?;
            mls::to_bytes(&commit)
        })
        .unwrap();
    // Alice wrote before she saw the removal; the host put it after.
    let late = alice.send(1, "am I still here?");
    assert_eq!(
        bob.deliver(&removal),
        Applied::Stale,
        "bob's own, already merged"
    );
    assert_eq!(bob.deliver(&late), Applied::Stale);
    assert!(bob.texts().is_empty(), "a removed member is not heard");
    assert_eq!(alice.deliver(&removal), Applied::Removed);
    let provider = alice.store.provider();
    assert!(
        mls::load_group(&provider, &alice.conversation().group_id).is_err(),
        "the removed device's group state is deleted"
    );
    // The remover writes once more: the removed device skips it rather than failing on the
    // state it no longer has (which used to stop it reading every other conversation).
    let after = bob.send(2, "you are out");
    assert_eq!(alice.deliver(&after), Applied::Ended);
    assert!(alice.conversation().removed);
}

#[test]
fn an_impossible_position_is_rejected_and_does_not_wedge_the_conversation() {
    let (alice, mut bob) = in_memory_pair();
    let wire = alice.send(1, "hello");
    let forged = Message {
        seq: u64::MAX,
        written_at: 0,
        body: wire.clone(),
    };
    assert!(matches!(
        apply(&bob.store, &bob.conversation(), &forged).unwrap(),
        Applied::Rejected(_)
    ));
    assert!(matches!(
        bob.deliver(&wire),
        Applied::Text { new: true, .. }
    ));
}

#[test]
fn a_message_that_crossed_a_commit_is_sent_again() {
    let (mut alice, mut bob) = in_memory_pair();
    let update = seal_self_update(&bob.store, &bob.conversation()).unwrap();
    let crossed = alice.send(1, "sealed before the update");
    // The host's order: Bob's update, then Alice's message.
    assert_eq!(bob.deliver(&update), Applied::Commit);
    assert_eq!(bob.deliver(&crossed), Applied::Stale);
    assert_eq!(alice.deliver(&update), Applied::Commit);
    let Applied::Resend(content) = alice.deliver(&crossed) else {
        panic!("alice must send it again");
    };
    let resent = seal(&alice.store, &alice.conversation(), content, |_| Ok(())).unwrap();
    assert_eq!(alice.deliver(&resent), Applied::Confirmed);
    assert!(matches!(
        bob.deliver(&resent),
        Applied::Text { new: true, .. }
    ));
    assert_eq!(bob.texts(), ["sealed before the update"]);
    assert_eq!(alice.epoch(), bob.epoch());
}

#[test]
fn the_first_commit_of_an_epoch_wins() {
    let (mut alice, mut bob) = in_memory_pair();
    let from_alice = seal_self_update(&alice.store, &alice.conversation()).unwrap();
    let from_bob = seal_self_update(&bob.store, &bob.conversation()).unwrap();
    for side in [&mut alice, &mut bob] {
        assert_eq!(side.deliver(&from_alice), Applied::Commit);
        assert_eq!(side.deliver(&from_bob), Applied::Stale);
    }
    assert_eq!(alice.epoch(), bob.epoch());
    let wire = bob.send(2, "still in step");
    assert!(matches!(
        alice.deliver(&wire),
        Applied::Text { new: true, .. }
    ));
}

#[test]
fn after_a_self_update_the_stored_state_no_longer_decrypts_earlier_ciphertext() {
    let dir = std::env::temp_dir().join(format!("sotto-fs-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = StoreKey::Raw([7; 32].into());
    let (mut alice, mut bob) = pair(
        Store::open(&dir.join("alice.db"), &key).unwrap(),
        Store::open(&dir.join("bob.db"), &key).unwrap(),
    );
    // A ciphertext Bob never received, captured by someone on the way.
    let captured = alice.send(1, "secret before the update");
    let before = dir.join("bob-before.db");
    bob.store
        .conn()
        .execute("VACUUM INTO ?1", [before.to_str().unwrap()])
        .unwrap();
    let update = seal_self_update(&bob.store, &bob.conversation()).unwrap();
    assert_eq!(bob.deliver(&update), Applied::Commit);
    assert_eq!(alice.deliver(&update), Applied::Commit);

    let opens = |store: &Store| {
        let provider = store.provider();
        let group_id = store.conversations().unwrap()[0].group_id.clone();
        let mut group = mls::load_group(&provider, &group_id).unwrap();
        group
            .process_message(&provider, mls::protocol_message(&captured).unwrap())
            .is_ok()
    };
    assert!(
        opens(&Store::open(&before, &key).unwrap()),
        "the state before the update decrypts it (so the check below can fail)"
    );
    drop(bob);
    let after = Store::open(&dir.join("bob.db"), &key).unwrap();
    assert!(!opens(&after), "the state after the update must not");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn forgetting_a_conversation_leaves_no_state_and_no_key_behind() {
    let (alice, _bob) = in_memory_pair();
    let group_id = alice.conversation().group_id;
    let key = {
        let provider = alice.store.provider();
        let group = mls::load_group(&provider, &group_id).unwrap();
        group
            .own_leaf_node()
            .unwrap()
            .signature_key()
            .as_slice()
            .to_vec()
    };
    let signer = |store: &Store| mls::signer(&store.provider(), &key).is_ok();
    assert!(signer(&alice.store));
    super::start::forget(&alice.store, &group_id).unwrap();
    assert!(
        !signer(&alice.store),
        "the conversation's signature key is gone"
    );
    assert!(mls::load_group(&alice.store.provider(), &group_id).is_err());
    assert!(alice.store.conversations().unwrap().is_empty());
}

#[test]
fn a_conversation_leaves_nothing_in_clear_in_either_home() {
    use crate::home::tests::{found_in_clear, not_owner_only, temp_home};
    use crate::home::{open_store, Unlock};

    let homes = [temp_home("talk-a"), temp_home("talk-b")];
    let open = |home: &std::path::Path, name: &str| {
        crate::init(home, name, &Unlock::KeyFile).unwrap();
        open_store(home, &Unlock::KeyFile).unwrap()
    };
    let (mut alice, mut bob) = pair(
        open(&homes[0], "Alice Liddell"),
        open(&homes[1], "Bob the Builder"),
    );
    let texts = ["down the rabbit hole", "can we fix it"];
    let wire = alice.send(1, texts[0]);
    alice.deliver(&wire);
    bob.deliver(&wire);
    let wire = bob.send(2, texts[1]);
    bob.deliver(&wire);
    alice.deliver(&wire);
    // Each device records what it sends itself (`Device::send`); here only what it received.
    assert_eq!(alice.texts(), [texts[1]]);
    assert_eq!(bob.texts(), [texts[0]]);

    // The names each device gave itself, the aliases each gave the other, the texts. ("Bob",
    // the other alias, is left out: three bytes turn up in a store's random-looking pages about
    // once in a hundred runs.)
    let secrets = [
        "Alice Liddell",
        "Bob the Builder",
        "Alice",
        texts[0],
        texts[1],
    ];
    for home in &homes {
        assert_eq!(found_in_clear(home, &secrets), []);
        assert_eq!(not_owner_only(home), []);
    }
    drop((alice, bob));
    for home in &homes {
        assert_eq!(found_in_clear(home, &secrets), []);
        std::fs::remove_dir_all(home).unwrap();
    }
}

#[test]
fn a_long_text_travels_in_parts_and_arrives_whole_once() {
    let (mut alice, mut bob) = in_memory_pair();
    // 20,000 bytes of multi-byte characters: three parts, cut between characters.
    let text: String = "é".repeat(10_000);
    let parts = super::text::text_contents([9; 16], 1, None, &text).unwrap();
    assert_eq!(parts.len(), 3);
    let wires: Vec<Vec<u8>> = parts
        .into_iter()
        .map(|content| seal(&alice.store, &alice.conversation(), content, |_| Ok(())).unwrap())
        .collect();
    for wire in &wires {
        alice.deliver(wire);
    }
    assert_eq!(bob.deliver(&wires[0]), Applied::Part);
    assert_eq!(bob.deliver(&wires[1]), Applied::Part);
    assert!(bob.texts().is_empty(), "nothing shown before the last part");
    assert_eq!(
        bob.deliver(&wires[2]),
        Applied::Text {
            id: [9; 16],
            new: true
        }
    );
    assert_eq!(bob.texts(), [text]);
    // The longest text fits; one byte more is not a text.
    let longest = "x".repeat(sotto_proto::conversation::MAX_TEXT_LEN);
    assert_eq!(
        super::text::text_contents([1; 16], 1, None, &longest)
            .unwrap()
            .len(),
        sotto_proto::conversation::MAX_TEXT_PARTS
    );
}
