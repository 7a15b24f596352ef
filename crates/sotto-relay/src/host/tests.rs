//! The host's rules, checked deterministically with a fixed clock and the in-memory store.

use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_proto::{
    Command, ErrorCode, Id, MailboxKind, Message, Request, Response, ResponseBody, MAX_MESSAGE_LEN,
};

use super::{Host, HostConfig, HostStats};
use crate::store::MemoryStore;

pub(super) const T0: u64 = 1_800_000_000;

pub(super) struct Bench {
    pub host: Host<MemoryStore>,
    pub rng: StdRng,
    pub now: u64,
}

pub(super) struct Mailbox {
    pub write_id: Id,
    pub writer: SigningKey,
    pub read_id: Id,
    pub reader: SigningKey,
}

impl Bench {
    pub fn new() -> Self {
        Self::with(HostConfig::default())
    }

    pub fn with(config: HostConfig) -> Self {
        Self {
            host: Host::open(MemoryStore::new(), config).unwrap(),
            rng: StdRng::seed_from_u64(7),
            now: T0,
        }
    }

    pub fn key(&mut self) -> SigningKey {
        SigningKey::generate(&mut self.rng)
    }

    pub fn request(&mut self, command: Command, target: Id) -> Request {
        let mut nonce = [0u8; 16];
        rand::RngCore::fill_bytes(&mut self.rng, &mut nonce);
        Request {
            command,
            nonce,
            timestamp: self.now,
            target,
        }
    }

    pub fn send_batch(&mut self, frames: &[Vec<u8>]) -> (Vec<ResponseBody>, usize) {
        let outcome = self.host.handle_batch(frames, self.now, &mut self.rng);
        let answers = outcome
            .handled
            .iter()
            .map(|h| Response::open(&h.frame).unwrap().body)
            .collect();
        (answers, outcome.appended.len())
    }

    pub fn send_frame(&mut self, frame: Vec<u8>) -> ResponseBody {
        self.send_batch(&[frame]).0.remove(0)
    }

    pub fn send(&mut self, command: Command, target: Id, key: &SigningKey) -> ResponseBody {
        let frame = self.request(command, target).seal(key).unwrap();
        self.send_frame(frame)
    }

    pub fn create(&mut self, kind: MailboxKind, ttl_secs: u32, quota: u16) -> Mailbox {
        let (writer, reader) = (self.key(), self.key());
        let command = Command::Create {
            kind,
            ttl_secs,
            quota,
            writer_key: writer.verifying_key(),
            reader_key: reader.verifying_key(),
            voucher: None,
        };
        match self.send(command, Id::from_bytes([0; Id::LEN]), &reader) {
            ResponseBody::Created { write_id, read_id } => Mailbox {
                write_id,
                writer,
                read_id,
                reader,
            },
            other => panic!("create failed: {other:?}"),
        }
    }

    pub fn write(&mut self, mailbox: &Mailbox, body: &[u8]) -> ResponseBody {
        let writer = mailbox.writer.clone();
        self.send(
            Command::Write {
                body: body.to_vec(),
            },
            mailbox.write_id,
            &writer,
        )
    }

    pub fn fetch(&mut self, read_id: Id, reader: &SigningKey) -> Vec<Message> {
        match self.send(Command::Fetch, read_id, reader) {
            ResponseBody::Messages(messages) | ResponseBody::MoreWaiting(messages) => messages,
            other => panic!("fetch failed: {other:?}"),
        }
    }

    pub fn bodies(&mut self, read_id: Id, reader: &SigningKey) -> Vec<Vec<u8>> {
        self.fetch(read_id, reader)
            .into_iter()
            .map(|m| m.body)
            .collect()
    }
}

impl HostStats {
    /// What mailboxes and links hold, leaving out the replay window's memory.
    fn held(self) -> Self {
        Self {
            remembered: 0,
            ..self
        }
    }
}

fn auth() -> ResponseBody {
    ResponseBody::Error(ErrorCode::Auth)
}

#[test]
fn writes_keep_one_order_and_acks_delete() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    for i in 0..5u8 {
        assert_eq!(
            b.write(&m, &[i]),
            ResponseBody::Written {
                seq: u64::from(i) + 1
            }
        );
    }
    assert_eq!(
        b.bodies(m.read_id, &m.reader),
        vec![vec![0], vec![1], vec![2], vec![3], vec![4]]
    );
    assert_eq!(
        b.send(Command::Ack { seq: 3 }, m.read_id, &m.reader),
        ResponseBody::Done
    );
    assert_eq!(b.bodies(m.read_id, &m.reader), vec![vec![3], vec![4]]);
    assert_eq!(b.host.stats().messages, 2);
}

