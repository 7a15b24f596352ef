//! How many reply blocks a request leaves at the host for pushes.
//!
//! A subscribe leaves a full set, replacing what the host held. An acknowledgement tops the
//! set up: the host spends one block per push, and this client counts the pushes that came, so
//! it knows about how many the host still holds. Making a reply block is most of a client's
//! Sphinx work (seven X25519 operations for three hops), so an acknowledgement that brought a
//! full set every time spent three blocks' work for nothing in the usual one push, one
//! acknowledgement rhythm. An acknowledgement still brings at least one: a push lost on its
//! way spent a block this client still counts, and the one block each acknowledgement adds
//! keeps the host from running dry while pushes keep coming. A subscribe (each renewal, or
//! after a missed push) sets the count right again.

use std::collections::HashMap;

use sotto_onion::request::MAX_REPLY_BLOCKS;
use sotto_proto::batch::push_blocks_for;
use sotto_proto::Id;

/// Reply blocks a subscribe leaves, and the number an acknowledgement tops the host's set up to.
pub(crate) const FULL_SET: usize = 4;
const _: () = assert!(
    FULL_SET < MAX_REPLY_BLOCKS,
    "a request has room for its answer's block and a full set"
);

/// The reply blocks a request leaves for pushes to one reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deposit {
    pub read: Id,
    pub count: usize,
    /// A subscribe: the host drops the blocks it held for this reader.
    replace: bool,
}

/// For each read id this client subscribed to through one transport, the reply blocks the
/// host is believed to hold for it.
#[derive(Debug, Default)]
pub(crate) struct PushBlocks {
    held: HashMap<Id, usize>,
}

impl PushBlocks {
    /// The blocks to leave with `frame`: a subscribe leaves a full set; an acknowledgement for
    /// a reader this client subscribed tops the set up. A reader that never subscribed gets no
    /// pushes, so blocks would only cost it their making and the host memory.
    pub(crate) fn plan(&self, frame: &[u8]) -> Option<Deposit> {
        let (read, replace) = push_blocks_for(frame)?;
        if replace {
            return Some(Deposit {
                read,
                count: FULL_SET,
                replace,
            });
        }
        self.held.get(&read).map(|held| Deposit {
            read,
            count: FULL_SET.saturating_sub(*held).max(1),
            replace,
        })
    }

    /// The request that carried `deposit` was answered: the host has its blocks.
    pub(crate) fn deposited(&mut self, deposit: &Deposit) {
        let held = self.held.entry(deposit.read).or_default();
        *held = if deposit.replace {
            deposit.count
        } else {
            *held + deposit.count
        };
    }

    /// A push to `read` came: the host spent one of its blocks.
    pub(crate) fn used(&mut self, read: &Id) {
        if let Some(held) = self.held.get_mut(read) {
            *held = held.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use rand::rngs::OsRng;
    use sotto_proto::{Command, Request};

    use super::*;

    fn frame(command: Command, target: Id) -> Vec<u8> {
        let request = Request {
            command,
            nonce: rand::random(),
            timestamp: 1_800_000_000,
            target,
        };
        request.seal(&SigningKey::generate(&mut OsRng)).unwrap()
    }

    fn count(blocks: &PushBlocks, command: Command, target: Id) -> usize {
        blocks
            .plan(&frame(command, target))
            .map_or(0, |deposit| deposit.count)
    }

    #[test]
    fn only_a_subscribed_reader_gets_blocks_and_only_with_subscribe_and_ack() {
        let (mine, other) = (Id::random(&mut OsRng), Id::random(&mut OsRng));
        let mut blocks = PushBlocks::default();
        assert_eq!(count(&blocks, Command::Ack { seq: 1 }, mine), 0);
        let subscribe = blocks.plan(&frame(Command::Subscribe, mine)).unwrap();
        assert_eq!(subscribe.count, FULL_SET);
        blocks.deposited(&subscribe);
        assert_eq!(count(&blocks, Command::Ack { seq: 2 }, other), 0);
        assert_eq!(count(&blocks, Command::Fetch, mine), 0);
        assert!(blocks.plan(b"not a frame").is_none());
    }

    #[test]
    fn an_acknowledgement_replaces_what_the_pushes_spent() {
        let read = Id::random(&mut OsRng);
        let mut blocks = PushBlocks::default();
        blocks.deposited(&blocks.plan(&frame(Command::Subscribe, read)).unwrap());
        // One push, one acknowledgement, over and over: one block each time.
        for seq in 1..10 {
            blocks.used(&read);
            let ack = blocks.plan(&frame(Command::Ack { seq }, read)).unwrap();
            assert_eq!(ack.count, 1);
            blocks.deposited(&ack);
        }
        // A burst spent the whole set: the next acknowledgement brings it back.
        for _ in 0..FULL_SET + 2 {
            blocks.used(&read);
        }
        assert_eq!(count(&blocks, Command::Ack { seq: 20 }, read), FULL_SET);
    }

    #[test]
    fn an_acknowledgement_brings_a_block_even_when_the_set_seems_full() {
        let read = Id::random(&mut OsRng);
        let mut blocks = PushBlocks::default();
        blocks.deposited(&blocks.plan(&frame(Command::Subscribe, read)).unwrap());
        // A push lost on its way spent a block this client still counts.
        assert_eq!(count(&blocks, Command::Ack { seq: 1 }, read), 1);
    }

    #[test]
    fn a_subscribe_sets_the_count_right_again() {
        let read = Id::random(&mut OsRng);
        let mut blocks = PushBlocks::default();
        let subscribe = blocks.plan(&frame(Command::Subscribe, read)).unwrap();
        blocks.deposited(&subscribe);
        for seq in 1..4 {
            blocks.deposited(&blocks.plan(&frame(Command::Ack { seq }, read)).unwrap());
        }
        blocks.deposited(&subscribe);
        for _ in 0..FULL_SET {
            blocks.used(&read);
        }
        assert_eq!(count(&blocks, Command::Ack { seq: 9 }, read), FULL_SET);
    }
}
