//! Every limit on what outsiders can make the host keep: met with a typed answer, counted,
//! freed again when what filled it goes, and never at the cost of what was acknowledged.

use sotto_proto::{Command, ErrorCode, Id, MailboxKind, ResponseBody, MAX_MESSAGE_LEN};

use super::records::{message_key, MailboxRecord};
use super::tests::{Bench, Mailbox};
use super::{Host, HostConfig, Limit};
use crate::store::{MemoryStore, Store, Table};

fn full() -> ResponseBody {
    ResponseBody::Error(ErrorCode::Full)
}

impl Bench {
    fn try_create(&mut self) -> ResponseBody {
        let (writer, reader) = (self.key(), self.key());
        let command = Command::Create {
            kind: MailboxKind::Conversation,
            ttl_secs: 0,
            quota: 0,
            writer_key: writer.verifying_key(),
            reader_key: reader.verifying_key(),
            voucher: None,
        };
        self.send(command, Id::from_bytes([0; Id::LEN]), &reader)
    }

    fn put_link(&mut self, data: &[u8]) -> ResponseBody {
        let owner = self.key();
        let command = Command::PutLink {
            ttl_secs: 0,
            owner_key: owner.verifying_key(),
            data: data.to_vec(),
            voucher: None,
        };
        self.send(command, Id::from_bytes([0; Id::LEN]), &owner)
    }

    /// The limit the last request of `frame` met, by running it.
    fn limit_met(&mut self, frame: Vec<u8>) -> Option<Limit> {
        let outcome = self.host.handle_batch(&[frame], self.now, &mut self.rng);
        outcome.handled[0].limit
    }

    /// What the store holds, counted afresh, against what the host keeps count of.
    fn recount(&mut self) -> (u64, u64) {
        let txn = self.host.store.begin().unwrap();
        let bytes =
            txn.stored_bytes(Table::Messages).unwrap() + txn.stored_bytes(Table::Links).unwrap();
        (bytes, txn.count(Table::Nonces).unwrap())
    }
}

fn limited(change: impl FnOnce(&mut HostConfig)) -> Bench {
    let mut config = HostConfig::default();
    change(&mut config);
    Bench::with(config)
}

#[test]
fn mailboxes_and_links_per_host_are_bounded() {
    let mut b = limited(|c| {
        c.max_mailboxes = 2;
        c.max_links = 1;
    });
    let first = b.create(MailboxKind::Conversation, 0, 0);
    b.create(MailboxKind::Conversation, 0, 0);
    assert_eq!(b.try_create(), full());
    let (writer, reader) = (b.key(), b.key());
    let create = Command::Create {
        kind: MailboxKind::Conversation,
        ttl_secs: 0,
        quota: 0,
        writer_key: writer.verifying_key(),
        reader_key: reader.verifying_key(),
        voucher: None,
    };
    let frame = b
        .request(create, Id::from_bytes([0; Id::LEN]))
        .seal(&reader)
        .unwrap();
    assert_eq!(b.limit_met(frame), Some(Limit::Mailboxes));
    assert_eq!(b.host.stats().mailboxes, 2);
    // A deleted mailbox makes room.
    let reader = first.reader.clone();
    b.send(Command::Delete, first.read_id, &reader);
    assert!(matches!(b.try_create(), ResponseBody::Created { .. }));

    assert!(matches!(b.put_link(b"a"), ResponseBody::LinkStored { .. }));
    assert_eq!(b.put_link(b"b"), full());
    assert_eq!(b.host.stats().links, 1);
}

#[test]
fn readers_per_mailbox_are_bounded() {
    let mut b = limited(|c| c.max_readers = 2);
    let m = b.create(MailboxKind::Conversation, 0, 0);
    let add = |b: &mut Bench| {
        let key = b.key().verifying_key();
        b.send(Command::AddReader { reader_key: key }, m.read_id, &m.reader)
    };
    assert!(matches!(add(&mut b), ResponseBody::ReaderAdded { .. }));
    assert_eq!(add(&mut b), full());
}

