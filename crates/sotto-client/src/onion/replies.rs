//! The reply table of one transport: what each reply id it left in a packet is for (the
//! answer to an attempt at a request, or a push to a reader), with the key that opens it.
//! Plain data: the driver (`Inbound`) hands each delivery to whoever waits for it.

use std::collections::{HashMap, VecDeque};

use sotto_onion::packet::{ReplyId, ReplyKey};
use sotto_proto::{Fingerprint, Id};

use crate::push_blocks::PushBlocks;

/// Reply keys kept for pushes at most; the oldest are forgotten first.
const MAX_PUSH_KEYS: usize = 256;

/// The number a transport gives each of its requests: all attempts of one answer to it.
pub(super) type RequestNumber = u64;

enum Waiting {
    /// An attempt at a request, and the relays of its request and reply paths.
    Answer(ReplyKey, RequestNumber, Vec<Fingerprint>),
    /// A push's key, the relays its reply block leads through, and the reader it is for.
    Push(ReplyKey, Vec<Fingerprint>, Id),
}

/// What a delivery through one of the table's reply ids was.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Delivery {
    Answer {
        request: RequestNumber,
        frame: Vec<u8>,
        /// Every relay it passed, there and back: all were passing packets on.
        relays: Vec<Fingerprint>,
    },
    Push {
        frame: Vec<u8>,
        route: Vec<Fingerprint>,
    },
    /// For this table, but it did not open: forged or damaged on the way.
    Unopened,
}

#[derive(Default)]
pub(super) struct Replies {
    waiting: HashMap<ReplyId, Waiting>,
    push_order: VecDeque<ReplyId>,
    pub(super) push_blocks: PushBlocks,
}

impl Replies {
    /// Waits for the answer to an attempt at `request` through `key`'s reply id.
    pub(super) fn expect_answer(
        &mut self,
        key: ReplyKey,
        request: RequestNumber,
        relays: Vec<Fingerprint>,
    ) {
        self.waiting
            .insert(key.id(), Waiting::Answer(key, request, relays));
    }

    /// Waits for a push to `read` through `key`'s reply id, one of the newest `MAX_PUSH_KEYS`.
    pub(super) fn expect_push(&mut self, key: ReplyKey, route: Vec<Fingerprint>, read: Id) {
        let id = key.id();
        self.waiting.insert(id, Waiting::Push(key, route, read));
        self.push_order.push_back(id);
        while self.push_order.len() > MAX_PUSH_KEYS {
            if let Some(old) = self.push_order.pop_front() {
                self.waiting.remove(&old);
            }
        }
    }

    /// Stops waiting for `id` (its request is over).
    pub(super) fn forget(&mut self, id: &ReplyId) {
        self.waiting.remove(id);
    }

    /// Takes what came through `id`: `None` if the table does not wait for it (another
    /// transport's, or a second delivery: each reply id is used once).
    pub(super) fn take(&mut self, id: &ReplyId, payload: &[u8]) -> Option<Delivery> {
        Some(match self.waiting.remove(id)? {
            Waiting::Answer(key, request, relays) => match key.open(payload) {
                Ok(frame) => Delivery::Answer {
                    request,
                    frame,
                    relays,
                },
                Err(_) => Delivery::Unopened,
            },
            Waiting::Push(key, route, read) => match key.open(payload) {
                Ok(frame) => {
                    self.push_blocks.used(&read);
                    Delivery::Push { frame, route }
                }
                Err(_) => Delivery::Unopened,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use sotto_onion::packet::new_reply_block;

    use super::*;
    use crate::test_network::network;

    /// A key for a reply block over a path of a test network.
    fn key() -> ReplyKey {
        let relay = |n| Fingerprint::from_bytes([n; 32]);
        let path = network(4)
            .choose_path_at(0, &relay(1), &relay(4), 2, &mut rand::thread_rng())
            .unwrap();
        new_reply_block(&path.route(), [2; 32]).unwrap().1
    }

    #[test]
    fn each_reply_id_is_taken_once_and_only_by_its_table() {
        let mut replies = Replies::default();
        let (answer, push) = (key(), key());
        let (answer_id, push_id) = (answer.id(), push.id());
        replies.expect_answer(answer, 7, vec![Fingerprint::from_bytes([1; 32])]);
        replies.expect_push(push, Vec::new(), Id::from_bytes([3; Id::LEN]));
        assert_eq!(replies.take(&[9; 16], b"someone else's"), None);
        // A payload that does not open is still this table's, and spends the id.
        assert_eq!(
            replies.take(&answer_id, b"damaged"),
            Some(Delivery::Unopened)
        );
        assert_eq!(replies.take(&answer_id, b"a duplicate"), None);
        replies.forget(&push_id);
        assert_eq!(replies.take(&push_id, b"late"), None, "forgotten");
    }

    #[test]
    fn only_the_newest_push_keys_are_kept() {
        let mut replies = Replies::default();
        let read = Id::from_bytes([3; Id::LEN]);
        let first = key();
        let first_id = first.id();
        replies.expect_push(first, Vec::new(), read);
        for _ in 0..MAX_PUSH_KEYS {
            replies.expect_push(key(), Vec::new(), read);
        }
        assert_eq!(replies.take(&first_id, b"too late"), None);
    }
}
