//! Several requests to one host in one frame, run in order in one transaction and answered in
//! one frame: an acknowledgement with the receipt it prompts, a write with its writer's own
//! acknowledgement (`AckWrite`). Each request is signed on its own, byte for byte as it would
//! be alone, so a host checks and remembers each as it does a single request.
//!
//! Layout (the body of a `Batch` or `BatchAnswer` frame): `count u8 | (length u16 BE | body)*`,
//! each body a request's or a response's.

use ed25519_dalek::SigningKey;

use crate::cursor::{put_blob, Cursor};
use crate::frame::{open_frame, seal_frame, FrameKind, FRAME_BODY_MAX};
use crate::{DecodeError, Request, Response, SignedRequest};

/// Most requests one batch carries.
pub const MAX_BATCH: usize = 8;

/// What a request frame holds.
#[derive(Debug)]
pub enum Requests {
    One(SignedRequest),
    Batch(Vec<SignedRequest>),
}

/// Signs each request with its key and seals them all into one frame; fails if they do not fit.
pub fn seal_batch(requests: &[(Request, &SigningKey)]) -> Result<Vec<u8>, DecodeError> {
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
        return Err(DecodeError::Invalid("a batch holds 1 to 8 parts"));
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
        (FrameKind::Request, body) => Ok(Requests::One(SignedRequest::decode_body(body)?)),
        (FrameKind::Batch, body) => Ok(Requests::Batch(
            open_parts(body)?
                .into_iter()
                .map(SignedRequest::decode_body)
                .collect::<Result<_, _>>()?,
        )),
        _ => Err(DecodeError::Invalid("expected a request or batch frame")),
    }
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
    use crate::{Command, Id, ResponseBody};
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
        let nine: Vec<(Request, &SigningKey)> =
            (0..9).map(|n| (request(Command::Fetch, n), &key)).collect();
        assert!(seal_batch(&nine).is_err());
        let big = Command::Write {
            body: vec![0; crate::MAX_MESSAGE_LEN],
        };
        let too_much = [(request(big.clone(), 1), &key), (request(big, 2), &key)];
        assert!(seal_batch(&too_much).is_err(), "two full writes do not fit");
        for body in [&[0u8][..], &[2, 0, 5, 1][..], &[1, 0, 0][..]] {
            let frame = seal_frame(FrameKind::Batch, body).unwrap();
            assert!(open_requests(&frame).is_err(), "{body:?}");
        }
    }
}
