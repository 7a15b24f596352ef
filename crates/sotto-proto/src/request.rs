//! Mailbox commands as a client sends them: one signed request per frame.
//!
//! Body layout: `command u8 | nonce [16] | timestamp u64 BE | target id [24] | arguments |
//! signature [64]`. The signature is Ed25519 over [`SIGNING_CONTEXT`] followed by every body byte
//! before it, made with the key of the capability the command uses.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::cursor::{put_blob, Cursor};
use crate::frame::{open_frame, seal_frame, FrameKind};
use crate::voucher::{Voucher, BLIND_LEN, MAX_ISSUE, MAX_PAID_LINK_DATA_LEN};
use crate::{DecodeError, Id, MailboxKind};

const SIGNING_CONTEXT: &[u8] = b"sotto/mailbox-request/v1\0";
const SIGNATURE_LEN: usize = 64;
/// Largest message body a write can carry: the frame minus the write's own fields.
pub const MAX_MESSAGE_LEN: usize = 14_208;
/// Largest stored file chunk: as large as a message, so a `put_chunk` fills the frame as a
/// `write` does (113 + 4 + 2 + 14 208 = 14 327 of 14 332 bytes).
pub const MAX_CHUNK_LEN: usize = MAX_MESSAGE_LEN;
/// A host accepts requests whose timestamp is within this many seconds of its clock, and
/// remembers their nonces that long, so a captured request cannot be replayed.
pub const REPLAY_WINDOW_SECS: u64 = 600;

/// One mailbox command with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Create a mailbox. Signed by `reader_key`, which proves the creator holds it.
    Create {
        kind: MailboxKind,
        /// Message lifetime and idle lifetime of the mailbox; 0 asks for the host's default.
        ttl_secs: u32,
        /// Unacknowledged messages allowed; 0 asks for the host's default.
        quota: u16,
        writer_key: VerifyingKey,
        reader_key: VerifyingKey,
        /// Spent on a network whose hosts require one (code 20 instead of 1).
        voucher: Option<Voucher>,
    },
    /// Append a message (target: write id).
    Write { body: Vec<u8> },
    /// Receive every new message as a push, and the waiting ones now (target: read id).
    Subscribe,
    /// Receive the waiting messages (target: read id).
    Fetch,
    /// Acknowledge every message up to and including `seq` (target: read id).
    Ack { seq: u64 },
    /// Give another reader its own read id (target: read id of an existing reader).
    AddReader { reader_key: VerifyingKey },
    /// Take a reader's capability away (target: read id of any reader).
    RemoveReader { read_id: Id },
    /// Delete the mailbox and everything in it (target: read id).
    Delete,
    /// Store an encrypted blob behind a new link id. Signed by `owner_key`.
    PutLink {
        ttl_secs: u32,
        owner_key: VerifyingKey,
        data: Vec<u8>,
        /// Spent on a network whose hosts require one (code 21 instead of 9).
        voucher: Option<Voucher>,
    },
    /// Read a link's blob (target: link id). Knowing the id is the capability, so it is unsigned.
    GetLink,
    /// Remove a link's blob before its TTL (target: link id, signed by the owner key).
    DeleteLink,
    /// In a batch, after a write to the same mailbox: acknowledge, for this reader, the message
    /// that write appended, if the reader has acknowledged everything before it; the host then
    /// does not push the writer's own message back to it (target: read id). Answered `Done`,
    /// or `Skipped` when earlier messages wait for the reader.
    AckWrite,
    /// Ask the network's issuer to sign blinded vouchers for its key of `epoch`. Signed by
    /// `device_key`, whose daily allowance it draws on.
    Issue {
        device_key: VerifyingKey,
        epoch: u32,
        blinded: Vec<[u8; BLIND_LEN]>,
    },
    /// Create a file: `chunks` chunks for `recipients` readers, gone when all of them said
    /// `FileDone` or at its TTL. Signed by `reader_key`, which every recipient shares.
    CreateFile {
        /// Lifetime from creation; 0 asks for the host's default.
        ttl_secs: u32,
        /// How many distinct `FileDone` receipts delete the file.
        recipients: u16,
        chunks: u32,
        writer_key: VerifyingKey,
        reader_key: VerifyingKey,
    },
    /// Store chunk `index` (target: the file's write id). Storing an index again replaces it.
    PutChunk { index: u32, data: Vec<u8> },
    /// Read chunk `index` (target: the file's read id); reading moves nothing.
    GetChunk { index: u32 },
    /// One recipient has the whole file (target: read id). `receipt` is random per recipient
    /// and file, so a retry counts once.
    FileDone { receipt: [u8; 16] },
    /// Delete the file before its TTL (target: write id).
    DeleteFile,
}

