//! Several requests to one host in one frame, run in order in one transaction and answered in
//! one frame: an acknowledgement with the receipt it prompts, a write with its writer's own
//! acknowledgement (`AckWrite`), the fetches of every mailbox a device catches up on at that
//! host, the subscribes of every mailbox it listens to there. Each request is signed on its own, byte for byte as it would be alone, so a host
//! checks and remembers each as it does a single request.
//!
//! The answers always fit one frame: every answer but a fetch's or a subscribe's is short
//! ([`SHORT_ANSWER_MAX`]), and the fetches and subscribes of a batch share what room is left
//! ([`message_room`]); one that leaves messages waiting says so (`MoreWaiting`).
//!
//! Layout (the body of a `Batch` or `BatchAnswer` frame): `count u8 | (length u16 BE | body)*`,
//! each body a request's or a response's.

use ed25519_dalek::SigningKey;

use crate::cursor::{put_blob, Cursor};
use crate::frame::{open_frame, seal_frame, FrameKind, FRAME_BODY_MAX};
use crate::{Command, DecodeError, Id, Request, Response, SignedRequest, SHORT_ANSWER_MAX};

/// Most requests one batch carries.
pub const MAX_BATCH: usize = 16;

const LONG_ANSWER: DecodeError =
    DecodeError::Invalid("get_link, get_chunk and issue travel alone, not in a batch");

/// Room for the messages that the fetches of a batch of `parts` requests bring back, all
/// together: the answer frame less its count, and each answer's length and longest short form.
pub const fn message_room(parts: usize) -> usize {
    FRAME_BODY_MAX.saturating_sub(1 + parts * (2 + SHORT_ANSWER_MAX))
}

/// What a request frame holds.
#[derive(Debug)]
pub enum Requests {
    One(Box<SignedRequest>),
    Batch(Vec<SignedRequest>),
}

/// Signs each request with its key and seals them all into one frame; fails if they do not fit.
pub fn seal_batch(requests: &[(Request, &SigningKey)]) -> Result<Vec<u8>, DecodeError> {
    if !requests
        .iter()
        .all(|(request, _)| request.command.fits_a_batch())
    {
        return Err(LONG_ANSWER);
    }
    let bodies: Vec<Vec<u8>> = requests
        .iter()
        .map(|(request, key)| request.signed_body(key))
        .collect();
    seal_parts(FrameKind::Batch, &bodies)
}

/// The answers to a batch, in its order, in one frame.
pub fn seal_answers(responses: &[Response]) -> Result<Vec<u8>, DecodeError> {
    let bodies: Vec<Vec<u8>> = responses.iter().map(Response::encode).collect();
    seal_parts(FrameKind::BatchAnswer, &bodies)
}

fn seal_parts(kind: FrameKind, parts: &[Vec<u8>]) -> Result<Vec<u8>, DecodeError> {
    check_count(parts.len())?;
    let mut body = Vec::with_capacity(FRAME_BODY_MAX);
    body.push(parts.len() as u8);
    for part in parts {
        if part.len() > usize::from(u16::MAX) {
            return Err(DecodeError::TooLong {
                what: "batch part",
                len: part.len(),
                max: usize::from(u16::MAX),
            });
        }
        put_blob(&mut body, part);
    }
    seal_frame(kind, &body)
}

fn check_count(count: usize) -> Result<(), DecodeError> {
    if count == 0 || count > MAX_BATCH {
        return Err(DecodeError::Invalid("a batch holds 1 to 16 parts"));
    }
    Ok(())
}

fn open_parts(body: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut cur = Cursor::new(body);
    let count = usize::from(cur.u8("batch count")?);
    check_count(count)?;
    let parts = (0..count)
        .map(|_| cur.blob("batch part", FRAME_BODY_MAX))
        .collect::<Result<Vec<_>, _>>()?;
    cur.finish()?;
    Ok(parts)
}

/// Decodes a request frame, single or batch; checks form only, not the signatures.
pub fn open_requests(frame: &[u8]) -> Result<Requests, DecodeError> {
    match open_frame(frame)? {
        (FrameKind::Request, body) => {
            Ok(Requests::One(Box::new(SignedRequest::decode_body(body)?)))
        }
        (FrameKind::Batch, body) => {
            let requests = open_parts(body)?
                .into_iter()
                .map(SignedRequest::decode_body)
                .collect::<Result<Vec<_>, _>>()?;
            if !requests.iter().all(|s| s.request.command.fits_a_batch()) {
                return Err(LONG_ANSWER);
            }
            Ok(Requests::Batch(requests))
        }
        _ => Err(DecodeError::Invalid("expected a request or batch frame")),
    }
}

