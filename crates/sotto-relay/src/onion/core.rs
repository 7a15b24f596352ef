//! The relay's onion roles as a state machine: one stream's bytes and the time go in, one
//! [`Action`] comes out (forward to the next hop, execute at this relay's host, deliver to a
//! connected client, or drop with a reason). No sockets, tasks or clocks in here: the tokio
//! driver (`OnionNode`) reads streams, calls [`OnionCore::process`] and carries the action out,
//! so every decision a relay takes about a packet is tested without a network.
//!
//! The state a decision needs is owned here: this relay's onion keys (behind [`PeelKeys`]),
//! its replay cache (behind [`ReplayGuard`]: the relay's one appends each tag to its log file
//! before the packet moves on, a test's stays in memory), the peel budget and what each
//! connection may still do ([`Peers`]). Each sits behind its own lock rather than the core
//! behind one: peeling (a key agreement) runs outside every lock, so the driver's tasks peel
//! in parallel as they did before the core was split out.

use std::sync::Mutex;
use std::time::Instant;

use sotto_onion::packet::{open_request, NodeId, OnionPacket, Peeled, ReplyBlock};
use sotto_onion::replay::{ReplayCache, ReplayTag};
use sotto_onion::request::OnionRequest;
use sotto_proto::batch::push_blocks_for;
use sotto_proto::Id;
use sotto_quic::onion::{delivery, Inbound};

use super::bucket::TokenBucket;
use super::limits::OnionLimits;
use super::peers::{Peers, Refusal};
use super::{Drop, Role};
use crate::onion_keys::OnionKeys;
use crate::replay_store::ReplayStore;

/// The onion secrets a relay peels with.
pub trait PeelKeys {
    /// The (epoch, secret) pairs whose packets are accepted at `unix_secs`, the current
    /// epoch's first.
    fn accepted_secrets(&self, unix_secs: u64) -> Vec<(u64, [u8; 32])>;
}

impl PeelKeys for OnionKeys {
    fn accepted_secrets(&self, unix_secs: u64) -> Vec<(u64, [u8; 32])> {
        self.accepted_epochs(unix_secs)
            .into_iter()
            .filter_map(|epoch| Some((epoch, self.secret(epoch)?)))
            .collect()
    }
}

/// Whether a packet's replay tag was seen before in its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time: the tag is recorded, the packet goes on.
    First,
    Again,
    /// The epoch is retired or one too many, or the record failed: drop the packet.
    Refused,
}

/// Where the replay tags of the packets a relay peeled are kept.
pub trait ReplayGuard {
    /// Checks `tag` in `epoch` and records it if new.
    fn check_and_insert(&mut self, epoch: u64, tag: ReplayTag) -> Seen;
}

impl ReplayGuard for ReplayStore {
    fn check_and_insert(&mut self, epoch: u64, tag: ReplayTag) -> Seen {
        match ReplayStore::check_and_insert(self, epoch, tag) {
            Ok(true) => Seen::First,
            Ok(false) => Seen::Again,
            // Refused, or a disk that failed: either way the packet cannot be let through.
            Err(_) => Seen::Refused,
        }
    }
}

impl ReplayGuard for ReplayCache {
    fn check_and_insert(&mut self, epoch: u64, tag: ReplayTag) -> Seen {
        match ReplayCache::check_and_insert(self, epoch, tag) {
            Ok(()) => Seen::First,
            Err(sotto_onion::replay::Refused::Replayed { .. }) => Seen::Again,
            Err(_) => Seen::Refused,
        }
    }
}

/// The time a decision is taken at: the monotonic clock for rate limits, the wall clock for
/// key epochs.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub instant: Instant,
    pub unix_secs: u64,
}

/// What the relay does with one stream.
pub enum Action<C> {
    /// Send `packet` to relay `next`, as it leaves `role` (a client's injection leaves the
    /// gateway, a peeled packet the mix, an answer or push the host).
    Forward {
        role: Role,
        next: NodeId,
        packet: Vec<u8>,
    },
    /// Run a request at this relay's mailbox host.
    Execute(Execution),
    /// Send `stream` (a delivery) to the client connected as `client`.
    Deliver {
        client: C,
        stream: Vec<u8>,
    },
    /// A client registered the address its deliveries come to.
    Registered,
    Drop(Drop),
}

