//! What comes back to one transport: answers to its requests and pushes through the reply
//! blocks it left, known by reply id. Several transports share a gateway link, and the link
//! hands each delivery to the one transport waiting for its id.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use sotto_onion::packet::{ReplyId, ReplyKey};
use sotto_proto::{Fingerprint, Id};
use tokio::sync::mpsc;

use super::Trace;
use crate::health::RelayHealth;
use crate::push_blocks::PushBlocks;

/// Reply keys kept for pushes at most; the oldest are forgotten first.
const MAX_PUSH_KEYS: usize = 256;

/// An answer, and the reply id of the attempt it answers.
pub(super) type Answer = (Vec<u8>, ReplyId);

pub(super) enum Waiting {
    /// An attempt at a request: all attempts of one request answer into the same channel. The
    /// relays are those of its request and reply paths.
    Answer(ReplyKey, mpsc::Sender<Answer>, Vec<Fingerprint>),
    /// A push's key, the relays its reply block leads through, and the reader it is for.
    Push(ReplyKey, Vec<Fingerprint>, Id),
}

#[derive(Default)]
pub(super) struct Replies {
    pub(super) waiting: HashMap<ReplyId, Waiting>,
    push_order: VecDeque<ReplyId>,
    pub(super) push_blocks: PushBlocks,
}

impl Replies {
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
}

/// One transport's side of its gateway link.
pub(super) struct Inbound {
    replies: Mutex<Replies>,
    pushes: mpsc::UnboundedSender<Vec<u8>>,
    /// The transport's epoch (see `Transport::epoch`): moved on by its renewal timer and
    /// whenever its link's connection is lost, since pushes then have no way back.
    epoch: AtomicU64,
    trace: Mutex<Trace>,
    pub(super) health: RelayHealth,
}

impl Inbound {
    pub(super) fn new(health: RelayHealth, pushes: mpsc::UnboundedSender<Vec<u8>>) -> Self {
        Self {
            replies: Mutex::default(),
            pushes,
            epoch: AtomicU64::new(0),
            trace: Mutex::default(),
            health,
        }
    }

    pub(super) fn replies(&self) -> MutexGuard<'_, Replies> {
        self.replies.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn trace(&self) -> MutexGuard<'_, Trace> {
        self.trace.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Subscriptions made before must be made again.
    pub(super) fn renew(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Takes a delivery for reply `id` if this transport waits for it: an answer goes to its
    /// request, a push to the push channel. Says whether the id was this transport's.
    pub(super) fn deliver(&self, id: &ReplyId, payload: &[u8]) -> bool {
        let Some(waiting) = self.replies().waiting.remove(id) else {
            return false;
        };
        match waiting {
            Waiting::Answer(key, answers, relays) => {
                if let Ok(frame) = key.open(payload) {
                    self.health.heard(&relays);
                    let _ = answers.try_send((frame, *id));
                }
            }
            Waiting::Push(key, route, read) => {
                if let Ok(frame) = key.open(payload) {
                    self.replies().push_blocks.used(&read);
                    self.health.heard(&route);
                    self.trace().push = route;
                    let _ = self.pushes.send(frame);
                }
            }
        }
        true
    }
}