#[test]
fn a_message_stays_until_every_reader_acknowledged_it() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    let second = b.key();
    let ResponseBody::ReaderAdded { read_id: second_id } = b.send(
        Command::AddReader {
            reader_key: second.verifying_key(),
        },
        m.read_id,
        &m.reader,
    ) else {
        panic!("add reader failed")
    };
    b.write(&m, b"hello");
    assert_eq!(b.bodies(second_id, &second), vec![b"hello".to_vec()]);
    b.send(Command::Ack { seq: 1 }, m.read_id, &m.reader);
    assert_eq!(
        b.host.stats().messages,
        1,
        "the second reader has not acknowledged"
    );
    assert_eq!(b.bodies(second_id, &second), vec![b"hello".to_vec()]);
    b.send(Command::Ack { seq: 1 }, second_id, &second);
    assert_eq!(b.host.stats().messages, 0);
    // Removing a reader releases what only it was holding back.
    b.write(&m, b"again");
    assert_eq!(
        b.send(
            Command::RemoveReader { read_id: second_id },
            m.read_id,
            &m.reader
        ),
        ResponseBody::Done
    );
    assert_eq!(b.send(Command::Fetch, second_id, &second), auth());
    b.send(Command::Ack { seq: 2 }, m.read_id, &m.reader);
    assert_eq!(b.host.stats().messages, 0);
}

#[test]
fn quota_counts_unacknowledged_messages() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 3);
    for _ in 0..3 {
        assert!(matches!(b.write(&m, b"x"), ResponseBody::Written { .. }));
    }
    assert_eq!(b.write(&m, b"x"), ResponseBody::Error(ErrorCode::Quota));
    b.send(Command::Ack { seq: 1 }, m.read_id, &m.reader);
    assert!(matches!(
        b.write(&m, b"x"),
        ResponseBody::Written { seq: 4 }
    ));
}

#[test]
fn one_time_mailbox_takes_one_write_and_is_gone_once_read() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::OneTimeRequest, 0, 0);
    assert_eq!(b.write(&m, b"welcome"), ResponseBody::Written { seq: 1 });
    assert_eq!(b.write(&m, b"second"), auth());
    assert_eq!(b.bodies(m.read_id, &m.reader), vec![b"welcome".to_vec()]);
    b.send(Command::Ack { seq: 1 }, m.read_id, &m.reader);
    assert_eq!(b.send(Command::Fetch, m.read_id, &m.reader), auth());
    assert_eq!(b.host.stats().mailboxes, 0);
}

#[test]
fn unknown_ids_and_wrong_keys_get_the_same_answer() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    let stranger = b.key();
    let unknown = Id::random(&mut b.rng);
    assert_eq!(b.send(Command::Fetch, m.read_id, &stranger), auth());
    assert_eq!(b.send(Command::Fetch, unknown, &m.reader), auth());
    // A writer capability does not read, and a reader's does not write.
    assert_eq!(b.send(Command::Fetch, m.write_id, &m.writer), auth());
    let reader = m.reader.clone();
    assert_eq!(
        b.send(Command::Write { body: vec![1] }, m.read_id, &reader),
        auth()
    );
    let response_len = |body: ResponseBody| {
        Response {
            nonce: [0; 16],
            body,
        }
        .encode()
        .len()
    };
    assert_eq!(response_len(auth()), response_len(auth()));
}

#[test]
fn stale_requests_are_refused() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    let mut request = b.request(Command::Fetch, m.read_id);
    request.timestamp = T0 - 3600;
    let frame = request.seal(&m.reader).unwrap();
    assert_eq!(b.send_frame(frame), ResponseBody::Error(ErrorCode::Stale));
}

#[test]
fn a_retried_write_is_appended_once() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    let frame = b
        .request(
            Command::Write {
                body: b"once".to_vec(),
            },
            m.write_id,
        )
        .seal(&m.writer)
        .unwrap();
    let (answers, appended) = b.send_batch(&[frame.clone(), frame]);
    assert_eq!(answers, vec![ResponseBody::Written { seq: 1 }; 2]);
    assert_eq!(appended, 1);
    assert_eq!(b.fetch(m.read_id, &m.reader).len(), 1);
}

