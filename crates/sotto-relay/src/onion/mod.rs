//! The relay's onion roles. One packet path for all of them: every packet is peeled with this
//! relay's onion key for its epoch, checked against the replay cache, and then forwarded (mix),
//! delivered to a connected client (gateway, final hop of a reply block), or executed as a
//! mailbox request (host, final hop of a request). What each stream between clients and
//! relays carries is `sotto_quic::onion`.

mod bucket;
mod descriptor;
mod faults;
mod final_hop;
mod limits;
mod links;
mod peers;
mod view;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use sotto_onion::directory::{Directory, OnionKey};
use sotto_onion::packet::{NodeId, OnionPacket, Peeled};
use sotto_quic::onion::{delivery, Inbound};
use sotto_quic::{stream, unix_now};

use crate::actor::HostHandle;
use crate::config::DataDir;
use crate::metrics::Metrics;
use crate::onion_keys::OnionKeys;
use crate::replay_store::ReplayStore;
use bucket::TokenBucket;
pub use descriptor::{replace_file, DESCRIPTOR_FILE};
pub use final_hop::PushPools;
pub use limits::OnionLimits;
use links::Links;
use peers::{Peers, Refusal};

/// Replay-log records after which the cache is snapshotted before its key rotates, so that a
/// restart reads at most this many (48 MB), not a whole epoch's.
const LOG_RECORDS_BEFORE_SNAPSHOT: u64 = 1_000_000;

/// Why a packet was dropped (a metrics label; never more detail than this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    Malformed,
    Unwrap,
    Replay,
    /// The replay cache refused the packet's epoch (retired, or too many live) or its store
    /// failed.
    ReplayRefused,
    /// Over a rate limit: this relay's peel budget, a link's share of it, or what one client
    /// may inject.
    Busy,
    /// A client connection registered more addresses than it may.
    TooManyAddresses,
    NoRoute,
    UnknownClient,
    BadRequest,
    /// A push for a reader whose reply blocks ran out.
    NoReplyBlock,
    /// A stream that ended (reset, or its connection closed) before its packet did.
    Incomplete,
    /// A stream that took longer than `stream_timeout_secs` to arrive whole.
    Slow,
}

impl From<Refusal> for Drop {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Busy => Self::Busy,
            Refusal::TooManyAddresses => Self::TooManyAddresses,
        }
    }
}

impl Drop {
    pub const ALL: [Drop; 12] = [
        Self::Malformed,
        Self::Unwrap,
        Self::Replay,
        Self::ReplayRefused,
        Self::Busy,
        Self::TooManyAddresses,
        Self::NoRoute,
        Self::UnknownClient,
        Self::BadRequest,
        Self::NoReplyBlock,
        Self::Incomplete,
        Self::Slow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Unwrap => "bad_mac_or_key",
            Self::Replay => "replay",
            Self::ReplayRefused => "replay_refused",
            Self::Busy => "busy",
            Self::TooManyAddresses => "too_many_addresses",
            Self::NoRoute => "no_route",
            Self::UnknownClient => "unknown_client",
            Self::BadRequest => "bad_request",
            Self::NoReplyBlock => "push_without_reply_block",
            Self::Incomplete => "incomplete",
            Self::Slow => "stream_timeout",
        }
    }
}

/// The role a packet passed through at this relay (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Between a client and the network: packets a client injects, and replies and pushes
    /// delivered to it.
    Gateway,
    /// One layer peeled and passed on.
    Mix,
    /// Requests run at their final hop, and the answers and pushes sent back.
    Host,
}

impl Role {
    pub const ALL: [Role; 3] = [Self::Gateway, Self::Mix, Self::Host];

    pub fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Mix => "mix",
            Self::Host => "host",
        }
    }
}

