//! The fixed-size frame every request, response and push travels in. A frame is always
//! [`FRAME_LEN`] bytes, whatever it carries, so its size on the wire tells an observer nothing.
//!
//! Layout: `version u8 | kind u8 | body length u16 BE | body | zero padding`.

use crate::DecodeError;

/// Length of every frame in bytes. The onion layer wraps a frame, with reply blocks, into one
/// 16 KiB Sphinx payload, which is why a frame leaves room below 16 KiB.
pub const FRAME_LEN: usize = 14 * 1024;
pub const FRAME_VERSION: u8 = 1;
const HEADER_LEN: usize = 4;
/// Largest body a frame can carry.
pub const FRAME_BODY_MAX: usize = FRAME_LEN - HEADER_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Request,
    Response,
    Push,
    /// Several requests to one host, run in order (see `batch`).
    Batch,
    /// The answers to a batch, in its order.
    BatchAnswer,
}

impl FrameKind {
    fn code(self) -> u8 {
        match self {
            Self::Request => 1,
            Self::Response => 2,
            Self::Push => 3,
            Self::Batch => 4,
            Self::BatchAnswer => 5,
        }
    }

    fn from_code(code: u8) -> Result<Self, DecodeError> {
        match code {
            1 => Ok(Self::Request),
            2 => Ok(Self::Response),
            3 => Ok(Self::Push),
            4 => Ok(Self::Batch),
            5 => Ok(Self::BatchAnswer),
            other => Err(DecodeError::FrameKind(other)),
        }
    }
}

/// Wraps `body` into a frame of exactly [`FRAME_LEN`] bytes.
pub fn seal_frame(kind: FrameKind, body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let len = u16::try_from(body.len())
        .ok()
        .filter(|_| body.len() <= FRAME_BODY_MAX)
        .ok_or(DecodeError::TooLong {
            what: "frame body",
            len: body.len(),
            max: FRAME_BODY_MAX,
        })?;
    let mut frame = Vec::with_capacity(FRAME_LEN);
    frame.push(FRAME_VERSION);
    frame.push(kind.code());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(body);
    frame.resize(FRAME_LEN, 0);
    Ok(frame)
}

/// Checks the envelope and returns the frame's kind and body. Non-zero padding is rejected so a
/// frame has exactly one encoding.
pub fn open_frame(frame: &[u8]) -> Result<(FrameKind, &[u8]), DecodeError> {
    if frame.len() != FRAME_LEN {
        return Err(DecodeError::FrameLength {
            got: frame.len(),
            expected: FRAME_LEN,
        });
    }
    if frame[0] != FRAME_VERSION {
        return Err(DecodeError::Version(frame[0]));
    }
    let kind = FrameKind::from_code(frame[1])?;
    let len = usize::from(u16::from_be_bytes([frame[2], frame[3]]));
    if len > FRAME_BODY_MAX {
        return Err(DecodeError::BodyLength(len));
    }
    let (body, padding) = frame[HEADER_LEN..].split_at(len);
    // A fold without early exit vectorizes; this check runs on every frame.
    if padding.iter().fold(0u8, |acc, &b| acc | b) != 0 {
        return Err(DecodeError::Padding);
    }
    Ok((kind, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_has_one_length() {
        for len in [0, 1, 100, FRAME_BODY_MAX] {
            let frame = seal_frame(FrameKind::Push, &vec![7; len]).unwrap();
            assert_eq!(frame.len(), FRAME_LEN);
            assert_eq!(
                open_frame(&frame).unwrap(),
                (FrameKind::Push, &vec![7; len][..])
            );
        }
    }

    #[test]
    fn oversized_body_is_refused() {
        assert!(seal_frame(FrameKind::Request, &vec![0; FRAME_BODY_MAX + 1]).is_err());
    }

    #[test]
    fn bad_envelopes_are_rejected_with_a_reason() {
        let good = seal_frame(FrameKind::Request, b"abc").unwrap();
        assert!(matches!(
            open_frame(&good[..100]),
            Err(DecodeError::FrameLength { .. })
        ));
        let mut bad = good.clone();
        bad[0] = 9;
        assert_eq!(open_frame(&bad), Err(DecodeError::Version(9)));
        let mut bad = good.clone();
        bad[1] = 0;
        assert_eq!(open_frame(&bad), Err(DecodeError::FrameKind(0)));
        let mut bad = good.clone();
        bad[2] = 0xff;
        assert_eq!(open_frame(&bad), Err(DecodeError::BodyLength(0xff03)));
        let mut bad = good;
        bad[FRAME_LEN - 1] = 1;
        assert_eq!(open_frame(&bad), Err(DecodeError::Padding));
    }
}