/// A request for this relay's host, opened.
pub struct Execution {
    pub frame: Vec<u8>,
    /// The block the answer goes back on.
    pub answer: ReplyBlock,
    /// The blocks for pushes, and for which reader.
    pub push_blocks: Option<PushBlocks>,
}

/// Reply blocks a request brings for pushes, and for which readers (protocol §16.3).
pub struct PushBlocks {
    /// The readers, each with the index of the request naming it in the frame: the blocks
    /// are theirs only if the host accepts that request.
    pub readers: Vec<(usize, Id)>,
    /// Subscriptions replace their readers' blocks with these, shared; an acknowledgement
    /// adds them to its reader's.
    pub replace: bool,
    pub blocks: Vec<ReplyBlock>,
}

/// Seals `frame` (an answer or a push) onto a reader's reply block: the packet to send on, or
/// a drop if the frame does not fit.
pub fn through_block<C>(block: ReplyBlock, frame: &[u8]) -> Action<C> {
    match block.send(frame) {
        Ok((packet, next)) => Action::Forward {
            role: Role::Host,
            next,
            packet: packet.to_wire(),
        },
        Err(_) => Action::Drop(Drop::BadRequest),
    }
}

/// The onion roles' state and rules. `C` is a client connection's handle (`quinn::Connection`
/// in the relay), handed back in [`Action::Deliver`].
pub struct OnionCore<K, R, C> {
    me: NodeId,
    keys: Mutex<K>,
    replay: Mutex<R>,
    /// Bounds the key agreements and replay tags all links together can cost a second.
    peel_budget: Mutex<TokenBucket>,
    peers: Mutex<Peers<C>>,
}

impl<K: PeelKeys, R: ReplayGuard, C: Clone> OnionCore<K, R, C> {
    /// The core of relay `me` (its fingerprint), starting at `now`.
    pub fn new(me: NodeId, keys: K, replay: R, limits: OnionLimits, now: Instant) -> Self {
        let peel_budget = TokenBucket::new(
            limits.peel_per_second,
            limits.peel_per_second.saturating_mul(2),
            now,
        );
        Self {
            me,
            keys: Mutex::new(keys),
            replay: Mutex::new(replay),
            peel_budget: Mutex::new(peel_budget),
            peers: Mutex::new(Peers::new(limits)),
        }
    }

    /// Decides what to do with one stream's `bytes`, which came on connection `link`
    /// (`handle`).
    pub fn process(&self, link: usize, handle: &C, bytes: &[u8], now: Now) -> Action<C> {
        let inbound = Inbound::parse(bytes);
        let admitted = self.with_peers(|peers| match inbound {
            Some(Inbound::Packet(_)) => peers.admit_peel(link, now.instant),
            Some(Inbound::Injection { .. }) => peers
                .admit_client_stream(link, bytes.len(), now.instant)
                .and_then(|()| peers.admit_injection(link, now.instant)),
            Some(Inbound::Register(_)) | None => {
                peers.admit_client_stream(link, bytes.len(), now.instant)
            }
        });
        if let Err(refusal) = admitted {
            return Action::Drop(refusal.into());
        }
        match inbound {
            Some(Inbound::Packet(packet)) => self.peel(packet, link, now),
            // Packets for the relay's own id are requests to its host.
            Some(Inbound::Register(address)) if address == self.me => Action::Drop(Drop::Malformed),
            Some(Inbound::Register(address)) => {
                match self.with_peers(|peers| peers.register(link, handle, address, now.instant)) {
                    Ok(()) => Action::Registered,
                    Err(refusal) => Action::Drop(refusal.into()),
                }
            }
            Some(Inbound::Injection { first_hop, packet }) => Action::Forward {
                role: Role::Gateway,
                next: first_hop,
                packet: packet.to_vec(),
            },
            None => Action::Drop(Drop::Malformed),
        }
    }

    /// Forgets what was kept for connection `link`, which closed, and the client addresses
    /// registered on it.
    pub fn closed(&self, link: usize) {
        let _ = self.with_peers(|peers| {
            peers.closed(link);
            Ok(())
        });
    }