impl Command {
    fn code(&self) -> u8 {
        match self {
            Self::Create { voucher: None, .. } => 1,
            Self::Create {
                voucher: Some(_), ..
            } => 20,
            Self::Write { .. } => 2,
            Self::Subscribe => 3,
            Self::Fetch => 4,
            Self::Ack { .. } => 5,
            Self::AddReader { .. } => 6,
            Self::RemoveReader { .. } => 7,
            Self::Delete => 8,
            Self::PutLink { voucher: None, .. } => 9,
            Self::PutLink {
                voucher: Some(_), ..
            } => 21,
            Self::GetLink => 10,
            Self::DeleteLink => 11,
            Self::AckWrite => 12,
            Self::CreateFile { .. } => 13,
            Self::PutChunk { .. } => 14,
            Self::GetChunk { .. } => 15,
            Self::FileDone { .. } => 16,
            Self::DeleteFile => 17,
            Self::Issue { .. } => 22,
        }
    }

    /// A stable name for metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Write { .. } => "write",
            Self::Subscribe => "subscribe",
            Self::Fetch => "fetch",
            Self::Ack { .. } => "ack",
            Self::AddReader { .. } => "add_reader",
            Self::RemoveReader { .. } => "remove_reader",
            Self::Delete => "delete",
            Self::PutLink { .. } => "put_link",
            Self::GetLink => "get_link",
            Self::DeleteLink => "delete_link",
            Self::AckWrite => "ack_write",
            Self::CreateFile { .. } => "create_file",
            Self::PutChunk { .. } => "put_chunk",
            Self::GetChunk { .. } => "get_chunk",
            Self::FileDone { .. } => "file_done",
            Self::DeleteFile => "delete_file",
            Self::Issue { .. } => "issue",
        }
    }

    /// Every command name, for metrics that list all kinds from the start.
    pub const NAMES: [&'static str; 18] = [
        "create",
        "write",
        "subscribe",
        "fetch",
        "ack",
        "add_reader",
        "remove_reader",
        "delete",
        "put_link",
        "get_link",
        "delete_link",
        "ack_write",
        "create_file",
        "put_chunk",
        "get_chunk",
        "file_done",
        "delete_file",
        "issue",
    ];

    /// Whether the command may ride in a batch: its answer is short, or (a fetch, a
    /// subscribe) takes only the room the batch leaves it, so the answers of a whole batch
    /// always fit one frame. Link data, a chunk and an issue (whose signatures fill half a
    /// frame) travel alone.
    pub fn fits_a_batch(&self) -> bool {
        !matches!(
            self,
            Self::GetLink | Self::Issue { .. } | Self::GetChunk { .. }
        )
    }

    /// Whether the command changes what the host stores (and so is remembered by nonce, to make
    /// a retry return the first answer instead of acting twice).
    pub fn mutates(&self) -> bool {
        !matches!(
            self,
            Self::Subscribe | Self::Fetch | Self::GetLink | Self::GetChunk { .. }
        )
    }

    /// Whether the command makes its object rather than naming one (its target is all zero).
    pub fn creates(&self) -> bool {
        matches!(
            self,
            Self::Create { .. }
                | Self::PutLink { .. }
                | Self::CreateFile { .. }
                | Self::Issue { .. }
        )
    }

    fn encode_args(&self, out: &mut Vec<u8>) {
        match self {
            Self::Create {
                kind,
                ttl_secs,
                quota,
                writer_key,
                reader_key,
                voucher,
            } => {
                out.push(kind.code());
                out.extend_from_slice(&ttl_secs.to_be_bytes());
                out.extend_from_slice(&quota.to_be_bytes());
                out.extend_from_slice(writer_key.as_bytes());
                out.extend_from_slice(reader_key.as_bytes());
                if let Some(voucher) = voucher {
                    voucher.encode(out);
                }
            }
            Self::Write { body } => put_blob(out, body),
            Self::Ack { seq } => out.extend_from_slice(&seq.to_be_bytes()),
            Self::AddReader { reader_key } => out.extend_from_slice(reader_key.as_bytes()),
            Self::RemoveReader { read_id } => out.extend_from_slice(read_id.as_bytes()),
            Self::PutLink {
                ttl_secs,
                owner_key,
                data,
                voucher,
            } => {
                out.extend_from_slice(&ttl_secs.to_be_bytes());
                out.extend_from_slice(owner_key.as_bytes());
                put_blob(out, data);
                if let Some(voucher) = voucher {
                    voucher.encode(out);
                }
            }
            Self::Issue {
                device_key,
                epoch,
                blinded,
            } => {
                out.extend_from_slice(device_key.as_bytes());
                out.extend_from_slice(&epoch.to_be_bytes());
                // At most MAX_ISSUE, which the constructor of the request keeps to.
                out.push(u8::try_from(blinded.len()).unwrap_or(u8::MAX));
                for message in blinded {
                    out.extend_from_slice(message);
                }
            }
            Self::CreateFile {
                ttl_secs,
                recipients,
                chunks,
                writer_key,
                reader_key,
            } => {
                out.extend_from_slice(&ttl_secs.to_be_bytes());
                out.extend_from_slice(&recipients.to_be_bytes());
                out.extend_from_slice(&chunks.to_be_bytes());
                out.extend_from_slice(writer_key.as_bytes());
                out.extend_from_slice(reader_key.as_bytes());
            }
            Self::PutChunk { index, data } => {
                out.extend_from_slice(&index.to_be_bytes());
                put_blob(out, data);
            }
            Self::GetChunk { index } => out.extend_from_slice(&index.to_be_bytes()),
            Self::FileDone { receipt } => out.extend_from_slice(receipt),
            Self::Subscribe
            | Self::Fetch
            | Self::Delete
            | Self::GetLink
            | Self::DeleteLink
            | Self::AckWrite
            | Self::DeleteFile => {}
        }
    }

    fn decode_args(code: u8, cur: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        Ok(match code {
            1 | 20 => Self::Create {
                kind: MailboxKind::from_code(cur.u8("mailbox kind")?)?,
                ttl_secs: cur.u32("ttl")?,
                quota: cur.u16("quota")?,
                writer_key: key(cur, "writer key")?,
                reader_key: key(cur, "reader key")?,
                voucher: paid(code == 20, cur)?,
            },
            2 => Self::Write {
                body: cur.blob("message body", MAX_MESSAGE_LEN)?.to_vec(),
            },
            3 => Self::Subscribe,
            4 => Self::Fetch,
            5 => Self::Ack {
                seq: cur.u64("sequence number")?,
            },
            6 => Self::AddReader {
                reader_key: key(cur, "reader key")?,
            },
            7 => Self::RemoveReader {
                read_id: cur.id("read id")?,
            },
            8 => Self::Delete,
            9 | 21 => Self::PutLink {
                ttl_secs: cur.u32("ttl")?,
                owner_key: key(cur, "owner key")?,
                data: cur
                    .blob(
                        "link data",
                        if code == 21 {
                            MAX_PAID_LINK_DATA_LEN
                        } else {
                            crate::MAX_LINK_DATA_LEN
                        },
                    )?
                    .to_vec(),
                voucher: paid(code == 21, cur)?,
            },
            10 => Self::GetLink,
            11 => Self::DeleteLink,
            12 => Self::AckWrite,
            13 => Self::CreateFile {
                ttl_secs: cur.u32("ttl")?,
                recipients: cur.u16("recipients")?,
                chunks: cur.u32("chunk count")?,
                writer_key: key(cur, "writer key")?,
                reader_key: key(cur, "reader key")?,
            },
            14 => Self::PutChunk {
                index: cur.u32("chunk index")?,
                data: cur.blob("chunk", MAX_CHUNK_LEN)?.to_vec(),
            },
            15 => Self::GetChunk {
                index: cur.u32("chunk index")?,
            },
            16 => Self::FileDone {
                receipt: cur.array("receipt")?,
            },
            17 => Self::DeleteFile,
            22 => {
                let device_key = key(cur, "device key")?;
                let epoch = cur.u32("voucher key epoch")?;
                let count = usize::from(cur.u8("voucher count")?);
                if count == 0 || count > MAX_ISSUE {
                    return Err(DecodeError::Invalid("an issue asks for 1 to 32 vouchers"));
                }
                let blinded = (0..count)
                    .map(|_| cur.array("blinded voucher"))
                    .collect::<Result<_, _>>()?;
                Self::Issue {
                    device_key,
                    epoch,
                    blinded,
                }
            }
            other => {
                return Err(DecodeError::UnknownCode {
                    what: "command",
                    code: other,
                })
            }
        })
    }
}