#[test]
fn messages_and_idle_mailboxes_expire() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::File, 10, 0);
    b.write(&m, b"early");
    b.now += 6;
    b.write(&m, b"late");
    b.now += 5;
    assert_eq!(
        b.bodies(m.read_id, &m.reader),
        vec![b"late".to_vec()],
        "expired before the sweep ran"
    );
    b.host.sweep(b.now).unwrap();
    assert_eq!(b.host.stats().messages, 1);
    b.now += 11;
    b.host.sweep(b.now).unwrap();
    assert_eq!(b.host.stats().held(), Default::default());
    assert_eq!(b.send(Command::Fetch, m.read_id, &m.reader), auth());
}

#[test]
fn link_data_round_trips_and_expires() {
    let mut b = Bench::new();
    let owner = b.key();
    let put = Command::PutLink {
        ttl_secs: 30,
        owner_key: owner.verifying_key(),
        data: b"sealed".to_vec(),
        voucher: None,
    };
    let ResponseBody::LinkStored { link_id } = b.send(put, Id::from_bytes([0; Id::LEN]), &owner)
    else {
        panic!("put link failed")
    };
    let anyone = b.key();
    assert_eq!(
        b.send(Command::GetLink, link_id, &anyone),
        ResponseBody::LinkData(b"sealed".to_vec())
    );
    assert_eq!(b.send(Command::DeleteLink, link_id, &anyone), auth());
    b.now += 31;
    assert_eq!(b.send(Command::GetLink, link_id, &anyone), auth());
    b.host.sweep(b.now).unwrap();
    assert_eq!(b.host.stats().links, 0);
}

#[test]
fn delete_removes_everything() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::ContactAddress, 0, 0);
    b.write(&m, &vec![9; MAX_MESSAGE_LEN]);
    assert_eq!(
        b.send(Command::Delete, m.read_id, &m.reader),
        ResponseBody::Done
    );
    assert_eq!(b.host.stats().held(), Default::default());
    assert_eq!(b.write(&m, b"late"), auth());
}

#[test]
fn garbage_is_answered_malformed() {
    let mut b = Bench::new();
    assert_eq!(
        b.send_frame(vec![0; 10]),
        ResponseBody::Error(ErrorCode::Malformed)
    );
}

#[test]
fn a_fetch_returns_what_fits_one_frame() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    for _ in 0..5 {
        b.write(&m, &vec![1; 6000]);
    }
    let ResponseBody::MoreWaiting(first) = b.send(Command::Fetch, m.read_id, &m.reader) else {
        panic!("three more wait");
    };
    assert_eq!(first.len(), 2);
    b.send(Command::Ack { seq: 4 }, m.read_id, &m.reader);
    let ResponseBody::Messages(last) = b.send(Command::Fetch, m.read_id, &m.reader) else {
        panic!("the last one fits");
    };
    assert_eq!(last.iter().map(|m| m.seq).collect::<Vec<_>>(), [5]);
}

#[test]
fn the_fetches_of_a_batch_share_one_answer_and_say_what_is_left() {
    let mut b = Bench::new();
    let mailboxes: Vec<Mailbox> = (0..3)
        .map(|_| b.create(MailboxKind::Conversation, 0, 0))
        .collect();
    // 6,000 bytes each in the first two, one short message in the third: the first fetch
    // takes both of its own, the second has room for one of its two, the third's still fits.
    for m in &mailboxes[..2] {
        b.write(m, &vec![1; 6000]);
        b.write(m, &vec![2; 6000]);
    }
    let first = &mailboxes[0];
    b.send(Command::Ack { seq: 1 }, first.read_id, &first.reader);
    b.write(&mailboxes[2], b"short");
    let fetches = mailboxes
        .iter()
        .map(|m| (Command::Fetch, m.read_id, m.reader.clone()))
        .collect();
    let (answers, _) = b.batch(fetches);
    let seqs = |messages: &[Message]| messages.iter().map(|m| m.seq).collect::<Vec<_>>();
    let [ResponseBody::Messages(a), ResponseBody::MoreWaiting(c), ResponseBody::Messages(d)] =
        &answers[..]
    else {
        panic!("{answers:?}");
    };
    assert_eq!((seqs(a), seqs(c), seqs(d)), (vec![2], vec![1], vec![1]));
    // With an acknowledgement before it in the next batch, the rest comes.
    let second = &mailboxes[1];
    let (answers, _) = b.batch(vec![
        (
            Command::Ack { seq: 1 },
            second.read_id,
            second.reader.clone(),
        ),
        (Command::Fetch, second.read_id, second.reader.clone()),
    ]);
    assert!(
        matches!(&answers[..], [ResponseBody::Done, ResponseBody::Messages(m)] if seqs(m) == [2]),
        "{answers:?}"
    );
}