/// Where a request frame's extra reply blocks go (protocol §16.3): to the readers it
/// subscribes, or else to the reader of its first acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushDeposit {
    /// The readers the blocks are for, with the index of the request naming each in the
    /// frame (0 for a single request). The blocks serve them together: a push to any of them
    /// takes one.
    pub readers: Vec<(usize, Id)>,
    /// A subscribe: the blocks replace what the host held for these readers, who from then on
    /// share them. An acknowledgement (`Ack`, `AckWrite`) adds them to its reader's.
    pub replace: bool,
}

/// Where a request frame's extra reply blocks go: the readers of every `Subscribe` of the
/// frame, together; without one, the reader of the first `Ack` or `AckWrite`. Client and
/// host both follow this, so the blocks a client makes are the ones the host keeps.
pub fn push_blocks_for(frame: &[u8]) -> Option<PushDeposit> {
    let requests = match open_requests(frame).ok()? {
        Requests::One(signed) => vec![*signed],
        Requests::Batch(requests) => requests,
    };
    let subscribed: Vec<(usize, Id)> = requests
        .iter()
        .enumerate()
        .filter(|(_, signed)| signed.request.command == Command::Subscribe)
        .map(|(index, signed)| (index, signed.request.target))
        .collect();
    if !subscribed.is_empty() {
        return Some(PushDeposit {
            readers: subscribed,
            replace: true,
        });
    }
    requests
        .iter()
        .enumerate()
        .find(|(_, signed)| {
            matches!(
                signed.request.command,
                Command::Ack { .. } | Command::AckWrite
            )
        })
        .map(|(index, signed)| PushDeposit {
            readers: vec![(index, signed.request.target)],
            replace: false,
        })
}

