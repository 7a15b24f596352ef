use thiserror::Error;

/// Why a frame, request or response could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("frame is {got} bytes, expected exactly {expected}")]
    FrameLength { got: usize, expected: usize },
    #[error("unsupported frame version {0}")]
    Version(u8),
    #[error("unknown frame kind {0}")]
    FrameKind(u8),
    #[error("frame body length {0} exceeds the frame")]
    BodyLength(usize),
    #[error("frame padding is not all zero")]
    Padding,
    #[error("truncated: needed {needed} more bytes for {what}")]
    Truncated { what: &'static str, needed: usize },
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
    #[error("unknown {what} code {code}")]
    UnknownCode { what: &'static str, code: u8 },
    #[error("{what} is {len} bytes, at most {max} allowed")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0} is not a valid Ed25519 public key")]
    BadKey(&'static str),
    #[error("{0}")]
    Invalid(&'static str),
}
