//! The host role at the end of a request's path: run the mailbox command, answer through the
//! request's first reply block, and keep the other blocks for pushes to the reader who sent
//! them. Subscribing replaces a reader's blocks (a fresh path, in case the old one broke); every
//! acknowledgement adds fresh ones, so a reader who acknowledges what it gets never runs out.
//! A push that finds no block (messages written faster than the reader's acknowledgements come
//! back) is held and sent with the next blocks deposited, so the last message of a burst is not
//! left waiting for the reader's next renewal.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sotto_onion::packet::{open_request, ReplyBlock};
use sotto_onion::request::OnionRequest;
use sotto_proto::batch::{open_requests, push_blocks_for, Requests};
use sotto_proto::{Id, Push};
use tokio::sync::mpsc;

use super::{Drop, OnionNode, Role};
use crate::actor::PushSink;
use crate::host::Limit;

/// Reply blocks kept per reader at most; older ones go first.
const MAX_BLOCKS_PER_READER: usize = 16;
/// Pushes held per reader for want of a block; older ones go first (the reader fetches them
/// when a later push shows the gap).
const MAX_HELD_PER_READER: usize = 16;
/// Pushes held for all readers together, bounding the memory readers who went away can take.
const MAX_HELD: usize = 2048;
/// Reply blocks kept for all readers together (about 1 KiB each with three hops).
const MAX_BLOCKS: usize = 262_144;
/// Pushes waiting for the onion pusher.
const PUSH_QUEUE: usize = 4096;
/// The one sink all onion subscriptions share; connections number theirs from 0.
const ONION_SINK_ID: u64 = u64::MAX;

/// Reply blocks deposited for pushes, by read id. Cloning shares the pools.
#[derive(Default, Clone)]
pub struct PushPools {
    pools: Arc<Mutex<Pools>>,
    sink: Arc<Mutex<Option<PushSink>>>,
}

struct Pools {
    by_reader: HashMap<Id, Pool>,
    /// Pushes held in all pools.
    held: usize,
    /// Reply blocks kept in all pools, and how many may be.
    blocks: usize,
    max_blocks: usize,
}

impl Default for Pools {
    fn default() -> Self {
        Self {
            by_reader: HashMap::new(),
            held: 0,
            blocks: 0,
            max_blocks: MAX_BLOCKS,
        }
    }
}

#[derive(Default)]
struct Pool {
    blocks: VecDeque<ReplyBlock>,
    /// Push frames waiting for a block.
    held: VecDeque<Vec<u8>>,
    /// When the reader last deposited blocks.
    refreshed: Option<Instant>,
}

/// What the pusher does with a push frame.
enum Fate {
    Send(ReplyBlock),
    Held,
    /// Too much held already: the reader fetches when a later push shows the gap.
    Dropped,
    /// No pool (never subscribed here, or gone quiet for two epochs): the reader's
    /// subscription is of no use any more.
    Unknown,
}

/// Whether a deposit kept the blocks it brought (up to the reader's share).
#[derive(Debug, PartialEq, Eq)]
enum Deposited {
    Kept,
    /// All readers' blocks together are at their bound: fewer were kept than came.
    Trimmed,
}

