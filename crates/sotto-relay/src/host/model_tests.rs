//! The host against a model of mailbox semantics, over random sequences of commands.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sotto_proto::{Command, ErrorCode, Id, MailboxKind, Request, Response, ResponseBody};

use super::{Host, HostConfig};
use crate::store::MemoryStore;

const NOW: u64 = 1_800_000_000;
const QUOTA: u16 = 8;

#[derive(Debug, Clone)]
enum Op {
    Write(u8),
    Ack { reader: usize, back: u64 },
    Fetch { reader: usize },
    AddReader,
    RemoveReader { reader: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u8>().prop_map(Op::Write),
        3 => (0usize..4, 0u64..4).prop_map(|(reader, back)| Op::Ack { reader, back }),
        2 => (0usize..4).prop_map(|reader| Op::Fetch { reader }),
        1 => Just(Op::AddReader),
        1 => (0usize..4).prop_map(|reader| Op::RemoveReader { reader }),
    ]
}

struct Reader {
    id: Id,
    key: SigningKey,
    cursor: u64,
}

struct World {
    host: Host<MemoryStore>,
    rng: StdRng,
    write_id: Id,
    writer: SigningKey,
    readers: Vec<Reader>,
    /// (seq, body) of every message written, in order.
    written: Vec<(u64, u8)>,
}

impl World {
    fn send(&mut self, command: Command, target: Id, key: &SigningKey) -> ResponseBody {
        let mut nonce = [0u8; 16];
        self.rng.fill_bytes(&mut nonce);
        let frame = Request {
            command,
            nonce,
            timestamp: NOW,
            target,
        }
        .seal(key)
        .unwrap();
        let outcome = self.host.handle_batch(&[frame], NOW, &mut self.rng);
        Response::open(&outcome.handled[0].frame).unwrap().body
    }

    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let (writer, reader) = (
            SigningKey::generate(&mut rng),
            SigningKey::generate(&mut rng),
        );
        let mut world = Self {
            host: Host::open(MemoryStore::new(), HostConfig::default()).unwrap(),
            rng,
            write_id: Id::from_bytes([0; Id::LEN]),
            writer: writer.clone(),
            readers: Vec::new(),
            written: Vec::new(),
        };
        let create = Command::Create {
            kind: MailboxKind::Conversation,
            ttl_secs: 0,
            quota: QUOTA,
            writer_key: writer.verifying_key(),
            reader_key: reader.verifying_key(),
            voucher: None,
        };
        let ResponseBody::Created { write_id, read_id } =
            world.send(create, Id::from_bytes([0; Id::LEN]), &reader)
        else {
            panic!("create failed")
        };
        world.write_id = write_id;
        world.readers.push(Reader {
            id: read_id,
            key: reader,
            cursor: 0,
        });
        world
    }

    fn last_seq(&self) -> u64 {
        self.written.last().map_or(0, |(seq, _)| *seq)
    }

    fn stored(&self) -> usize {
        let floor = self.readers.iter().map(|r| r.cursor).min().unwrap_or(0);
        self.written.iter().filter(|(seq, _)| *seq > floor).count()
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Write(byte) => {
                let floor = self.readers.iter().map(|r| r.cursor).min().unwrap_or(0);
                let full = self.last_seq() - floor >= u64::from(QUOTA);
                let (writer, target) = (self.writer.clone(), self.write_id);
                let answer = self.send(Command::Write { body: vec![byte] }, target, &writer);
                if full {
                    assert_eq!(answer, ResponseBody::Error(ErrorCode::Quota));
                } else {
                    let seq = self.last_seq() + 1;
                    assert_eq!(answer, ResponseBody::Written { seq });
                    self.written.push((seq, byte));
                }
            }
            Op::Ack { reader, back } => {
                let last = self.last_seq();
                let index = reader % self.readers.len();
                let (id, key) = (self.readers[index].id, self.readers[index].key.clone());
                let seq = last.saturating_sub(back);
                assert_eq!(
                    self.send(Command::Ack { seq }, id, &key),
                    ResponseBody::Done
                );
                let r = &mut self.readers[index];
                r.cursor = r.cursor.max(seq);
            }
            Op::Fetch { reader } => {
                let r = &self.readers[reader % self.readers.len()];
                let (id, key, cursor) = (r.id, r.key.clone(), r.cursor);
                let ResponseBody::Messages(messages) = self.send(Command::Fetch, id, &key) else {
                    panic!("fetch failed")
                };
                let got: Vec<(u64, u8)> = messages.iter().map(|m| (m.seq, m.body[0])).collect();
                let expected: Vec<(u64, u8)> = self
                    .written
                    .iter()
                    .copied()
                    .filter(|(seq, _)| *seq > cursor)
                    .collect();
                assert_eq!(got, expected);
            }
            Op::AddReader => {
                let key = SigningKey::generate(&mut self.rng);
                let (id, by) = (self.readers[0].id, self.readers[0].key.clone());
                let ResponseBody::ReaderAdded { read_id } = self.send(
                    Command::AddReader {
                        reader_key: key.verifying_key(),
                    },
                    id,
                    &by,
                ) else {
                    panic!("add reader failed")
                };
                let cursor = self.last_seq();
                self.readers.push(Reader {
                    id: read_id,
                    key,
                    cursor,
                });
            }
            Op::RemoveReader { reader } => {
                if self.readers.len() < 2 {
                    return;
                }
                let gone = self.readers.remove(reader % self.readers.len());
                let (id, key) = (self.readers[0].id, self.readers[0].key.clone());
                assert_eq!(
                    self.send(Command::RemoveReader { read_id: gone.id }, id, &key),
                    ResponseBody::Done
                );
            }
        }
        assert_eq!(
            self.host.stats().messages,
            self.stored() as u64,
            "stored count after {op:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_host_behaves_like_the_model(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..60)) {
        let mut world = World::new(seed);
        for op in ops {
            world.apply(op);
        }
    }
}
