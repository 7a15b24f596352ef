//! The host role at the end of a request's path: run the mailbox command, answer through the
//! request's first reply block, and keep the other blocks for pushes to the reader who sent
//! them. Subscribing replaces a reader's blocks (a fresh path, in case the old one broke); every
//! acknowledgement adds fresh ones, so a reader who acknowledges what it gets never runs out.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sotto_onion::packet::{open_request, ReplyBlock};
use sotto_onion::request::OnionRequest;
use sotto_proto::{Command, Id, Push, SignedRequest};
use tokio::sync::mpsc;

use super::{Drop, Event, OnionNode};
use crate::actor::PushSink;

/// Reply blocks kept per reader at most; older ones go first.
const MAX_BLOCKS_PER_READER: usize = 16;
/// Pushes waiting for the onion pusher.
const PUSH_QUEUE: usize = 4096;
/// The one sink all onion subscriptions share; connections number theirs from 0.
const ONION_SINK_ID: u64 = u64::MAX;

/// Reply blocks deposited for pushes, by read id. Cloning shares the pools.
#[derive(Default, Clone)]
pub struct PushPools {
    blocks: Arc<Mutex<HashMap<Id, Pool>>>,
    sink: Arc<Mutex<Option<PushSink>>>,
}

#[derive(Default)]
struct Pool {
    blocks: VecDeque<ReplyBlock>,
    /// When the reader last deposited blocks.
    refreshed: Option<Instant>,
}

impl PushPools {
    fn deposit(&self, read_id: Id, blocks: Vec<ReplyBlock>, replace: bool) {
        let Ok(mut pools) = self.blocks.lock() else {
            return;
        };
        let pool = pools.entry(read_id).or_default();
        if replace {
            pool.blocks.clear();
        }
        pool.blocks.extend(blocks);
        pool.refreshed = Some(Instant::now());
        while pool.blocks.len() > MAX_BLOCKS_PER_READER {
            pool.blocks.pop_front();
        }
    }

    /// Forgets readers who deposited nothing for `max_age`: their blocks were built for onion
    /// keys that are gone by now, so they could not carry a push anyway.
    pub(super) fn prune(&self, max_age: Duration) {
        if let Ok(mut pools) = self.blocks.lock() {
            pools.retain(|_, pool| pool.refreshed.is_some_and(|at| at.elapsed() < max_age));
        }
    }

    fn take(&self, read_id: &Id) -> Option<ReplyBlock> {
        let mut pools = self.blocks.lock().ok()?;
        let pool = pools.get_mut(read_id)?;
        let block = pool.blocks.pop_back();
        if pool.blocks.is_empty() {
            pools.remove(read_id);
        }
        block
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
            let Some(block) = node.pools.take(&push.read_id) else {
                // The reader's blocks ran out; it renews its subscription and fetches.
                node.metrics.onion_drop(Drop::NoReplyBlock);
                continue;
            };
            if send_through(&node, block, &frame).await {
                node.metrics.onion_event(Event::Pushed);
            }
        }
    });
}

async fn send_through(node: &OnionNode, block: ReplyBlock, frame: &[u8]) -> bool {
    match block.send(frame) {
        Ok((packet, first)) => {
            node.forward(first, &packet.to_wire()).await;
            true
        }
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
    let signed = SignedRequest::open(&request.frame).ok();
    if let Some(signed) = &signed {
        node.view
            .saw(|| format!("mailbox {}", signed.request.target.to_hex()));
    }
    let deposit = signed.and_then(|signed| {
        let replace = match signed.request.command {
            Command::Subscribe => true,
            Command::Ack { .. } => false,
            _ => return None,
        };
        Some((signed.request.target, replace))
    });
    // The blocks are deposited by the host thread as it accepts the request: a message
    // written in the very next batch finds them (depositing after the answer came back lost
    // such pushes when the machine was busy).
    let on_accepted = deposit.map(|(read_id, replace)| {
        let pools = node.pools.clone();
        let blocks: Vec<ReplyBlock> = blocks.collect();
        Box::new(move || pools.deposit(read_id, blocks, replace)) as crate::actor::OnAccepted
    });
    let Ok(answer) = node
        .host
        .request_then(request.frame, sink, on_accepted)
        .await
    else {
        return;
    };
    if send_through(node, answer_block, &answer).await {
        node.metrics.onion_event(Event::Answered);
    }
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

    #[test]
    fn subscribe_replaces_ack_adds_and_old_pools_go() {
        let pools = PushPools::default();
        let reader = Id::from_bytes([3; Id::LEN]);
        pools.deposit(reader, vec![block(), block()], false);
        pools.deposit(reader, vec![block()], true);
        assert!(pools.take(&reader).is_some());
        assert!(
            pools.take(&reader).is_none(),
            "subscribing replaced the older blocks"
        );
        pools.deposit(reader, (0..20).map(|_| block()).collect(), false);
        pools.prune(Duration::from_secs(3600));
        assert_eq!(
            (0..20).filter(|_| pools.take(&reader).is_some()).count(),
            MAX_BLOCKS_PER_READER
        );
        pools.deposit(reader, vec![block()], false);
        pools.prune(Duration::ZERO);
        assert!(pools.take(&reader).is_none(), "pruned");
    }
}