    /// Runs `f` on the keys (to rotate or publish them); `None` if their lock is poisoned.
    pub fn with_keys<T>(&self, f: impl FnOnce(&mut K) -> T) -> Option<T> {
        self.keys.lock().ok().map(|mut keys| f(&mut keys))
    }

    /// Runs `f` on the replay cache (to flush, sync or compact it); `None` if its lock is
    /// poisoned.
    pub fn with_replay<T>(&self, f: impl FnOnce(&mut R) -> T) -> Option<T> {
        self.replay.lock().ok().map(|mut replay| f(&mut replay))
    }

    fn peel(&self, wire: &[u8], link: usize, now: Now) -> Action<C> {
        let within_budget = self
            .peel_budget
            .lock()
            .is_ok_and(|mut budget| budget.take(1, now.instant));
        if !within_budget {
            return Action::Drop(Drop::Busy);
        }
        let opened = self.open(wire, now.unix_secs);
        let (epoch, processed) = match opened {
            Ok(opened) => opened,
            Err(why) => {
                let _ = self.with_peers(|peers| {
                    peers.junk(link, now.instant);
                    Ok(())
                });
                return Action::Drop(why);
            }
        };
        let seen = self
            .with_replay(|replay| replay.check_and_insert(epoch, processed.replay_tag))
            .unwrap_or(Seen::Refused);
        match seen {
            Seen::First => {}
            Seen::Again => return Action::Drop(Drop::Replay),
            Seen::Refused => return Action::Drop(Drop::ReplayRefused),
        }
        match processed.peeled {
            Peeled::Forward { next, packet } => Action::Forward {
                role: Role::Mix,
                next,
                packet: packet.to_wire(),
            },
            Peeled::Final {
                destination,
                payload,
                ..
            } if destination == self.me => execution(&payload),
            Peeled::Final {
                destination,
                reply,
                payload,
            } => match self.with_peers(|peers| Ok(peers.client(&destination))) {
                Ok(Some(client)) => Action::Deliver {
                    client,
                    stream: delivery(&reply, &payload),
                },
                Ok(None) | Err(_) => Action::Drop(Drop::UnknownClient),
            },
        }
    }

    /// Peels the packet with the first accepted epoch key that opens it, the current epoch's
    /// first: outside the minutes around a rotation it is the only key tried, so a junk packet
    /// costs one key agreement.
    fn open(
        &self,
        wire: &[u8],
        unix_secs: u64,
    ) -> Result<(u64, sotto_onion::packet::Processed), Drop> {
        let packet = OnionPacket::from_wire(wire).map_err(|_| Drop::Malformed)?;
        let secrets = self
            .with_keys(|keys| keys.accepted_secrets(unix_secs))
            .unwrap_or_default();
        packet.process_with_any(secrets).map_err(|_| Drop::Unwrap)
    }

    /// Runs `f` on the per-connection state; a poisoned lock refuses, as a full budget does.
    fn with_peers<T>(
        &self,
        f: impl FnOnce(&mut Peers<C>) -> Result<T, Refusal>,
    ) -> Result<T, Refusal> {
        match self.peers.lock() {
            Ok(mut peers) => f(&mut peers),
            Err(_) => Err(Refusal::Busy),
        }
    }
}

/// The request in a final hop's payload, split into its frame and reply blocks.
fn execution<C>(payload: &[u8]) -> Action<C> {
    let request = match open_request(payload).map(|plain| OnionRequest::decode(&plain)) {
        Ok(Ok(request)) => request,
        _ => return Action::Drop(Drop::BadRequest),
    };
    let mut blocks = request.reply_blocks.into_iter();
    let Some(answer) = blocks.next() else {
        return Action::Drop(Drop::BadRequest);
    };
    let push_blocks = push_blocks_for(&request.frame).map(|deposit| PushBlocks {
        readers: deposit.readers,
        replace: deposit.replace,
        blocks: blocks.collect(),
    });
    Action::Execute(Execution {
        frame: request.frame,
        answer,
        push_blocks,
    })
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