/// Subscribes ride in a batch as fetches do: their answers share the frame's room, and each
/// accepted one asks for pushes to its reader on its own answer; one the host refuses does not.
#[test]
fn the_subscribes_of_a_batch_share_one_answer_and_each_asks_for_pushes() {
    let mut b = Bench::new();
    let mailboxes: Vec<Mailbox> = (0..2)
        .map(|_| b.create(MailboxKind::Conversation, 0, 0))
        .collect();
    for m in &mailboxes {
        b.write(m, &vec![1; 6000]);
        b.write(m, &vec![2; 6000]);
    }
    let stranger = b.key();
    let mut parts: Vec<(Request, &SigningKey)> = mailboxes
        .iter()
        .map(|m| (b.request(Command::Subscribe, m.read_id), &m.reader))
        .collect();
    parts.push((
        b.request(Command::Subscribe, mailboxes[0].read_id),
        &stranger,
    ));
    let frame = sotto_proto::batch::seal_batch(&parts).unwrap();
    let outcome = b.host.handle_batch(&[frame], b.now, &mut b.rng);
    let handled = &outcome.handled[0];
    let subscribed: Vec<Option<Id>> = handled.batched.iter().map(|h| h.subscribed).collect();
    assert_eq!(
        subscribed,
        [Some(mailboxes[0].read_id), Some(mailboxes[1].read_id), None]
    );
    let answers: Vec<ResponseBody> = sotto_proto::batch::open_answers(&handled.frame)
        .unwrap()
        .into_iter()
        .map(|r| r.body)
        .collect();
    let seqs = |messages: &[Message]| messages.iter().map(|m| m.seq).collect::<Vec<_>>();
    let [ResponseBody::Messages(a), ResponseBody::MoreWaiting(c), refused] = &answers[..] else {
        panic!("{answers:?}");
    };
    assert_eq!((seqs(a), seqs(c)), (vec![1, 2], vec![]), "the room ran out");
    assert_eq!(refused, &auth());
}

#[test]
fn a_retried_delete_gets_its_first_answer() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    let frame = b
        .request(Command::Delete, m.read_id)
        .seal(&m.reader)
        .unwrap();
    assert_eq!(b.send_frame(frame.clone()), ResponseBody::Done);
    assert_eq!(b.send_frame(frame), ResponseBody::Done);
    // A replay signed by another key does not get it.
    let stranger = b.key();
    assert_eq!(b.send(Command::Delete, m.read_id, &stranger), auth());
}

#[test]
fn one_forged_request_in_a_batch_fails_alone() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    let stranger = b.key();
    let unknown = Id::random(&mut b.rng);
    let frames = vec![
        b.request(Command::Write { body: vec![1] }, m.write_id)
            .seal(&m.writer)
            .unwrap(),
        b.request(Command::Write { body: vec![2] }, m.write_id)
            .seal(&stranger)
            .unwrap(),
        b.request(Command::Fetch, unknown).seal(&m.reader).unwrap(),
        b.request(Command::Write { body: vec![3] }, m.write_id)
            .seal(&m.writer)
            .unwrap(),
    ];
    let (answers, _) = b.send_batch(&frames);
    assert_eq!(
        answers,
        vec![
            ResponseBody::Written { seq: 1 },
            auth(),
            auth(),
            ResponseBody::Written { seq: 2 }
        ]
    );
}

#[test]
fn a_capability_removed_earlier_in_the_batch_is_refused() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    let frames = vec![
        b.request(Command::Delete, m.read_id)
            .seal(&m.reader)
            .unwrap(),
        b.request(Command::Write { body: vec![1] }, m.write_id)
            .seal(&m.writer)
            .unwrap(),
    ];
    let (answers, _) = b.send_batch(&frames);
    assert_eq!(answers, vec![ResponseBody::Done, auth()]);
}

impl Bench {
    /// Runs `parts` as one batch frame; returns the answers and the outcome's pushes.
    fn batch(
        &mut self,
        parts: Vec<(Command, Id, SigningKey)>,
    ) -> (Vec<ResponseBody>, Vec<super::Appended>) {
        let requests: Vec<(Request, SigningKey)> = parts
            .into_iter()
            .map(|(command, target, key)| (self.request(command, target), key))
            .collect();
        let signed: Vec<(Request, &SigningKey)> =
            requests.iter().map(|(r, k)| (r.clone(), k)).collect();
        let frame = sotto_proto::batch::seal_batch(&signed).unwrap();
        let outcome = self.host.handle_batch(&[frame], self.now, &mut self.rng);
        let answers = sotto_proto::batch::open_answers(&outcome.handled[0].frame)
            .unwrap()
            .into_iter()
            .map(|r| r.body)
            .collect();
        (answers, outcome.appended)
    }
}

