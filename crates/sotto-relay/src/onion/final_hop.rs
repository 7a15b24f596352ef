//! The host role at the end of a request's path: run the mailbox command, answer through the
//! request's first reply block, and keep the other blocks for pushes (`push_pools.rs`); the
//! pusher sends each new message to a subscribed reader through one of them.

use std::sync::Arc;
use std::time::Instant;

use sotto_onion::packet::ReplyBlock;
use sotto_proto::Push;
use tokio::sync::mpsc;

use super::core::{through_block, Action, Execution, PushBlocks};
use super::push_pools::{Deposited, Fate};
use super::{Drop, OnionNode};
use crate::actor::PushSink;
use crate::host::Limit;

/// Pushes waiting for the onion pusher.
const PUSH_QUEUE: usize = 4096;
/// The one sink all onion subscriptions share; connections number theirs from 0.
pub(super) const ONION_SINK_ID: u64 = u64::MAX;

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
    match through_block::<quinn::Connection>(block, frame) {
        Action::Forward { role, next, packet } => node.forward(role, next, &packet).await,
        Action::Drop(why) => {
            node.metrics.onion_drop(why);
            false
        }
        Action::Execute(_) | Action::Deliver { .. } | Action::Registered => false,
    }
}

/// Runs a request at the host, answers on its first block and deposits the others.
pub(super) async fn execute(node: &Arc<OnionNode>, execution: Execution) {
    let Execution {
        frame,
        answer,
        push_blocks,
    } = execution;
    let Some(sink) = node.pools.sink() else {
        return;
    };
    // The blocks are deposited by the host thread as it accepts the request: a message
    // written in the very next batch finds them (depositing after the answer came back lost
    // such pushes when the machine was busy).
    let on_accepted = push_blocks.map(|deposit| {
        let pools = node.pools.clone();
        let metrics = node.metrics.clone();
        Box::new(move |accepted: &[bool]| {
            let PushBlocks {
                readers,
                replace,
                blocks,
            } = deposit;
            let readers: Vec<_> = readers
                .into_iter()
                .filter(|(index, _)| accepted.get(*index).copied().unwrap_or(false))
                .map(|(_, reader)| reader)
                .collect();
            if readers.is_empty() {
                return;
            }
            if pools.deposit(&readers, blocks, replace, Instant::now()) == Deposited::Trimmed {
                metrics.refused(Limit::PushBlocks);
            }
        }) as crate::actor::OnAccepted
    });
    let Ok(reply) = node.host.request_then(frame, sink, on_accepted).await else {
        return;
    };
    send_through(node, answer, &reply).await;
}