/// Decodes a public key, refusing two things point decompression lets through: a non-canonical
/// encoding, which names a key already named by other bytes (hosts compare keys by bytes), and a
/// small-order key, under which a signature made without any secret verifies for about one
/// message in eight.
fn key(cur: &mut Cursor<'_>, what: &'static str) -> Result<VerifyingKey, DecodeError> {
    let bytes = cur.array(what)?;
    VerifyingKey::from_bytes(&bytes)
        .ok()
        .filter(|key| !key.is_weak() && key.to_edwards().compress().to_bytes() == bytes)
        .ok_or(DecodeError::BadKey(what))
}

/// The voucher a paid command (codes 20 and 21) carries after its other arguments.
fn paid(is_paid: bool, cur: &mut Cursor<'_>) -> Result<Option<Voucher>, DecodeError> {
    is_paid.then(|| Voucher::decode(cur)).transpose()
}

/// The target of commands that create their object instead of naming one.
const NO_TARGET: Id = Id::from_bytes([0; Id::LEN]);

/// A command addressed to a capability, before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub command: Command,
    /// Random per request; the host answers a repeated nonce with its first answer.
    pub nonce: [u8; 16],
    /// Unix seconds when the request was made.
    pub timestamp: u64,
    /// The capability used: a write id, read id or link id (all zero for `Create`/`PutLink`).
    pub target: Id,
}