#[test]
fn a_batch_runs_in_order_and_a_writers_own_message_is_not_pushed_back() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    let (writer, reader) = (m.writer.clone(), m.reader.clone());
    // The reader writes a receipt: acknowledged for itself in the same frame, so its own
    // message is pushed to no one here (it is the only reader).
    let (answers, appended) = b.batch(vec![
        (
            Command::Write {
                body: b"mine".to_vec(),
            },
            m.write_id,
            writer.clone(),
        ),
        (Command::AckWrite, m.read_id, reader.clone()),
    ]);
    assert_eq!(
        answers,
        [ResponseBody::Written { seq: 1 }, ResponseBody::Done]
    );
    assert_eq!(appended.len(), 1);
    assert!(
        appended[0].read_ids.is_empty(),
        "not pushed back to its writer"
    );
    assert!(
        b.fetch(m.read_id, &reader).is_empty(),
        "acknowledged, so deleted"
    );

    // Someone else's message waits: the write is acknowledged only once that one is read.
    b.write(&m, b"theirs");
    let (answers, appended) = b.batch(vec![
        (
            Command::Write {
                body: b"second".to_vec(),
            },
            m.write_id,
            writer.clone(),
        ),
        (Command::AckWrite, m.read_id, reader.clone()),
    ]);
    assert_eq!(
        answers,
        [ResponseBody::Written { seq: 3 }, ResponseBody::Skipped]
    );
    assert_eq!(
        appended[0].read_ids,
        [m.read_id],
        "pushed in order, like any message"
    );
    assert_eq!(
        b.bodies(m.read_id, &reader),
        [b"theirs".to_vec(), b"second".to_vec()]
    );

    // An acknowledgement, then a receipt with its own acknowledgement, in one frame.
    let (answers, _) = b.batch(vec![
        (Command::Ack { seq: 3 }, m.read_id, reader.clone()),
        (
            Command::Write {
                body: b"receipt".to_vec(),
            },
            m.write_id,
            writer.clone(),
        ),
        (Command::AckWrite, m.read_id, reader.clone()),
    ]);
    assert_eq!(
        answers,
        [
            ResponseBody::Done,
            ResponseBody::Written { seq: 4 },
            ResponseBody::Done
        ]
    );
    assert!(b.fetch(m.read_id, &reader).is_empty());
}

#[test]
fn an_ack_write_acknowledges_only_a_write_of_its_own_frame() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    let reader = m.reader.clone();
    b.write(&m, b"someone's");
    // Alone, or after a write of another frame: nothing of this frame was written.
    assert_eq!(
        b.send(Command::AckWrite, m.read_id, &reader),
        ResponseBody::Skipped
    );
    let (answers, _) = b.batch(vec![(Command::AckWrite, m.read_id, reader.clone())]);
    assert_eq!(answers, [ResponseBody::Skipped]);
    assert_eq!(
        b.bodies(m.read_id, &reader),
        [b"someone's".to_vec()],
        "not acknowledged"
    );
    // A write to another mailbox in the frame does not count for this one.
    let other = b.create(MailboxKind::Conversation, 0, 0);
    b.send(Command::Ack { seq: 1 }, m.read_id, &reader);
    let (answers, _) = b.batch(vec![
        (
            Command::Write {
                body: b"elsewhere".to_vec(),
            },
            other.write_id,
            other.writer.clone(),
        ),
        (Command::AckWrite, m.read_id, reader.clone()),
    ]);
    assert_eq!(answers[1], ResponseBody::Skipped);
}

#[test]
fn a_repeated_batch_gets_its_first_answers_and_writes_once() {
    let mut b = Bench::new();
    let m = b.create(MailboxKind::Conversation, 0, 0);
    let parts = [
        (
            b.request(
                Command::Write {
                    body: b"once".to_vec(),
                },
                m.write_id,
            ),
            m.writer.clone(),
        ),
        (b.request(Command::AckWrite, m.read_id), m.reader.clone()),
    ];
    let signed: Vec<(Request, &SigningKey)> = parts.iter().map(|(r, k)| (r.clone(), k)).collect();
    let frame = sotto_proto::batch::seal_batch(&signed).unwrap();
    let first = b
        .host
        .handle_batch(std::slice::from_ref(&frame), b.now, &mut b.rng);
    let again = b.host.handle_batch(&[frame], b.now, &mut b.rng);
    assert_eq!(first.handled[0].frame, again.handled[0].frame);
    assert!(again.appended.is_empty(), "the write ran once");
}
