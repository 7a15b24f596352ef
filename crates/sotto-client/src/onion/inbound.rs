//! What comes back to one transport: answers to its requests and pushes through the reply
//! blocks it left, known by reply id. Several transports share a gateway link, and the link
//! hands each delivery to the one transport waiting for its id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use sotto_onion::packet::ReplyId;
use tokio::sync::mpsc;

use super::replies::{Delivery, Replies, RequestNumber};
use super::Trace;
use crate::health::RelayHealth;

/// An answer, and the reply id of the attempt it answers.
pub(super) type Answer = (Vec<u8>, ReplyId);

/// One transport's side of its gateway link.
pub(super) struct Inbound {
    replies: Mutex<Replies>,
    /// Where the answers to each request in flight go, by its number in `replies`.
    requests: Mutex<HashMap<RequestNumber, mpsc::Sender<Answer>>>,
    next_request: AtomicU64,
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
            requests: Mutex::default(),
            next_request: AtomicU64::new(0),
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

    /// A request starts: its number in the reply table, and where its answers come.
    pub(super) fn request(&self) -> (RequestNumber, mpsc::Receiver<Answer>) {
        let number = self.next_request.fetch_add(1, Ordering::SeqCst);
        let (answers, answered) = mpsc::channel(1);
        self.requests().insert(number, answers);
        (number, answered)
    }

    /// A request is over: answers to it are dropped from now on.
    pub(super) fn request_over(&self, number: RequestNumber, attempts: &[ReplyId]) {
        self.requests().remove(&number);
        let mut replies = self.replies();
        for id in attempts {
            replies.forget(id);
        }
    }

    fn requests(&self) -> MutexGuard<'_, HashMap<RequestNumber, mpsc::Sender<Answer>>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a delivery for reply `id` if this transport waits for it: an answer goes to its
    /// request, a push to the push channel. Says whether the id was this transport's.
    pub(super) fn deliver(&self, id: &ReplyId, payload: &[u8]) -> bool {
        let Some(delivery) = self.replies().take(id, payload) else {
            return false;
        };
        match delivery {
            Delivery::Answer {
                request,
                frame,
                relays,
            } => {
                self.health.heard(&relays);
                if let Some(answers) = self.requests().get(&request) {
                    let _ = answers.try_send((frame, *id));
                }
            }
            Delivery::Push { frame, route } => {
                self.health.heard(&route);
                self.trace().push = route;
                let _ = self.pushes.send(frame);
            }
            Delivery::Unopened => {}
        }
        true
    }
}