impl Request {
    fn encode_unsigned(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.push(self.command.code());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(self.target.as_bytes());
        self.command.encode_args(&mut out);
        out
    }

    /// Signs the request with the capability's key and seals it into a frame.
    pub fn seal(&self, key: &SigningKey) -> Result<Vec<u8>, DecodeError> {
        seal_frame(FrameKind::Request, &self.signed_body(key))
    }

    /// The request's body, signed: what a frame (or a batch) carries.
    pub(crate) fn signed_body(&self, key: &SigningKey) -> Vec<u8> {
        let mut body = self.encode_unsigned();
        let signature = key.sign(&signing_input(&body));
        body.extend_from_slice(&signature.to_bytes());
        body
    }
}

fn signing_input(unsigned: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(SIGNING_CONTEXT.len() + unsigned.len());
    input.extend_from_slice(SIGNING_CONTEXT);
    input.extend_from_slice(unsigned);
    input
}

/// A decoded request whose signature is yet to be checked against the capability's key.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub request: Request,
    signature: Signature,
    signed: Vec<u8>,
}

impl SignedRequest {
    /// Decodes a request frame; checks form only, not the signature.
    pub fn open(frame: &[u8]) -> Result<Self, DecodeError> {
        let (kind, body) = open_frame(frame)?;
        if kind != FrameKind::Request {
            return Err(DecodeError::Invalid("expected a request frame"));
        }
        Self::decode_body(body)
    }

