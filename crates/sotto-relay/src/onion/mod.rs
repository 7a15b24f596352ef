//! The relay's onion roles. One packet path for all of them: every packet is peeled with this
//! relay's onion key for its epoch, checked against the replay cache, and then forwarded (mix),
//! delivered to a connected client (gateway, final hop of a reply block), or executed as a
//! mailbox request (host, final hop of a request). Those decisions are the sans-IO
//! [`core::OnionCore`]'s; [`OnionNode`] is the tokio driver that carries them out, with
//! [`hooks::Hooks`] for tests that watch or break the links. What each stream between
//! clients and relays carries is `sotto_quic::onion`.

mod bucket;
pub mod core;
mod descriptor;
mod final_hop;
pub mod hooks;
mod limits;
mod links;
mod peers;
mod push_pools;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use sotto_onion::directory::{Directory, OnionKey};
use sotto_onion::packet::NodeId;
use sotto_quic::{stream, unix_now};

use self::core::{Action, Now, OnionCore};
use crate::actor::HostHandle;
use crate::config::DataDir;
use crate::metrics::Metrics;
use crate::onion_keys::OnionKeys;
use crate::replay_store::ReplayStore;
pub use descriptor::{replace_file, DESCRIPTOR_FILE};
use hooks::Hooks;
pub use limits::OnionLimits;
use links::Links;
use peers::Refusal;
pub use push_pools::PushPools;

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

/// The tokio driver around [`OnionCore`]: it reads streams, hands them to the core with the
/// time, and carries out the core's [`Action`] on the relay's links, its client connections
/// and its host thread.
pub struct OnionNode {
    core: OnionCore<OnionKeys, ReplayStore, quinn::Connection>,
    directory: Directory,
    links: Links,
    host: HostHandle,
    pools: PushPools,
    metrics: Arc<Metrics>,
    hooks: Arc<dyn Hooks>,
    /// Where this relay's descriptor goes, the key that signs it, and the epoch it was last
    /// written for.
    descriptor: PathBuf,
    identity: ed25519_dalek::SigningKey,
    published_epoch: AtomicU64,
}

/// What the driver needs to start, beside the relay's data directory.
pub(crate) struct Wiring {
    pub directory: Directory,
    pub endpoint: quinn::Endpoint,
    pub host: HostHandle,
    pub metrics: Arc<Metrics>,
    pub hooks: Arc<dyn Hooks>,
}

impl OnionNode {
    /// Opens this relay's onion keys and replay cache in its data directory and starts the
    /// onion roles.
    pub(crate) fn open(data: &DataDir, wiring: Wiring) -> Result<Arc<Self>, String> {
        let Wiring {
            directory,
            endpoint,
            host,
            metrics,
            hooks,
        } = wiring;
        let keys = OnionKeys::open(&data.path, directory.epoch_secs(), unix_now())
            .map_err(|e| e.to_string())?;
        let replay = ReplayStore::open(&data.path).map_err(|e| e.to_string())?;
        let core = OnionCore::new(
            *data.identity.fingerprint().as_bytes(),
            keys,
            replay,
            data.config.onion.clone(),
            Instant::now(),
        );
        let node = Arc::new(Self {
            core,
            directory,
            links: Links::new(endpoint),
            host,
            pools: PushPools::default(),
            metrics,
            hooks,
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
        let now = Now {
            instant: Instant::now(),
            unix_secs: unix_now(),
        };
        let action = self
            .core
            .process(connection.stable_id(), connection, &bytes, now);
        self.hooks
            .handled(connection.remote_address(), &bytes, &action);
        self.carry_out(action).await;
    }

    /// Does what the core decided.
    async fn carry_out(self: &Arc<Self>, action: Action<quinn::Connection>) {
        match action {
            Action::Forward { role, next, packet } => {
                self.metrics.onion_packet(role, Direction::In);
                self.forward(role, next, &packet).await;
            }
            Action::Execute(execution) => {
                self.metrics.onion_packet(Role::Host, Direction::In);
                final_hop::execute(self, execution).await
            }
            Action::Deliver { client, stream } => {
                self.metrics.onion_packet(Role::Gateway, Direction::In);
                self.hooks.sent(&stream);
                match stream::send(&client, &stream).await {
                    Ok(()) => self.metrics.onion_packet(Role::Gateway, Direction::Out),
                    Err(_) => self.metrics.onion_drop(Drop::UnknownClient),
                }
            }
            Action::Registered => {}
            Action::Drop(why) => self.metrics.onion_drop(why),
        }
    }

    /// Counts a packet dropped before it reached this node (its stream broke or overran).
    pub(crate) fn dropped(&self, why: Drop) {
        self.metrics.onion_drop(why);
    }

    /// Forgets what was kept for a connection that closed, and the client addresses
    /// registered on it.
    pub(crate) fn connection_closed(&self, connection: &quinn::Connection) {
        self.core.closed(connection.stable_id());
    }

    /// Sends `packet` to relay `next`, counted as leaving `role`; `false` if it could not go.
    pub(crate) async fn forward(&self, role: Role, next: NodeId, packet: &[u8]) -> bool {
        let fate = self.hooks.forwarding(&next);
        if !fate.delay.is_zero() {
            tokio::time::sleep(fate.delay).await;
        }
        let mut sent = false;
        for _ in 0..fate.copies {
            self.hooks.sent(packet);
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

    /// The onion keys to publish for the epoch at `now` and the next one.
    pub(crate) fn published_keys(&self, now: u64) -> Option<(OnionKey, OnionKey)> {
        self.core.with_keys(|keys| {
            let epoch = keys.current_epoch(now);
            Some((keys.onion_key(epoch)?, keys.onion_key(epoch + 1)?))
        })?
    }

    /// Fsyncs the replay tags written since the last call, without holding the cache while
    /// the disk works (see `replay_store`'s "Durability").
    pub(crate) fn sync_replay_log(&self) {
        let Some(unsynced) = self.core.with_replay(|replay| replay.take_unsynced()) else {
            return;
        };
        let result = match unsynced {
            Ok(Some(log)) => log.sync(),
            Ok(None) => return,
            Err(error) => return tracing::error!(%error, "the replay log is unusable"),
        };
        if let Err(source) = result {
            self.core.with_replay(|replay| {
                let error = replay.sync_failed(source);
                tracing::error!(%error, "fsyncing the replay log failed");
            });
        }
    }

    /// Rotates onion keys when an epoch ends, compacts the replay cache to the live epochs and
    /// forgets push blocks too old to be usable.
    pub(crate) fn maintain(&self) {
        let now = unix_now();
        let epoch = std::time::Duration::from_secs(self.directory.epoch_secs());
        self.pools.prune(epoch.saturating_mul(2), Instant::now());
        let Some(retired) = self.core.with_keys(|keys| keys.rotate(now)) else {
            return;
        };
        match retired {
            Ok(retired) if !retired.is_empty() => {
                let oldest_live = retired.iter().max().map_or(0, |e| e + 1);
                self.core.with_replay(|replay| {
                    if let Err(error) = replay.compact(oldest_live) {
                        tracing::error!(%error, "compacting the replay cache failed");
                    }
                });
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "onion key rotation failed"),
        }
        self.core.with_replay(|replay| {
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
        });
    }
}
