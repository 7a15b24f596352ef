//! One text through a conversation: sealed by one device (MLS encryption, outbox record) and
//! applied by the other (MLS decryption, stored message), both on SQLite in memory.

use criterion::{criterion_group, criterion_main, Criterion};
use sotto_client::conversation::apply::{apply, Applied};
use sotto_client::conversation::local::pair;
use sotto_client::conversation::seal::seal;
use sotto_client::store::Store;
use sotto_proto::conversation::Content;
use sotto_proto::Message;

fn text(n: u64) -> Vec<u8> {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&n.to_be_bytes());
    Content::Text {
        id,
        sent_at_ms: n,
        reply_to: None,
        text: "a message of ordinary length, a sentence or two long".into(),
    }
    .encode()
    .expect("a short text encodes")
}

fn seal_and_apply(c: &mut Criterion) {
    let alice = Store::open_in_memory().expect("a store");
    let bob = Store::open_in_memory().expect("a store");
    let (at_alice, at_bob) = pair(&alice, &bob, "Bob", "Alice").expect("a pair");
    let mut seq = 0u64;
    c.bench_function("conversation/seal + apply one text", |b| {
        b.iter(|| {
            seq += 1;
            let from = alice
                .conversation_by_number(at_alice)
                .expect("conversation");
            let wire = seal(&alice, &from, text(seq), |_| Ok(())).expect("sealed");
            let to = bob.conversation_by_number(at_bob).expect("conversation");
            let message = Message {
                seq,
                written_at: 0,
                body: wire,
            };
            let applied = apply(&bob, &to, &message).expect("applied");
            assert!(matches!(applied, Applied::Text { new: true, .. }));
        })
    });
}

criterion_group!(benches, seal_and_apply);
criterion_main!(benches);