    pub(crate) fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let signed_len =
            body.len()
                .checked_sub(SIGNATURE_LEN)
                .ok_or_else(|| DecodeError::Truncated {
                    what: "signature",
                    needed: SIGNATURE_LEN - body.len(),
                })?;
        let (unsigned, signature) = body.split_at(signed_len);
        let mut cur = Cursor::new(unsigned);
        let code = cur.u8("command")?;
        let nonce = cur.array("nonce")?;
        let timestamp = cur.u64("timestamp")?;
        let target = cur.id("target id")?;
        let command = Command::decode_args(code, &mut cur)?;
        cur.finish()?;
        // The host ignores the target of a create, so it must be the documented zero: otherwise
        // one create could be sent under 2^192 different ids.
        if command.creates() && target != NO_TARGET {
            return Err(DecodeError::Invalid(
                "create, put_link, create_file and issue take an all-zero target",
            ));
        }
        let signature = Signature::from_slice(signature)
            .map_err(|_| DecodeError::Invalid("malformed signature"))?;
        Ok(Self {
            request: Request {
                command,
                nonce,
                timestamp,
                target,
            },
            signature,
            signed: signing_input(unsigned),
        })
    }

    /// Whether the request was signed by `key`. Takes the same time for any wrong key.
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        key.verify(&self.signed, &self.signature).is_ok()
    }

    /// Whether every request was signed by the key paired with it, checked together: about
    /// twice as fast per signature as one by one. `false` says only that at least one is not.
    pub fn verify_all(items: &[(&SignedRequest, &VerifyingKey)]) -> bool {
        let messages: Vec<&[u8]> = items.iter().map(|(r, _)| r.signed.as_slice()).collect();
        let signatures: Vec<Signature> = items.iter().map(|(r, _)| r.signature).collect();
        let keys: Vec<VerifyingKey> = items.iter().map(|(_, key)| **key).collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    fn sample(command: Command) -> Request {
        Request {
            command,
            nonce: [3; 16],
            timestamp: 1_700_000_000,
            target: Id::from_bytes([9; Id::LEN]),
        }
    }

    #[test]
    fn round_trip_and_verify() {
        let key = SigningKey::generate(&mut OsRng);
        let other = SigningKey::generate(&mut OsRng);
        let request = sample(Command::Write {
            body: vec![1; MAX_MESSAGE_LEN],
        });
        let frame = request.seal(&key).unwrap();
        let opened = SignedRequest::open(&frame).unwrap();
        assert_eq!(opened.request, request);
        assert!(opened.verify(&key.verifying_key()));
        assert!(!opened.verify(&other.verifying_key()));
    }

    #[test]
    fn verify_all_fails_if_one_fails() {
        let keys: Vec<SigningKey> = (0..5).map(|_| SigningKey::generate(&mut OsRng)).collect();
        let requests: Vec<SignedRequest> = keys
            .iter()
            .map(|key| SignedRequest::open(&sample(Command::Fetch).seal(key).unwrap()).unwrap())
            .collect();
        let public: Vec<VerifyingKey> = keys.iter().map(SigningKey::verifying_key).collect();
        let mut items: Vec<(&SignedRequest, &VerifyingKey)> =
            requests.iter().zip(&public).collect();
        assert!(SignedRequest::verify_all(&items));
        items[3].1 = &public[0];
        assert!(!SignedRequest::verify_all(&items));
    }

    #[test]
    fn a_flipped_bit_breaks_the_signature() {
        let key = SigningKey::generate(&mut OsRng);
        let mut frame = sample(Command::Ack { seq: 5 }).seal(&key).unwrap();
        frame[4 + 1 + 16 + 8 + 24 + 7] ^= 1;
        let opened = SignedRequest::open(&frame).unwrap();
        assert_eq!(opened.request.command, Command::Ack { seq: 4 });
        assert!(!opened.verify(&key.verifying_key()));
    }

    /// Regression: a create with a random target used to be accepted and its target ignored.
    #[test]
    fn create_and_put_link_need_the_zero_target() {
        let key = SigningKey::generate(&mut OsRng);
        let public = key.verifying_key();
        for command in [
            Command::Create {
                kind: MailboxKind::Conversation,
                ttl_secs: 0,
                quota: 0,
                writer_key: public,
                reader_key: public,
                voucher: None,
            },
            Command::PutLink {
                ttl_secs: 60,
                owner_key: public,
                data: vec![1, 2],
                voucher: None,
            },
            Command::Issue {
                device_key: public,
                epoch: 1,
                blinded: vec![[7; BLIND_LEN]],
            },
        ] {
            let mut request = sample(command);
            assert!(matches!(
                SignedRequest::open(&request.seal(&key).unwrap()),
                Err(DecodeError::Invalid(_))
            ));
            request.target = NO_TARGET;
            let opened = SignedRequest::open(&request.seal(&key).unwrap()).unwrap();
            assert_eq!(opened.request, request);
        }
    }

    /// Regression: small-order keys and non-canonical encodings used to be accepted.
    #[test]
    fn weak_and_non_canonical_keys_are_rejected() {
        let decodes = |bytes: [u8; 32]| key(&mut Cursor::new(&bytes), "key").is_ok();
        assert!(decodes(
            SigningKey::generate(&mut OsRng).verifying_key().to_bytes()
        ));
        let mut identity = [0u8; 32];
        identity[0] = 1; // y = 1: the neutral point
        assert!(!decodes(identity));
        // y = p + n (p = 2^255 - 19) spells the point with y = n a second time.
        let mut strong = 0;
        for n in 2..=18u8 {
            let mut canonical = [0u8; 32];
            canonical[0] = n;
            if !decodes(canonical) {
                continue; // no point, or a small-order one
            }
            strong += 1;
            let mut above_p = [0xff; 32];
            above_p[0] = 0xed + n;
            above_p[31] = 0x7f;
            assert!(!decodes(above_p), "y = p + {n} was accepted");
        }
        assert!(
            strong > 0,
            "no y below 19 gives a usable key; the test proves nothing"
        );
    }

    #[test]
    fn oversized_message_is_rejected() {
        let key = SigningKey::generate(&mut OsRng);
        let frame = sample(Command::Write {
            body: vec![0; MAX_MESSAGE_LEN + 1],
        })
        .seal(&key)
        .unwrap();
        assert!(matches!(
            SignedRequest::open(&frame),
            Err(DecodeError::TooLong {
                what: "message body",
                ..
            })
        ));
    }
}
