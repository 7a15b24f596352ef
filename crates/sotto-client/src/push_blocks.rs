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

/// The reply blocks a request leaves for pushes to its readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deposit {
    /// One reader for an acknowledgement; every reader a frame subscribes, who share the
    /// blocks at the host (protocol §16.3).
    pub readers: Vec<Id>,
    pub count: usize,
    /// A subscribe: the host drops the blocks it held for these readers.
    replace: bool,
}

impl Deposit {
    /// A reader whose pool the blocks go to: a push through one of them spends from it.
    pub(crate) fn reader(&self) -> Option<Id> {
        self.readers.first().copied()
    }
}

/// For the readers this client subscribed to through one transport, the reply blocks the
/// host is believed to hold for them. Readers subscribed in one frame share their blocks, as
/// the host keeps them: one count per pool.
#[derive(Debug, Default)]
pub(crate) struct PushBlocks {
    pool_of: HashMap<Id, u64>,
    held: HashMap<u64, usize>,
    next_pool: u64,
}

impl PushBlocks {
    /// The blocks to leave with `frame`: a subscribe (or a batch of them) leaves a full set;
    /// an acknowledgement for a reader this client subscribed tops its pool up. A reader that
    /// never subscribed gets no pushes, so blocks would only cost it their making and the
    /// host memory.
    pub(crate) fn plan(&self, frame: &[u8]) -> Option<Deposit> {
        let deposit = push_blocks_for(frame)?;
        let readers: Vec<Id> = deposit.readers.into_iter().map(|(_, id)| id).collect();
        if deposit.replace {
            return Some(Deposit {
                readers,
                count: FULL_SET,
                replace: true,
            });
        }
        let held = self.held.get(self.pool_of.get(readers.first()?)?)?;
        Some(Deposit {
            readers,
            count: FULL_SET.saturating_sub(*held).max(1),
            replace: false,
        })
    }

    /// The request that carried `deposit` was answered: the host has its blocks.
    pub(crate) fn deposited(&mut self, deposit: &Deposit) {
        if deposit.replace {
            let pool = self.next_pool;
            self.next_pool += 1;
            for reader in &deposit.readers {
                self.pool_of.insert(*reader, pool);
            }
            self.held.insert(pool, deposit.count);
            // Pools whose readers all subscribed again are gone at the host too.
            let live: std::collections::HashSet<u64> = self.pool_of.values().copied().collect();
            self.held.retain(|pool, _| live.contains(pool));
            return;
        }
        let pool = deposit.reader().and_then(|r| self.pool_of.get(&r));
        if let Some(held) = pool.and_then(|pool| self.held.get_mut(pool)) {
            *held += deposit.count;
        }
    }

    /// A push through a block left for `read`'s pool came: the host spent one of them.
    pub(crate) fn used(&mut self, read: &Id) {
        let pool = self.pool_of.get(read);
        if let Some(held) = pool.and_then(|pool| self.held.get_mut(pool)) {
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

    /// Readers subscribed in one frame share one set: a push to either spends from it, and an
    /// acknowledgement of either tops it up.
    #[test]
    fn readers_subscribed_together_share_one_count() {
        let key = SigningKey::generate(&mut OsRng);
        let (first, second) = (Id::random(&mut OsRng), Id::random(&mut OsRng));
        let request = |command, target| Request {
            command,
            nonce: rand::random(),
            timestamp: 1_800_000_000,
            target,
        };
        let batch = sotto_proto::batch::seal_batch(&[
            (request(Command::Subscribe, first), &key),
            (request(Command::Subscribe, second), &key),
        ])
        .unwrap();
        let mut blocks = PushBlocks::default();
        let subscribe = blocks.plan(&batch).unwrap();
        assert_eq!((subscribe.readers.len(), subscribe.count), (2, FULL_SET));
        blocks.deposited(&subscribe);
        blocks.used(&first);
        blocks.used(&second);
        assert_eq!(count(&blocks, Command::Ack { seq: 1 }, first), 2);
        blocks.deposited(&blocks.plan(&frame(Command::Ack { seq: 1 }, first)).unwrap());
        assert_eq!(count(&blocks, Command::Ack { seq: 1 }, second), 1);
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