/// Into or out of a role (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub const ALL: [Direction; 2] = [Self::In, Self::Out];

    pub fn name(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

pub struct OnionNode {
    me: NodeId,
    directory: Directory,
    keys: std::sync::Mutex<OnionKeys>,
    replay: std::sync::Mutex<ReplayStore>,
    /// Bounds the key agreements and replay tags all links together can cost a second.
    peel_budget: std::sync::Mutex<TokenBucket>,
    links: Links,
    peers: std::sync::Mutex<Peers<quinn::Connection>>,
    host: HostHandle,
    pools: PushPools,
    metrics: Arc<Metrics>,
    view: view::View,
    faults: faults::Faults,
    /// Where this relay's descriptor goes, the key that signs it, and the epoch it was last
    /// written for.
    descriptor: PathBuf,
    identity: ed25519_dalek::SigningKey,
    published_epoch: AtomicU64,
}

impl OnionNode {
    /// Opens this relay's onion keys and replay cache in its data directory and starts the
    /// onion roles.
    pub(crate) fn open(
        data: &DataDir,
        directory: Directory,
        endpoint: quinn::Endpoint,
        host: HostHandle,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, String> {
        let now = unix_now();
        let keys =
            OnionKeys::open(&data.path, directory.epoch_secs(), now).map_err(|e| e.to_string())?;
        let replay = ReplayStore::open(&data.path).map_err(|e| e.to_string())?;
        let limits = &data.config.onion;
        let peel_budget = TokenBucket::new(
            limits.peel_per_second,
            limits.peel_per_second.saturating_mul(2),
            Instant::now(),
        );
        let node = Arc::new(Self {
            me: *data.identity.fingerprint().as_bytes(),
            directory,
            keys: std::sync::Mutex::new(keys),
            replay: std::sync::Mutex::new(replay),
            peel_budget: std::sync::Mutex::new(peel_budget),
            links: Links::new(endpoint),
            peers: std::sync::Mutex::new(Peers::new(limits.clone())),
            host,
            pools: PushPools::default(),
            metrics,
            view: view::View::open(&data.path),
            faults: faults::Faults::from_env(),
            descriptor: data.path.join(DESCRIPTOR_FILE),
            identity: data.identity.signing_key().clone(),
            published_epoch: AtomicU64::new(descriptor::UNPUBLISHED),
        });
        final_hop::start_pusher(&node);
        Ok(node)
    }

    /// Handles one unidirectional stream's bytes from `connection`.
    pub(crate) async fn handle_stream(
        self: &Arc<Self>,
        bytes: Vec<u8>,
        connection: &quinn::Connection,
    ) {
        self.view.wire(b'i', &bytes);
        let (peer, now) = (connection.stable_id(), Instant::now());
        let inbound = Inbound::parse(&bytes);
        let admitted = self.with_peers(|peers| match inbound {
            Some(Inbound::Packet(_)) => peers.admit_peel(peer, now),
            Some(Inbound::Injection { .. }) => peers
                .admit_client_stream(peer, bytes.len(), now)
                .and_then(|()| peers.admit_injection(peer, now)),
            Some(Inbound::Register(_)) | None => peers.admit_client_stream(peer, bytes.len(), now),
        });
        if let Err(refusal) = admitted {
            return self.metrics.onion_drop(refusal.into());
        }
        match inbound {
            Some(Inbound::Packet(packet)) => {
                self.view
                    .saw(|| format!("from {}", connection.remote_address()));
                self.handle_packet(packet, peer).await
            }
            Some(Inbound::Register(address)) => {
                self.view
                    .saw(|| format!("client {}", connection.remote_address()));
                // Packets for the relay's own id are requests to its host.
                if address == self.me {
                    return self.metrics.onion_drop(Drop::Malformed);
                }
                let registered =
                    self.with_peers(|peers| peers.register(peer, connection, address, now));
                if let Err(refusal) = registered {
                    self.metrics.onion_drop(refusal.into());
                }
            }
            Some(Inbound::Injection { first_hop, packet }) => {
                self.view
                    .saw(|| format!("client {}", connection.remote_address()));
                self.metrics.onion_packet(Role::Gateway, Direction::In);
                self.forward(Role::Gateway, first_hop, packet).await;
            }
            None => self.metrics.onion_drop(Drop::Malformed),
        }
    }

    /// Runs `f` on the per-connection state; a poisoned lock refuses, as a full budget does.
    fn with_peers<T>(
        &self,
        f: impl FnOnce(&mut Peers<quinn::Connection>) -> Result<T, Refusal>,
    ) -> Result<T, Refusal> {
        match self.peers.lock() {
            Ok(mut peers) => f(&mut peers),
            Err(_) => Err(Refusal::Busy),
        }
    }

    /// Counts a packet dropped before it reached this node (its stream broke or overran).
    pub(crate) fn dropped(&self, why: Drop) {
        self.metrics.onion_drop(why);
    }

    /// Forgets what was kept for a connection that closed, and the client addresses
    /// registered on it.
    pub(crate) fn connection_closed(&self, connection: &quinn::Connection) {
        let _ = self.with_peers(|peers| {
            peers.closed(connection.stable_id());
            Ok(())
        });
    }

    async fn handle_packet(self: &Arc<Self>, wire: &[u8], link: usize) {
        let within_budget = self
            .peel_budget
            .lock()
            .is_ok_and(|mut budget| budget.take(1, Instant::now()));
        if !within_budget {
            return self.metrics.onion_drop(Drop::Busy);
        }
        let Some((epoch, processed)) = self.peel(wire) else {
            let _ = self.with_peers(|peers| {
                peers.junk(link, Instant::now());
                Ok(())
            });
            return;
        };
        // The tag is in the log file before the packet moves on, so a replay after a restart
        // is caught too; `sync_replay_log` makes it survive a machine crash shortly after.
        let fresh = self.replay.lock().map_err(|_| ()).and_then(|mut replay| {
            replay
                .check_and_insert(epoch, processed.replay_tag)
                .map_err(|_| ())
        });
        match fresh {
            Ok(true) => {}
            Ok(false) => return self.metrics.onion_drop(Drop::Replay),
            Err(()) => return self.metrics.onion_drop(Drop::ReplayRefused),
        }
        match processed.peeled {
            Peeled::Forward { next, packet } => {
                self.metrics.onion_packet(Role::Mix, Direction::In);
                self.forward(Role::Mix, next, &packet.to_wire()).await;
            }
            Peeled::Final {
                destination,
                payload,
                ..
            } if destination == self.me => {
                self.metrics.onion_packet(Role::Host, Direction::In);
                final_hop::execute(self, payload).await
            }
            Peeled::Final {
                destination,
                reply,
                payload,
            } => {
                self.metrics.onion_packet(Role::Gateway, Direction::In);
                self.deliver(destination, reply, payload).await
            }
        }
    }

    /// Peels the packet with the first accepted epoch key that opens it, the current epoch's
    /// first: outside the minutes around a rotation it is the only key tried, so a junk packet
    /// costs one key agreement.
    fn peel(&self, wire: &[u8]) -> Option<(u64, sotto_onion::packet::Processed)> {
        let Ok(packet) = OnionPacket::from_wire(wire) else {
            self.metrics.onion_drop(Drop::Malformed);
            return None;
        };
        let secrets: Vec<(u64, [u8; 32])> = match self.keys.lock() {
            Ok(keys) => keys
                .accepted_epochs(unix_now())
                .into_iter()
                .filter_map(|epoch| Some((epoch, keys.secret(epoch)?)))
                .collect(),
            Err(_) => Vec::new(),
        };
        let opened = packet.process_with_any(secrets).ok();
        if opened.is_none() {
            self.metrics.onion_drop(Drop::Unwrap);
        }
        opened
    }

    /// Sends `packet` to relay `next`, counted as leaving `role`; `false` if it could not go.
    pub(crate) async fn forward(&self, role: Role, next: NodeId, packet: &[u8]) -> bool {
        self.view.saw(|| format!("to {}", hex::encode(next)));
        let fate = self.faults.fate();
        if !fate.delay.is_zero() {
            tokio::time::sleep(fate.delay).await;
        }
        let mut sent = false;
        for _ in 0..fate.copies {
            self.view.wire(b'o', packet);
            match self.links.send(&self.directory, next, packet).await {
                Ok(()) => {
                    self.metrics.onion_packet(role, Direction::Out);
                    sent = true;
                }
                Err(error) => {
                    tracing::debug!(%error, "dropping a packet");
                    self.metrics.onion_drop(Drop::NoRoute);
                }
            }
        }
        sent
    }

    async fn deliver(&self, client: [u8; 32], reply: [u8; 16], payload: Vec<u8>) {
        let Ok(connection) = self.with_peers(|peers| Ok(peers.client(&client))) else {
            return self.metrics.onion_drop(Drop::UnknownClient);
        };
        let Some(connection) = connection else {
            return self.metrics.onion_drop(Drop::UnknownClient);
        };
        let delivery = delivery(&reply, &payload);
        self.view.wire(b'o', &delivery);
        match stream::send(&connection, &delivery).await {
            Ok(()) => self.metrics.onion_packet(Role::Gateway, Direction::Out),
            Err(_) => self.metrics.onion_drop(Drop::UnknownClient),
        }
    }

    /// The onion keys to publish for the epoch at `now` and the next one.
    pub(crate) fn published_keys(&self, now: u64) -> Option<(OnionKey, OnionKey)> {
        let keys = self.keys.lock().ok()?;
        let epoch = keys.current_epoch(now);
        Some((keys.onion_key(epoch)?, keys.onion_key(epoch + 1)?))
    }

    /// Fsyncs the replay tags written since the last call, without holding the cache while
    /// the disk works (see `replay_store`'s "Durability").
    pub(crate) fn sync_replay_log(&self) {
        let unsynced = match self.replay.lock() {
            Ok(mut replay) => replay.take_unsynced(),
            Err(_) => return,
        };
        let result = match unsynced {
            Ok(Some(log)) => log.sync(),
            Ok(None) => return,
            Err(error) => return tracing::error!(%error, "the replay log is unusable"),
        };
        if let Err(source) = result {
            if let Ok(mut replay) = self.replay.lock() {
                let error = replay.sync_failed(source);
                tracing::error!(%error, "fsyncing the replay log failed");
            }
        }
    }

    /// Rotates onion keys when an epoch ends, compacts the replay cache to the live epochs and
    /// forgets push blocks too old to be usable.
    pub(crate) fn maintain(&self) {
        let now = unix_now();
        let epoch = std::time::Duration::from_secs(self.directory.epoch_secs());
        self.pools.prune(epoch.saturating_mul(2));
        let retired = match self.keys.lock() {
            Ok(mut keys) => keys.rotate(now),
            Err(_) => return,
        };
        match retired {
            Ok(retired) if !retired.is_empty() => {
                let oldest_live = retired.iter().max().map_or(0, |e| e + 1);
                if let Ok(mut replay) = self.replay.lock() {
                    if let Err(error) = replay.compact(oldest_live) {
                        tracing::error!(%error, "compacting the replay cache failed");
                    }
                }
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "onion key rotation failed"),
        }
        if let Ok(mut replay) = self.replay.lock() {
            self.metrics
                .set_replay_filter_bytes(replay.cache().filter_bytes());
            let result = if replay.log_records() >= LOG_RECORDS_BEFORE_SNAPSHOT {
                let live = replay.cache().retired_before();
                replay.compact(live).map(|_| ())
            } else {
                replay.flush()
            };
            if let Err(error) = result {
                tracing::error!(%error, "writing the replay log failed");
            }
        }
    }
}