/// Decodes the answers to a batch.
pub fn open_answers(frame: &[u8]) -> Result<Vec<Response>, DecodeError> {
    match open_frame(frame)? {
        (FrameKind::BatchAnswer, body) => open_parts(body)?
            .into_iter()
            .map(Response::decode)
            .collect(),
        _ => Err(DecodeError::Invalid("expected the answers to a batch")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResponseBody;
    use rand::rngs::OsRng;

    fn request(command: Command, n: u8) -> Request {
        Request {
            command,
            nonce: [n; 16],
            timestamp: 1_700_000_000,
            target: Id::from_bytes([n; Id::LEN]),
        }
    }

    #[test]
    fn a_batch_reads_back_in_order_and_each_request_verifies_alone() {
        let reader = SigningKey::generate(&mut OsRng);
        let writer = SigningKey::generate(&mut OsRng);
        let parts = [
            (request(Command::Ack { seq: 7 }, 1), &reader),
            (
                request(
                    Command::Write {
                        body: b"receipt".to_vec(),
                    },
                    2,
                ),
                &writer,
            ),
            (request(Command::AckWrite, 3), &reader),
        ];
        let frame = seal_batch(&parts).unwrap();
        let Requests::Batch(opened) = open_requests(&frame).unwrap() else {
            panic!("a batch opens as a batch");
        };
        assert_eq!(opened.len(), 3);
        for (signed, (request, key)) in opened.iter().zip(&parts) {
            assert_eq!(&signed.request, request);
            assert!(signed.verify(&key.verifying_key()));
        }
        assert!(!opened[0].verify(&writer.verifying_key()));
        // A single request still opens as one.
        let single = parts[0].0.seal(&reader).unwrap();
        assert!(matches!(open_requests(&single), Ok(Requests::One(_))));
    }

    #[test]
    fn reply_blocks_go_to_every_subscribe_or_else_the_first_acknowledgement() {
        let key = SigningKey::generate(&mut OsRng);
        let write = request(Command::Write { body: vec![1] }, 1);
        let single = |command| request(command, 2).seal(&key).unwrap();
        assert_eq!(push_blocks_for(&write.seal(&key).unwrap()), None);
        let target = Id::from_bytes([2; Id::LEN]);
        let deposit = |readers: Vec<(usize, Id)>, replace| Some(PushDeposit { readers, replace });
        assert_eq!(
            push_blocks_for(&single(Command::Subscribe)),
            deposit(vec![(0, target)], true)
        );
        assert_eq!(
            push_blocks_for(&single(Command::Ack { seq: 1 })),
            deposit(vec![(0, target)], false)
        );
        let batch =
            seal_batch(&[(write.clone(), &key), (request(Command::AckWrite, 3), &key)]).unwrap();
        let acked = Id::from_bytes([3; Id::LEN]);
        assert_eq!(push_blocks_for(&batch), deposit(vec![(1, acked)], false));
        // Subscribes in a batch share its blocks, whatever else rides with them.
        let subscribes = seal_batch(&[
            (request(Command::Ack { seq: 1 }, 1), &key),
            (request(Command::Subscribe, 4), &key),
            (write, &key),
            (request(Command::Subscribe, 5), &key),
        ])
        .unwrap();
        assert_eq!(
            push_blocks_for(&subscribes),
            deposit(
                vec![
                    (1, Id::from_bytes([4; Id::LEN])),
                    (3, Id::from_bytes([5; Id::LEN]))
                ],
                true
            )
        );
    }

    #[test]
    fn the_answers_to_a_full_batch_fit_when_its_fetches_share_the_room() {
        let short = Response {
            nonce: [9; 16],
            body: ResponseBody::Created {
                write_id: Id::from_bytes([1; Id::LEN]),
                read_id: Id::from_bytes([2; Id::LEN]),
            },
        };
        let mut answers = vec![short; MAX_BATCH - 1];
        let room = message_room(MAX_BATCH);
        let message = crate::Message {
            seq: 1,
            written_at: 2,
            body: vec![3; room - 18],
        };
        assert_eq!(message.encoded_len(), room);
        answers.push(Response {
            nonce: [4; 16],
            body: ResponseBody::MoreWaiting(vec![message]),
        });
        let frame = seal_answers(&answers).unwrap();
        assert_eq!(open_answers(&frame).unwrap(), answers);
        // A single fetch, alone in its frame, always has room for the largest message.
        const { assert!(crate::Message::BUDGET >= 18 + crate::MAX_MESSAGE_LEN) };
    }

    #[test]
    fn answers_read_back_in_order() {
        let answers = [
            Response {
                nonce: [1; 16],
                body: ResponseBody::Done,
            },
            Response {
                nonce: [2; 16],
                body: ResponseBody::Written { seq: 9 },
            },
            Response {
                nonce: [3; 16],
                body: ResponseBody::Skipped,
            },
        ];
        let frame = seal_answers(&answers).unwrap();
        assert_eq!(open_answers(&frame).unwrap(), answers);
        assert!(open_answers(&answers[0].seal().unwrap()).is_err());
    }

    #[test]
    fn empty_oversized_and_truncated_batches_are_refused() {
        let key = SigningKey::generate(&mut OsRng);
        assert!(seal_batch(&[]).is_err());
        let too_many: Vec<(Request, &SigningKey)> = (0..=MAX_BATCH as u8)
            .map(|n| (request(Command::Fetch, n), &key))
            .collect();
        assert!(seal_batch(&too_many).is_err());
        assert!(
            seal_batch(&too_many[1..]).is_ok(),
            "a full batch of fetches"
        );
        let big = Command::Write {
            body: vec![0; crate::MAX_MESSAGE_LEN],
        };
        let too_much = [(request(big.clone(), 1), &key), (request(big, 2), &key)];
        assert!(seal_batch(&too_much).is_err(), "two full writes do not fit");
        let link = [(request(Command::GetLink, 1), &key)];
        assert!(seal_batch(&link).is_err(), "link data may fill a frame");
        let subscribes: Vec<(Request, &SigningKey)> = (0..MAX_BATCH as u8)
            .map(|n| (request(Command::Subscribe, n), &key))
            .collect();
        assert!(
            seal_batch(&subscribes).is_ok(),
            "subscribes share the room as fetches do"
        );
        let issue = Command::Issue {
            device_key: key.verifying_key(),
            epoch: 1,
            blinded: vec![[1; crate::voucher::BLIND_LEN]; crate::voucher::MAX_ISSUE],
        };
        let issues = [(request(issue.clone(), 1), &key), (request(issue, 2), &key)];
        assert!(
            seal_batch(&issues).is_err(),
            "two issues' signatures would not fit one answer"
        );
        let mut lone_issue = issues[0].0.clone();
        lone_issue.target = Id::from_bytes([0; Id::LEN]);
        assert!(
            open_requests(&lone_issue.seal(&key).unwrap()).is_ok(),
            "an issue travels alone"
        );
        for forged in [request(Command::GetLink, 1), lone_issue] {
            let forged = seal_parts(FrameKind::Batch, &[forged.signed_body(&key)]).unwrap();
            assert!(open_requests(&forged).is_err());
        }
        for body in [&[0u8][..], &[2, 0, 5, 1][..], &[1, 0, 0][..]] {
            let frame = seal_frame(FrameKind::Batch, body).unwrap();
            assert!(open_requests(&frame).is_err(), "{body:?}");
        }
    }
}