impl PushPools {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pools> {
        self.pools.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a reader's blocks and sends what was held for want of them. A subscription
    /// replaces blocks and held pushes: its answer carries every message waiting.
    fn deposit(&self, read_id: Id, blocks: Vec<ReplyBlock>, replace: bool) -> Deposited {
        let (released, refused) = {
            let mut pools = self.lock();
            let (total, max_blocks) = (pools.blocks, pools.max_blocks);
            let pool = pools.by_reader.entry(read_id).or_default();
            let (held_before, blocks_before) = (pool.held.len(), pool.blocks.len());
            if replace {
                pool.blocks.clear();
            }
            // This reader's share, within what all other readers' blocks leave.
            let others = total - blocks_before;
            let share = MAX_BLOCKS_PER_READER.min(max_blocks.saturating_sub(others));
            pool.blocks.extend(blocks);
            pool.refreshed = Some(Instant::now());
            let refused = pool.blocks.len() > share && share < MAX_BLOCKS_PER_READER;
            while pool.blocks.len() > share {
                pool.blocks.pop_front();
            }
            let released = if replace {
                std::mem::take(&mut pool.held);
                Vec::new()
            } else {
                let count = pool.held.len().min(pool.blocks.len());
                pool.held.drain(..count).collect()
            };
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

    /// Forgets readers who deposited nothing for `max_age`: their blocks were built for onion
    /// keys that are gone by now, so they could not carry a push anyway.
    pub(super) fn prune(&self, max_age: Duration) {
        let mut pools = self.lock();
        pools
            .by_reader
            .retain(|_, pool| pool.refreshed.is_some_and(|at| at.elapsed() < max_age));
        pools.held = pools.by_reader.values().map(|p| p.held.len()).sum();
        pools.blocks = pools.by_reader.values().map(|p| p.blocks.len()).sum();
    }

    /// A block to push `frame` through, or the frame held until the reader's next deposit.
    fn take_or_hold(&self, read_id: &Id, frame: &[u8]) -> Fate {
        let mut pools = self.lock();
        let held_total = pools.held;
        let Some(pool) = pools.by_reader.get_mut(read_id) else {
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
        if pool.held.len() >= MAX_HELD_PER_READER {
            pool.held.pop_front();
            change = 0;
        }
        pool.held.push_back(frame.to_vec());
        pools.held = pools.held.saturating_add_signed(change);
        Fate::Held
    }

    fn sink(&self) -> Option<PushSink> {
        self.sink.lock().ok()?.clone()
    }
}

pub(super) fn start_pusher(node: &Arc<OnionNode>) {
    let (frames, mut queue) = mpsc::channel::<Vec<u8>>(PUSH_QUEUE);
    if let Ok(mut sink) = node.pools.sink.lock() {
        *sink = Some(PushSink {
            id: ONION_SINK_ID,
            connection: None,
            frames,
        });
    }
    let node = Arc::downgrade(node);
    tokio::spawn(async move {
        while let Some(frame) = queue.recv().await {
            let Some(node) = node.upgrade() else { break };
            let Ok(push) = Push::open(&frame) else {
                continue;
            };
            match node.pools.take_or_hold(&push.read_id, &frame) {
                Fate::Send(block) => {
                    if send_through(&node, block, &frame).await {
                        node.metrics.pushed();
                    }
                }
                Fate::Held => {}
                // Too much held: the reader fetches when a later push shows the gap.
                Fate::Dropped => {
                    node.metrics.onion_drop(Drop::NoReplyBlock);
                    node.metrics.refused(Limit::HeldPushes);
                }
                // The reader renews its subscription (with fresh blocks) when it wants pushes
                // again; until then its subscription only costs the host thread.
                Fate::Unknown => {
                    node.metrics.onion_drop(Drop::NoReplyBlock);
                    node.host.unsubscribe(push.read_id, ONION_SINK_ID);
                }
            }
        }
    });
}

/// Sends `frame` back on a reader's reply block; `false` if it could not go.
async fn send_through(node: &OnionNode, block: ReplyBlock, frame: &[u8]) -> bool {
    match block.send(frame) {
        Ok((packet, first)) => node.forward(Role::Host, first, &packet.to_wire()).await,
        Err(_) => {
            node.metrics.onion_drop(Drop::BadRequest);
            false
        }
    }
}

pub(super) async fn execute(node: &Arc<OnionNode>, payload: Vec<u8>) {
    let request = match open_request(&payload).map(|plain| OnionRequest::decode(&plain)) {
        Ok(Ok(request)) => request,
        _ => return node.metrics.onion_drop(Drop::BadRequest),
    };
    let Some(sink) = node.pools.sink() else {
        return;
    };
    let mut blocks = request.reply_blocks.into_iter();
    let Some(answer_block) = blocks.next() else {
        return node.metrics.onion_drop(Drop::BadRequest);
    };
    let targets = match open_requests(&request.frame) {
        Ok(Requests::One(signed)) => vec![signed.request.target],
        Ok(Requests::Batch(requests)) => requests.iter().map(|s| s.request.target).collect(),
        Err(_) => Vec::new(),
    };
    for target in targets {
        node.view.saw(|| format!("mailbox {}", target.to_hex()));
    }
    let deposit = push_blocks_for(&request.frame);
    // The blocks are deposited by the host thread as it accepts the request: a message
    // written in the very next batch finds them (depositing after the answer came back lost
    // such pushes when the machine was busy).
    let on_accepted = deposit.map(|(read_id, replace)| {
        let pools = node.pools.clone();
        let blocks: Vec<ReplyBlock> = blocks.collect();
        let metrics = node.metrics.clone();
        Box::new(move || {
            if pools.deposit(read_id, blocks, replace) == Deposited::Trimmed {
                metrics.refused(Limit::PushBlocks);
            }
        }) as crate::actor::OnAccepted
    });
    let Ok(answer) = node
        .host
        .request_then(request.frame, sink, on_accepted)
        .await
    else {
        return;
    };
    send_through(node, answer_block, &answer).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_onion::packet::{new_reply_block, RouteHop};

    fn block() -> ReplyBlock {
        let hop = RouteHop {
            node: [1; 32],
            onion_key: sphinx_packet::crypto::PublicKey::from(
                &sphinx_packet::crypto::PrivateKey::random(),
            )
            .to_bytes(),
        };
        new_reply_block(&[hop], [2; 32]).unwrap().0
    }

    fn take(pools: &PushPools, reader: &Id) -> Option<ReplyBlock> {
        match pools.take_or_hold(reader, b"push") {
            Fate::Send(block) => Some(block),
            Fate::Held | Fate::Dropped | Fate::Unknown => None,
        }
    }

    fn pools_with_sink() -> (PushPools, mpsc::Receiver<Vec<u8>>) {
        let pools = PushPools::default();
        let (frames, queue) = mpsc::channel(PUSH_QUEUE);
        *pools.sink.lock().unwrap() = Some(PushSink {
            id: ONION_SINK_ID,
            connection: None,
            frames,
        });
        (pools, queue)
    }

    #[test]
    fn subscribe_replaces_ack_adds_and_old_pools_go() {
        let pools = PushPools::default();
        let reader = Id::from_bytes([3; Id::LEN]);
        pools.deposit(reader, vec![block(), block()], false);
        pools.deposit(reader, vec![block()], true);
        assert!(take(&pools, &reader).is_some());
        assert!(
            take(&pools, &reader).is_none(),
            "subscribing replaced the older blocks"
        );
        pools.deposit(reader, (0..20).map(|_| block()).collect(), false);
        pools.prune(Duration::from_secs(3600));
        assert_eq!(
            (0..20).filter(|_| take(&pools, &reader).is_some()).count(),
            MAX_BLOCKS_PER_READER
        );
        pools.deposit(reader, vec![block()], false);
        pools.prune(Duration::ZERO);
        assert!(take(&pools, &reader).is_none(), "pruned");
    }

    #[test]
    fn reply_blocks_are_bounded_across_readers() {
        let pools = PushPools::default();
        pools.lock().max_blocks = MAX_BLOCKS_PER_READER + 4;
        let (first, second) = (Id::from_bytes([7; Id::LEN]), Id::from_bytes([8; Id::LEN]));
        let many = || (0..MAX_BLOCKS_PER_READER).map(|_| block()).collect();
        assert_eq!(pools.deposit(first, many(), true), Deposited::Kept);
        assert_eq!(
            pools.deposit(second, many(), true),
            Deposited::Trimmed,
            "the second reader gets what the bound leaves"
        );
        assert_eq!(pools.lock().blocks, MAX_BLOCKS_PER_READER + 4);
        assert!(take(&pools, &second).is_some());
        assert_eq!(pools.lock().blocks, MAX_BLOCKS_PER_READER + 3);
        // Giving its blocks back by subscribing again makes room for the first reader's own.
        assert_eq!(pools.deposit(first, many(), true), Deposited::Kept);
    }

    #[test]
    fn a_push_without_a_block_goes_out_with_the_next_acknowledgement() {
        let (pools, mut queue) = pools_with_sink();
        let reader = Id::from_bytes([4; Id::LEN]);
        pools.deposit(reader, vec![block()], true);
        assert!(matches!(pools.take_or_hold(&reader, b"1"), Fate::Send(_)));
        assert!(matches!(pools.take_or_hold(&reader, b"2"), Fate::Held));
        assert!(matches!(pools.take_or_hold(&reader, b"3"), Fate::Held));
        pools.deposit(reader, vec![block()], false);
        assert_eq!(
            queue.try_recv().unwrap(),
            b"2",
            "one block releases one push"
        );
        assert!(queue.try_recv().is_err());
        pools.deposit(reader, vec![block(), block()], false);
        assert_eq!(queue.try_recv().unwrap(), b"3");
        assert_eq!(pools.lock().held, 0);
    }

    #[test]
    fn a_subscription_forgets_held_pushes_and_holding_is_bounded() {
        let (pools, mut queue) = pools_with_sink();
        let reader = Id::from_bytes([5; Id::LEN]);
        pools.deposit(reader, Vec::new(), true);
        for i in 0..MAX_HELD_PER_READER + 3 {
            assert!(matches!(
                pools.take_or_hold(&reader, &[i as u8]),
                Fate::Held
            ));
        }
        assert_eq!(
            pools.lock().held,
            MAX_HELD_PER_READER,
            "the oldest go first"
        );
        pools.deposit(reader, vec![block()], false);
        assert_eq!(queue.try_recv().unwrap(), [3], "the oldest kept one");
        pools.deposit(reader, vec![block()], true);
        assert!(
            queue.try_recv().is_err(),
            "the subscription's answer has them"
        );
        assert_eq!(pools.lock().held, 0);

        let stranger = Id::from_bytes([6; Id::LEN]);
        assert!(matches!(pools.take_or_hold(&stranger, b"x"), Fate::Unknown));
        for n in 0..MAX_HELD / MAX_HELD_PER_READER + 1 {
            let reader = Id::from_bytes([n as u8 + 10; Id::LEN]);
            pools.deposit(reader, Vec::new(), true);
            for _ in 0..MAX_HELD_PER_READER {
                pools.take_or_hold(&reader, b"x");
            }
        }
        assert_eq!(
            pools.lock().held,
            MAX_HELD,
            "held pushes are bounded in all"
        );
    }
}
