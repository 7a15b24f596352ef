//! The reply blocks an onion host keeps for pushes. A subscribe's blocks make a pool shared by
//! the readers it names (one, or every subscribe of a batch frame, protocol §16.3), replacing
//! what those readers had (a fresh path, in case the old one broke); every acknowledgement
//! adds fresh ones to its reader's pool, so readers who acknowledge what they get never run
//! out. A push takes a block from its reader's pool; one that finds none (messages written
//! faster than the acknowledgements come back) is held and sent with the next blocks
//! deposited, so the last message of a burst is not left waiting for the next renewal.
//!
//! Sharing is what lets a device subscribe all its mailboxes at one host in one packet: a
//! request has room for four blocks besides its answer's, however many readers it names. The
//! host learns nothing from it that the batch did not show.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sotto_onion::packet::ReplyBlock;
use sotto_proto::Id;

use crate::actor::PushSink;

/// Reply blocks kept per pool at most; older ones go first.
const MAX_BLOCKS_PER_POOL: usize = 16;
/// Pushes held per pool for want of a block; older ones go first (the reader fetches them
/// when a later push shows the gap).
const MAX_HELD_PER_POOL: usize = 16;
/// Pushes held for all pools together, bounding the memory readers who went away can take.
const MAX_HELD: usize = 2048;
/// Reply blocks kept for all pools together (about 1 KiB each with three hops).
const MAX_BLOCKS: usize = 262_144;

/// Reply blocks deposited for pushes, by read id. Cloning shares the pools.
#[derive(Default, Clone)]
pub struct PushPools {
    pools: Arc<Mutex<Pools>>,
    pub(super) sink: Arc<Mutex<Option<PushSink>>>,
}

struct Pools {
    /// The pool each reader's pushes take blocks from.
    pool_of: HashMap<Id, u64>,
    by_id: HashMap<u64, Pool>,
    next_id: u64,
    /// Pushes held in all pools.
    held: usize,
    /// Reply blocks kept in all pools, and how many may be.
    blocks: usize,
    max_blocks: usize,
}

impl Default for Pools {
    fn default() -> Self {
        Self {
            pool_of: HashMap::new(),
            by_id: HashMap::new(),
            next_id: 0,
            held: 0,
            blocks: 0,
            max_blocks: MAX_BLOCKS,
        }
    }
}

#[derive(Default)]
struct Pool {
    blocks: VecDeque<ReplyBlock>,
    /// Push frames waiting for a block, with their reader.
    held: VecDeque<(Id, Vec<u8>)>,
    /// Readers whose pushes take blocks from here.
    readers: usize,
    /// When blocks were last deposited.
    refreshed: Option<Instant>,
}

/// What the pusher does with a push frame.
pub(super) enum Fate {
    Send(ReplyBlock),
    Held,
    /// Too much held already: the reader fetches when a later push shows the gap.
    Dropped,
    /// No pool (never subscribed here, or gone quiet for two epochs): the reader's
    /// subscription is of no use any more.
    Unknown,
}

/// Whether a deposit kept the blocks it brought (up to the pool's share).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Deposited {
    Kept,
    /// All pools' blocks together are at their bound: fewer were kept than came.
    Trimmed,
}

impl Pools {
    /// Takes `reader` out of its pool, with the pushes held for it; a pool left with no
    /// reader goes.
    fn leave(&mut self, reader: &Id) {
        let Some(id) = self.pool_of.remove(reader) else {
            return;
        };
        let Some(pool) = self.by_id.get_mut(&id) else {
            return;
        };
        pool.readers = pool.readers.saturating_sub(1);
        let before = pool.held.len();
        pool.held.retain(|(held_for, _)| held_for != reader);
        self.held -= before - pool.held.len();
        if pool.readers == 0 {
            if let Some(pool) = self.by_id.remove(&id) {
                self.held -= pool.held.len();
                self.blocks -= pool.blocks.len();
            }
        }
    }

    /// A new pool for `readers`, each leaving the one it was in.
    fn new_pool(&mut self, readers: &[Id]) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        for reader in readers {
            self.leave(reader);
            self.pool_of.insert(*reader, id);
        }
        self.by_id.insert(
            id,
            Pool {
                readers: readers.len(),
                ..Pool::default()
            },
        );
        id
    }
}

