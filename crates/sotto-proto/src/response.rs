//! What a host sends back: one response per request, and pushes to subscribed readers.
//!
//! Response body: `kind u8 | request nonce [16] | payload`.
//! Push body: `read id [24] | message`.
//! Message: `seq u64 BE | written_at u64 BE | length u16 BE | body`.

use crate::cursor::{put_blob, Cursor};
use crate::frame::{open_frame, seal_frame, FrameKind, FRAME_BODY_MAX};
use crate::voucher::{BLIND_LEN, MAX_ISSUE};
use crate::{DecodeError, ErrorCode, Id, MAX_CHUNK_LEN, MAX_MESSAGE_LEN};

/// Largest link data blob.
pub const MAX_LINK_DATA_LEN: usize = 14_080;
const RESPONSE_HEADER_LEN: usize = 1 + 16;
const MESSAGES_HEADER_LEN: usize = RESPONSE_HEADER_LEN + 2;
/// The longest answer that carries no messages or link data (`Created`): what a batch keeps
/// free for each of its answers besides the messages its fetches bring.
pub const SHORT_ANSWER_MAX: usize = RESPONSE_HEADER_LEN + 2 * Id::LEN;

/// One stored message as a reader receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Position in the mailbox's single order; strictly increasing, never reused.
    pub seq: u64,
    /// Unix seconds when the host appended it.
    pub written_at: u64,
    pub body: Vec<u8>,
}

impl Message {
    const FIXED_LEN: usize = 8 + 8 + 2;

    /// Bytes this message takes inside a frame.
    pub fn encoded_len(&self) -> usize {
        Self::FIXED_LEN + self.body.len()
    }

    /// Room for messages in one `Messages` response.
    pub const BUDGET: usize = FRAME_BODY_MAX - MESSAGES_HEADER_LEN;

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.written_at.to_be_bytes());
        put_blob(out, &self.body);
    }

    fn decode(cur: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            seq: cur.u64("message seq")?,
            written_at: cur.u64("message time")?,
            body: cur.blob("message body", MAX_MESSAGE_LEN)?.to_vec(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    Created {
        write_id: Id,
        read_id: Id,
    },
    Written {
        seq: u64,
    },
    /// Waiting messages in order: all of them.
    Messages(Vec<Message>),
    Done,
    ReaderAdded {
        read_id: Id,
    },
    LinkStored {
        link_id: Id,
    },
    LinkData(Vec<u8>),
    Error(ErrorCode),
    /// An `AckWrite` that did not apply: earlier messages wait for the reader.
    Skipped,
    /// One stored file chunk, answering `GetChunk`.
    Chunk {
        index: u32,
        data: Vec<u8>,
    },
    /// The issuer's blind signatures, one per blinded voucher of the `Issue`, in its order.
    Issued(Vec<[u8; BLIND_LEN]>),
    /// Waiting messages in order, as many as had room in the answer, and more waiting after
    /// them: the reader acknowledges these and fetches again. In a batch the room is shared,
    /// so this may hold none.
    MoreWaiting(Vec<Message>),
    /// The host did not run the request: its queue would hold it about `retry_after_ms`.
    /// For the transport, which sends the very frame again after that wait instead of
    /// guessing when the answer is lost; it never reaches the mailbox client. Its nonce is
    /// zero (a batch gets one answer too).
    Busy {
        retry_after_ms: u32,
    },
}

impl ResponseBody {
    fn code(&self) -> u8 {
        match self {
            Self::Created { .. } => 1,
            Self::Written { .. } => 2,
            Self::Messages(_) => 3,
            Self::Done => 4,
            Self::ReaderAdded { .. } => 5,
            Self::LinkStored { .. } => 6,
            Self::LinkData(_) => 7,
            Self::Error(_) => 8,
            Self::Skipped => 9,
            Self::Chunk { .. } => 10,
            Self::Issued(_) => 15,
            Self::MoreWaiting(_) => 23,
            Self::Busy { .. } => 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The nonce of the request this answers.
    pub nonce: [u8; 16],
    pub body: ResponseBody,
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.push(self.body.code());
        out.extend_from_slice(&self.nonce);
        match &self.body {
            ResponseBody::Created { write_id, read_id } => {
                out.extend_from_slice(write_id.as_bytes());
                out.extend_from_slice(read_id.as_bytes());
            }
            ResponseBody::Written { seq } => out.extend_from_slice(&seq.to_be_bytes()),
            ResponseBody::Messages(messages) | ResponseBody::MoreWaiting(messages) => {
                let count = u16::try_from(messages.len()).unwrap_or(u16::MAX);
                out.extend_from_slice(&count.to_be_bytes());
                for message in messages.iter().take(usize::from(count)) {
                    message.encode(&mut out);
                }
            }
            ResponseBody::Done | ResponseBody::Skipped => {}
            ResponseBody::ReaderAdded { read_id } => out.extend_from_slice(read_id.as_bytes()),
            ResponseBody::LinkStored { link_id } => out.extend_from_slice(link_id.as_bytes()),
            ResponseBody::LinkData(data) => put_blob(&mut out, data),
            ResponseBody::Error(code) => out.push(code.code()),
            ResponseBody::Chunk { index, data } => {
                out.extend_from_slice(&index.to_be_bytes());
                put_blob(&mut out, data);
            }
            ResponseBody::Issued(signatures) => {
                // The issuer answers as many as were asked, at most MAX_ISSUE.
                out.push(u8::try_from(signatures.len()).unwrap_or(u8::MAX));
                for signature in signatures {
                    out.extend_from_slice(signature);
                }
            }
            ResponseBody::Busy { retry_after_ms } => {
                out.extend_from_slice(&retry_after_ms.to_be_bytes())
            }
        }
        out
    }

    /// Seals the response into a frame. Fails only if the host packed more than fits.
    pub fn seal(&self) -> Result<Vec<u8>, DecodeError> {
        seal_frame(FrameKind::Response, &self.encode())
    }

    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut cur = Cursor::new(body);
        let code = cur.u8("response kind")?;
        let nonce = cur.array("nonce")?;
        let body = match code {
            1 => ResponseBody::Created {
                write_id: cur.id("write id")?,
                read_id: cur.id("read id")?,
            },
            2 => ResponseBody::Written {
                seq: cur.u64("sequence number")?,
            },
            3 => ResponseBody::Messages(decode_messages(&mut cur)?),
            4 => ResponseBody::Done,
            5 => ResponseBody::ReaderAdded {
                read_id: cur.id("read id")?,
            },
            6 => ResponseBody::LinkStored {
                link_id: cur.id("link id")?,
            },
            7 => ResponseBody::LinkData(cur.blob("link data", MAX_LINK_DATA_LEN)?.to_vec()),
            8 => ResponseBody::Error(ErrorCode::from_code(cur.u8("error code")?)?),
            9 => ResponseBody::Skipped,
            10 => ResponseBody::Chunk {
                index: cur.u32("chunk index")?,
                data: cur.blob("chunk", MAX_CHUNK_LEN)?.to_vec(),
            },
            15 => {
                let count = usize::from(cur.u8("voucher count")?);
                if count == 0 || count > MAX_ISSUE {
                    return Err(DecodeError::Invalid("an issue answers 1 to 32 signatures"));
                }
                ResponseBody::Issued(
                    (0..count)
                        .map(|_| cur.array("blind signature"))
                        .collect::<Result<_, _>>()?,
                )
            }
            23 => ResponseBody::MoreWaiting(decode_messages(&mut cur)?),
            20 => ResponseBody::Busy {
                retry_after_ms: cur.u32("retry after")?,
            },
            other => {
                return Err(DecodeError::UnknownCode {
                    what: "response kind",
                    code: other,
                })
            }
        };
        cur.finish()?;
        Ok(Self { nonce, body })
    }

    pub fn open(frame: &[u8]) -> Result<Self, DecodeError> {
        match open_frame(frame)? {
            (FrameKind::Response, body) => Self::decode(body),
            _ => Err(DecodeError::Invalid("expected a response frame")),
        }
    }
}

fn decode_messages(cur: &mut Cursor<'_>) -> Result<Vec<Message>, DecodeError> {
    let count = cur.u16("message count")?;
    let mut messages =
        Vec::with_capacity(usize::from(count).min(cur.remaining() / Message::FIXED_LEN));
    for _ in 0..count {
        messages.push(Message::decode(cur)?);
    }
    Ok(messages)
}

/// A new message sent to a subscribed reader without being asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub read_id: Id,
    pub message: Message,
}

