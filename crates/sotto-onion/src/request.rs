//! What a request packet carries to its host: the reply blocks the host answers (and pushes)
//! through, then one mailbox frame.
//!
//! Layout: `version u8 | reply block count u8 | reply blocks (REPLY_BLOCK_LEN each) | frame`.
//! The frame is exactly [`FRAME_LEN`] bytes, so every request plaintext has one of
//! `MAX_REPLY_BLOCKS` lengths, and the packet pads them all to one size anyway.

use sotto_proto::FRAME_LEN;
use thiserror::Error;

use crate::packet::{ReplyBlock, PLAINTEXT_LEN, REPLY_BLOCK_LEN};

const VERSION: u8 = 1;
const HEADER_LEN: usize = 2;
/// Most reply blocks one request carries: the answer's, and the rest for pushes.
pub const MAX_REPLY_BLOCKS: usize = (PLAINTEXT_LEN - HEADER_LEN - FRAME_LEN) / REPLY_BLOCK_LEN;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("request is {got} bytes, expected {expected} for {blocks} reply blocks")]
    Length {
        got: usize,
        expected: usize,
        blocks: usize,
    },
    #[error("unsupported onion request version {0}")]
    Version(u8),
    #[error("a request carries 1 to {MAX_REPLY_BLOCKS} reply blocks, this one {0}")]
    BlockCount(usize),
    #[error("reply block {index}: {reason}")]
    ReplyBlock { index: usize, reason: String },
}

/// A request as the host receives it.
pub struct OnionRequest {
    /// The first answers this request; any others are for pushes.
    pub reply_blocks: Vec<ReplyBlock>,
    pub frame: Vec<u8>,
}

fn expected_len(blocks: usize) -> usize {
    HEADER_LEN + blocks * REPLY_BLOCK_LEN + FRAME_LEN
}

impl OnionRequest {
    pub fn encode(&self) -> Result<Vec<u8>, RequestError> {
        let count = self.reply_blocks.len();
        if count == 0 || count > MAX_REPLY_BLOCKS {
            return Err(RequestError::BlockCount(count));
        }
        if self.frame.len() != FRAME_LEN {
            return Err(RequestError::Length {
                got: self.frame.len(),
                expected: FRAME_LEN,
                blocks: count,
            });
        }
        let mut out = Vec::with_capacity(expected_len(count));
        out.push(VERSION);
        out.push(count as u8);
        for block in &self.reply_blocks {
            out.extend_from_slice(&block.to_bytes());
        }
        out.extend_from_slice(&self.frame);
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, RequestError> {
        let (&version, rest) = bytes.split_first().ok_or(RequestError::Length {
            got: 0,
            expected: expected_len(1),
            blocks: 1,
        })?;
        if version != VERSION {
            return Err(RequestError::Version(version));
        }
        let count = usize::from(rest.first().copied().unwrap_or(0));
        if count == 0 || count > MAX_REPLY_BLOCKS {
            return Err(RequestError::BlockCount(count));
        }
        if bytes.len() != expected_len(count) {
            return Err(RequestError::Length {
                got: bytes.len(),
                expected: expected_len(count),
                blocks: count,
            });
        }
        let (blocks, frame) = bytes[HEADER_LEN..].split_at(count * REPLY_BLOCK_LEN);
        let reply_blocks = blocks
            .chunks_exact(REPLY_BLOCK_LEN)
            .enumerate()
            .map(|(index, block)| {
                ReplyBlock::from_bytes(block).map_err(|e| RequestError::ReplyBlock {
                    index,
                    reason: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            reply_blocks,
            frame: frame.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{new_reply_block, RouteHop};
    use sphinx_packet::crypto::{PrivateKey, PublicKey};

    fn block() -> ReplyBlock {
        let secret = PrivateKey::random();
        let hop = RouteHop {
            node: [1; 32],
            onion_key: PublicKey::from(&secret).to_bytes(),
        };
        new_reply_block(&[hop], [2; 32]).unwrap().0
    }

    #[test]
    fn the_largest_request_fits_one_packet_and_round_trips() {
        const { assert!(MAX_REPLY_BLOCKS >= 4, "room for an answer and pushes") };
        let request = OnionRequest {
            reply_blocks: (0..MAX_REPLY_BLOCKS).map(|_| block()).collect(),
            frame: vec![7; FRAME_LEN],
        };
        let bytes = request.encode().unwrap();
        assert!(bytes.len() <= PLAINTEXT_LEN);
        let decoded = OnionRequest::decode(&bytes).unwrap();
        assert_eq!(decoded.reply_blocks.len(), MAX_REPLY_BLOCKS);
        assert_eq!(decoded.frame, request.frame);
        assert_eq!(decoded.encode().unwrap(), bytes);
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let good = OnionRequest {
            reply_blocks: vec![block()],
            frame: vec![0; FRAME_LEN],
        }
        .encode()
        .unwrap();
        assert!(matches!(
            OnionRequest::decode(&[]),
            Err(RequestError::Length { .. })
        ));
        assert!(matches!(
            OnionRequest::decode(&good[..100]),
            Err(RequestError::Length { .. })
        ));
        let mut bad = good.clone();
        bad[0] = 9;
        assert!(matches!(
            OnionRequest::decode(&bad),
            Err(RequestError::Version(9))
        ));
        let mut bad = good.clone();
        bad[1] = 0;
        assert!(matches!(
            OnionRequest::decode(&bad),
            Err(RequestError::BlockCount(0))
        ));
        // A count that disagrees with the length: the blocks and the frame would shift.
        let mut bad = good;
        bad[1] = 2;
        assert!(matches!(
            OnionRequest::decode(&bad),
            Err(RequestError::Length { blocks: 2, .. })
        ));
    }
}