impl PushPools {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pools> {
        self.pools.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds blocks for `readers` and sends what was held for want of them. A subscription
    /// (`replace`) gives its readers a pool of their own and drops what was held for them:
    /// its answer carries every message waiting. An acknowledgement names one reader.
    pub(super) fn deposit(
        &self,
        readers: &[Id],
        blocks: Vec<ReplyBlock>,
        replace: bool,
        now: Instant,
    ) -> Deposited {
        let (released, refused) = {
            let mut pools = self.lock();
            let existing = readers
                .first()
                .and_then(|reader| pools.pool_of.get(reader).copied());
            let id = match existing {
                Some(id) if !replace => id,
                _ => pools.new_pool(readers),
            };
            let (total, max_blocks) = (pools.blocks, pools.max_blocks);
            let Some(pool) = pools.by_id.get_mut(&id) else {
                return Deposited::Kept;
            };
            let (held_before, blocks_before) = (pool.held.len(), pool.blocks.len());
            // This pool's share, within what all other pools' blocks leave.
            let others = total - blocks_before;
            let share = MAX_BLOCKS_PER_POOL.min(max_blocks.saturating_sub(others));
            pool.blocks.extend(blocks);
            pool.refreshed = Some(now);
            let refused = pool.blocks.len() > share && share < MAX_BLOCKS_PER_POOL;
            while pool.blocks.len() > share {
                pool.blocks.pop_front();
            }
            let count = pool.held.len().min(pool.blocks.len());
            let released: Vec<Vec<u8>> = pool.held.drain(..count).map(|(_, f)| f).collect();
            let (held_after, blocks_after) = (pool.held.len(), pool.blocks.len());
            pools.held = pools.held - held_before + held_after;
            pools.blocks = pools.blocks - blocks_before + blocks_after;
            (released, refused)
        };
        if let Some(sink) = self.sink() {
            for frame in released {
                // The queue is large; if it is full anyway the reader fetches on the next gap.
                let _ = sink.frames.try_send(frame);
            }
        }
        if refused {
            Deposited::Trimmed
        } else {
            Deposited::Kept
        }
    }

    /// Forgets pools nothing was deposited in for `max_age` before `now`: their blocks were
    /// built for onion keys that are gone by now, so they could not carry a push anyway.
    pub(super) fn prune(&self, max_age: Duration, now: Instant) {
        let mut pools = self.lock();
        pools.by_id.retain(|_, pool| {
            pool.refreshed
                .is_some_and(|at| now.saturating_duration_since(at) < max_age)
        });
        let Pools { pool_of, by_id, .. } = &mut *pools;
        pool_of.retain(|_, id| by_id.contains_key(id));
        pools.held = pools.by_id.values().map(|p| p.held.len()).sum();
        pools.blocks = pools.by_id.values().map(|p| p.blocks.len()).sum();
    }

    /// A block to push `frame` to `read_id` through, or the frame held until the next deposit.
    pub(super) fn take_or_hold(&self, read_id: &Id, frame: &[u8]) -> Fate {
        let mut pools = self.lock();
        let held_total = pools.held;
        let Some(id) = pools.pool_of.get(read_id).copied() else {
            return Fate::Unknown;
        };
        let Some(pool) = pools.by_id.get_mut(&id) else {
            return Fate::Unknown;
        };
        if let Some(block) = pool.blocks.pop_back() {
            pools.blocks -= 1;
            return Fate::Send(block);
        }
        if held_total >= MAX_HELD {
            return Fate::Dropped;
        }
        let mut change = 1isize;
        if pool.held.len() >= MAX_HELD_PER_POOL {
            pool.held.pop_front();
            change = 0;
        }
        pool.held.push_back((*read_id, frame.to_vec()));
        pools.held = pools.held.saturating_add_signed(change);
        Fate::Held
    }

    pub(super) fn sink(&self) -> Option<PushSink> {
        self.sink.lock().ok()?.clone()
    }
}

#[cfg(test)]
#[path = "push_pools_tests.rs"]
mod tests;