/// A host at its disk budget refuses writes, keeps every message it acknowledged, and takes
/// writes again (the very same retried frame too) once readers acknowledged what filled it.
#[test]
fn a_host_at_its_disk_budget_refuses_writes_and_loses_nothing() {
    let body = vec![7u8; MAX_MESSAGE_LEN];
    // Room for three of the largest messages with their keys and timestamps.
    let mut b = limited(|c| c.disk_budget_bytes = 3 * (32 + 8 + MAX_MESSAGE_LEN as u64) + 10);
    let m: Mailbox = b.create(MailboxKind::Conversation, 0, 0);
    for seq in 1..=3 {
        assert_eq!(b.write(&m, &body), ResponseBody::Written { seq });
    }
    let refused = b
        .request(
            Command::Write {
                body: body.to_vec(),
            },
            m.write_id,
        )
        .seal(&m.writer)
        .unwrap();
    assert_eq!(b.limit_met(refused.clone()), Some(Limit::DiskBudget));
    assert_eq!(
        b.put_link(&[1; 100]),
        full(),
        "link data counts against it too"
    );
    assert_eq!(
        b.try_create(),
        full(),
        "no mailbox that could not be written"
    );
    assert_eq!(b.host.stats().messages, 3, "nothing acknowledged went");
    assert_eq!(b.fetch(m.read_id, &m.reader)[0].seq, 1);
    assert_eq!(b.host.stats().bytes, b.recount().0);

    let reader = m.reader.clone();
    b.send(Command::Ack { seq: 2 }, m.read_id, &reader);
    assert_eq!(
        b.send_frame(refused),
        ResponseBody::Written { seq: 4 },
        "the refusal was not remembered: the same frame runs once there is room"
    );
    assert_eq!(b.fetch(m.read_id, &m.reader)[0].seq, 3);
    assert_eq!(b.host.stats().bytes, b.recount().0);
}

#[test]
fn remembered_answers_are_bounded_and_freed_by_the_replay_window() {
    let mut b = limited(|c| c.max_remembered = 3);
    let m = b.create(MailboxKind::Conversation, 0, 0);
    b.write(&m, b"1");
    b.write(&m, b"2");
    assert_eq!(b.host.stats().remembered, 3);
    let frame = b
        .request(
            Command::Write {
                body: b"3".to_vec(),
            },
            m.write_id,
        )
        .seal(&m.writer)
        .unwrap();
    assert_eq!(b.limit_met(frame), Some(Limit::Remembered));
    assert_eq!(b.write(&m, b"3"), ResponseBody::Error(ErrorCode::Busy));
    assert_eq!(
        b.fetch(m.read_id, &m.reader).len(),
        2,
        "what changes nothing needs no memory and still runs"
    );
    b.now += sotto_proto::REPLAY_WINDOW_SECS + 1;
    b.host.sweep(b.now).unwrap();
    assert_eq!(b.host.stats().remembered, 0);
    assert_eq!(b.recount().1, 0);
    assert_eq!(b.write(&m, b"3"), ResponseBody::Written { seq: 3 });
}

#[test]
fn counts_survive_expiry_and_a_restart() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 3600, 0);
    b.write(&m, &[1; 500]);
    b.put_link(&[2; 300]);
    b.now += 1800;
    b.write(&m, &[3; 200]);
    b.now += 1801;
    b.host.sweep(b.now).unwrap();
    let stats = b.host.stats();
    assert_eq!(stats.messages, 1, "the first message expired");
    assert_eq!((stats.bytes, stats.remembered), b.recount());
    let store = std::mem::replace(&mut b.host.store, MemoryStore::new());
    let reopened = Host::open(store, HostConfig::default()).unwrap();
    assert_eq!(reopened.stats(), stats);
}

/// A mailbox record that cannot be read was skipped by every sweep, forever; one whose
/// `next_seq` is 0 made `last_seq` wrap. Now both are corrupt records the sweep removes once,
/// with their messages, and what is sound stays.
#[test]
fn corrupt_mailbox_records_are_removed_once_and_never_wrap() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    b.write(&m, b"kept");
    let (broken, wrapped) = ([9u8; Id::LEN], [8u8; Id::LEN]);
    let mut store = std::mem::replace(&mut b.host.store, MemoryStore::new());
    let mut txn = store.begin().unwrap();
    let sound = txn.range(Table::Mailboxes, &[], &[0xff; 25], 1).unwrap();
    let mut record = MailboxRecord::decode(&sound[0].1).unwrap();
    record.next_seq = 0;
    let zero = postcard::to_allocvec(&record).unwrap();
    assert!(MailboxRecord::decode(&zero).is_err());
    txn.put(Table::Mailboxes, &wrapped, &zero).unwrap();
    txn.put(Table::Mailboxes, &broken, b"not a record").unwrap();
    txn.put(Table::Messages, &message_key(&broken, 1), &[0; 12])
        .unwrap();
    txn.commit().unwrap();
    b.host = Host::open(store, HostConfig::default()).unwrap();
    assert_eq!(b.host.stats().mailboxes, 3);

    b.host.sweep(b.now).unwrap();
    assert_eq!(b.host.stats().mailboxes, 1);
    assert_eq!(b.host.stats().messages, 1);
    let txn = b.host.store.begin().unwrap();
    assert_eq!(txn.get(Table::Mailboxes, &broken).unwrap(), None);
    assert_eq!(txn.get(Table::Mailboxes, &wrapped).unwrap(), None);
    drop(txn);
    assert_eq!(b.bodies(m.read_id, &m.reader), vec![b"kept".to_vec()]);
}