impl Push {
    pub fn seal(&self) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::with_capacity(Id::LEN + self.message.encoded_len());
        out.extend_from_slice(self.read_id.as_bytes());
        self.message.encode(&mut out);
        seal_frame(FrameKind::Push, &out)
    }

    pub fn open(frame: &[u8]) -> Result<Self, DecodeError> {
        match open_frame(frame)? {
            (FrameKind::Push, body) => {
                let mut cur = Cursor::new(body);
                let read_id = cur.id("read id")?;
                let message = Message::decode(&mut cur)?;
                cur.finish()?;
                Ok(Self { read_id, message })
            }
            _ => Err(DecodeError::Invalid("expected a push frame")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_budget_of_messages_fits_one_frame() {
        let body_len = 1000;
        let per = Message::FIXED_LEN + body_len;
        let messages: Vec<Message> = (0..Message::BUDGET / per)
            .map(|i| Message {
                seq: i as u64,
                written_at: 1,
                body: vec![i as u8; body_len],
            })
            .collect();
        let response = Response {
            nonce: [1; 16],
            body: ResponseBody::Messages(messages),
        };
        let frame = response.seal().unwrap();
        assert_eq!(Response::open(&frame).unwrap(), response);
    }

    #[test]
    fn no_short_answer_is_longer_than_its_bound() {
        let id = Id::from_bytes([7; Id::LEN]);
        let short = [
            ResponseBody::Created {
                write_id: id,
                read_id: id,
            },
            ResponseBody::Written { seq: u64::MAX },
            ResponseBody::Done,
            ResponseBody::ReaderAdded { read_id: id },
            ResponseBody::LinkStored { link_id: id },
            ResponseBody::Error(ErrorCode::Internal),
            ResponseBody::Skipped,
        ];
        for body in short {
            let len = Response {
                nonce: [0; 16],
                body,
            }
            .encode()
            .len();
            assert!(len <= SHORT_ANSWER_MAX, "{len}");
        }
        let header = Response {
            nonce: [0; 16],
            body: ResponseBody::MoreWaiting(Vec::new()),
        };
        assert!(header.encode().len() <= SHORT_ANSWER_MAX);
    }

    #[test]
    fn largest_message_fits_a_push() {
        let push = Push {
            read_id: Id::from_bytes([1; Id::LEN]),
            message: Message {
                seq: 1,
                written_at: 2,
                body: vec![5; MAX_MESSAGE_LEN],
            },
        };
        assert_eq!(Push::open(&push.seal().unwrap()).unwrap(), push);
    }
}
