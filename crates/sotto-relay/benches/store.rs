//! The mailbox host's hot path: write+ack pairs through `Host::handle_batch`, on the in-memory
//! store and on redb (each batch one durable commit), plus the raw store operations.
//! Frames are signed in setup, so the timed part is what a relay does: decode, verify, store.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;
use rand::RngCore;
use sotto_proto::{Command, Id, MailboxKind, Request, Response, ResponseBody};
use sotto_relay::host::{Host, HostConfig};
use sotto_relay::store::{MemoryStore, RedbStore, Store, Table};

/// Pairs answered by one batch, as the relay's host thread would take them under load.
const PAIRS_PER_BATCH: u64 = 64;
const BODY_LEN: usize = 256;
const NOW: u64 = 1_800_000_000;

struct Mailbox {
    write_id: Id,
    writer: SigningKey,
    read_id: Id,
    reader: SigningKey,
    next_seq: u64,
}

fn request(command: Command, target: Id, key: &SigningKey) -> Vec<u8> {
    let mut nonce = [0u8; 16];
    OsRng.fill_bytes(&mut nonce);
    Request {
        command,
        nonce,
        timestamp: NOW,
        target,
    }
    .seal(key)
    .expect("sealing")
}

fn create<S: Store>(host: &mut Host<S>) -> Mailbox {
    let (writer, reader) = (
        SigningKey::generate(&mut OsRng),
        SigningKey::generate(&mut OsRng),
    );
    let frame = request(
        Command::Create {
            kind: MailboxKind::Conversation,
            ttl_secs: 0,
            quota: 1024,
            writer_key: writer.verifying_key(),
            reader_key: reader.verifying_key(),
            voucher: None,
        },
        Id::from_bytes([0; Id::LEN]),
        &reader,
    );
    let outcome = host.handle_batch(&[frame], NOW, &mut OsRng);
    match Response::open(&outcome.handled[0].frame)
        .expect("response")
        .body
    {
        ResponseBody::Created { write_id, read_id } => Mailbox {
            write_id,
            writer,
            read_id,
            reader,
            next_seq: 1,
        },
        other => panic!("create failed: {other:?}"),
    }
}

/// One batch of write, ack, write, ack... for the mailbox.
fn pairs(mailbox: &mut Mailbox) -> Vec<Vec<u8>> {
    let mut frames = Vec::with_capacity(2 * PAIRS_PER_BATCH as usize);
    for _ in 0..PAIRS_PER_BATCH {
        let body = vec![0x5a; BODY_LEN];
        frames.push(request(
            Command::Write { body },
            mailbox.write_id,
            &mailbox.writer,
        ));
        frames.push(request(
            Command::Ack {
                seq: mailbox.next_seq,
            },
            mailbox.read_id,
            &mailbox.reader,
        ));
        mailbox.next_seq += 1;
    }
    frames
}

fn bench_pairs<S: Store>(c: &mut Criterion, name: &str, store: S) {
    let mut host = Host::open(store, HostConfig::default()).expect("host");
    let mut mailbox = create(&mut host);
    let mut group = c.benchmark_group("host");
    group.throughput(Throughput::Elements(PAIRS_PER_BATCH));
    group.bench_function(name, |b| {
        b.iter_batched(
            || pairs(&mut mailbox),
            |frames| host.handle_batch(&frames, NOW, &mut OsRng),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn temp_store() -> (RedbStore, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("sotto-bench-{}.redb", rand::random::<u64>()));
    (RedbStore::open(&path).expect("redb"), path)
}

fn host_pairs(c: &mut Criterion) {
    bench_pairs(c, "write_ack_pairs_memory", MemoryStore::new());
    let (store, path) = temp_store();
    bench_pairs(c, "write_ack_pairs_redb", store);
    let _ = std::fs::remove_file(path);
}

fn store_ops(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    let value = vec![7u8; BODY_LEN];
    let (redb, path) = temp_store();
    let stores: [(&str, Box<dyn Store>); 2] = [
        ("memory", Box::new(MemoryStore::new())),
        ("redb", Box::new(redb)),
    ];
    for (name, mut store) in stores {
        let mut key = 0u64;
        group.bench_function(format!("put_64_commit_{name}"), |b| {
            b.iter(|| {
                let mut txn = store.begin().expect("begin");
                for _ in 0..64 {
                    key += 1;
                    txn.put(Table::Messages, &key.to_be_bytes(), &value)
                        .expect("put");
                }
                txn.commit().expect("commit");
            })
        });
        group.bench_function(format!("get_{name}"), |b| {
            let txn = store.begin().expect("begin");
            b.iter(|| {
                txn.get(Table::Messages, &(key / 2).to_be_bytes())
                    .expect("get")
            })
        });
    }
    group.finish();
    let _ = std::fs::remove_file(path);
}

criterion_group!(benches, host_pairs, store_ops);
criterion_main!(benches);
