//! The relay's network shell: a QUIC endpoint whose connections carry one request frame per
//! bidirectional stream and get pushes on relay-opened unidirectional streams. Everything a
//! request means is decided by the host thread; this file only moves frames.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sotto_proto::{RelayAddress, FRAME_LEN};
use sotto_quic::onion::MAX_INBOUND_LEN;
use sotto_quic::server::{endpoint_config, server_config};
use sotto_quic::{stream, TlsError};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use sotto_onion::directory::{Directory, OnionKey};

use crate::actor::{HostHandle, PushSink, MAX_PENDING_PUSHES};
use crate::admission::{Admission, Admitted, ConnectionLimits};
use crate::config::{DataDir, Limits, StoreKind};
use crate::host::Host;
use crate::metrics::{self, Metrics};
use crate::onion::hooks::{Hooks, NoHooks};
use crate::onion::{Drop, OnionNode, Wiring};
use crate::store::{MemoryStore, RedbStore, Store, StoreError};

const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How long a replay tag may wait for its fsync: the window a machine crash could reopen.
const REPLAY_SYNC_INTERVAL: Duration = Duration::from_millis(10);

#[derive(Debug, Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot start the mailbox host thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot start the onion roles: {0}")]
    Onion(String),
    #[error(transparent)]
    Issuer(#[from] crate::issuer_file::IssuerFileError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// QUIC stream reset code for a direct request to a relay that serves only the onion path.
const DIRECT_REFUSED: u32 = 3;

/// How a relay runs.
#[derive(Default)]
pub struct RunOptions {
    /// Serve Prometheus metrics on this TCP address.
    pub metrics: Option<SocketAddr>,
    /// Join this network as gateway, mix and onion host.
    pub network: Option<Directory>,
    /// In a network, also answer mailbox requests sent straight to this relay (debugging only:
    /// the relay then sees who uses which mailbox). Without a network, direct is all there is.
    pub allow_direct: bool,
    /// A socket already bound to the configured address, held since the address was chosen so
    /// no one else could take it; without one the relay binds the address itself.
    pub socket: Option<std::net::UdpSocket>,
    /// A test harness around the onion roles (`crate::harness`); none in a serving relay.
    pub hooks: Option<Arc<dyn Hooks>>,
}

/// A running relay.
pub struct Relay {
    endpoint: quinn::Endpoint,
    address: RelayAddress,
    metrics_address: Option<SocketAddr>,
    tasks: JoinSet<()>,
    host: HostHandle,
    host_thread: std::thread::JoinHandle<()>,
    onion: Option<Arc<OnionNode>>,
}

impl Relay {
    /// Opens the store and starts serving the relay in `data`.
    pub async fn start(data: &DataDir, options: RunOptions) -> Result<Self, ServiceError> {
        let RunOptions {
            metrics: metrics_listen,
            network,
            allow_direct,
            socket,
            hooks,
        } = options;
        let direct = allow_direct || network.is_none();
        let store: Box<dyn Store> = match data.config.store {
            StoreKind::Redb => Box::new(RedbStore::open(&data.store_path())?),
            StoreKind::Memory => Box::new(MemoryStore::new()),
        };
        let vouchers = match &network {
            Some(directory) => {
                crate::issuer_file::policy(directory, &data.identity.fingerprint(), &data.path)?
            }
            None => Default::default(),
        };
        let host = Host::open(store, (&data.config.limits).into())?.with_vouchers(vouchers);
        let metrics = Arc::new(Metrics::default());
        let (handle, host_thread) =
            HostHandle::spawn(host, metrics.clone()).map_err(ServiceError::Thread)?;

        let mut server = server_config(data.identity.signing_key())?;
        server.transport_config(Arc::new(transport_config(&data.config.connections)));
        let listen = data.config.listen;
        let bind = |source| ServiceError::Bind {
            addr: listen,
            source,
        };
        let socket = match socket {
            Some(socket) if socket.local_addr().map_err(bind)? == listen => socket,
            Some(_) => {
                return Err(bind(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the socket handed to the relay is bound to another address",
                )))
            }
            None => std::net::UdpSocket::bind(listen).map_err(bind)?,
        };
        let endpoint = quinn::Endpoint::new(
            endpoint_config(data.identity.signing_key()),
            Some(server),
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(bind)?;
        let onion = match network {
            Some(directory) => Some(
                OnionNode::open(
                    data,
                    Wiring {
                        directory,
                        endpoint: endpoint.clone(),
                        host: handle.clone(),
                        metrics: metrics.clone(),
                        hooks: hooks.unwrap_or_else(|| Arc::new(NoHooks)),
                    },
                )
                .map_err(ServiceError::Onion)?,
            ),
            None => None,
        };

        let mut tasks = JoinSet::new();
        let metrics_address = match metrics_listen {
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServiceError::Bind { addr, source })?;
                let bound = listener
                    .local_addr()
                    .map_err(|source| ServiceError::Bind { addr, source })?;
                tasks.spawn(metrics::serve(listener, metrics.clone()));
                Some(bound)
            }
            None => None,
        };
        let mut address = data.address();
        if let Ok(bound) = endpoint.local_addr() {
            address.port = bound.port();
        }
        if let Some(node) = &onion {
            tasks.spawn(maintain(node.clone(), address.clone()));
            tasks.spawn(sync_replay_log(node.clone()));
        }
        let shared = Shared {
            host: handle.clone(),
            metrics,
            onion: onion.clone(),
            direct,
            admission: Admission::new(data.config.connections.clone()),
            stream_timeout: data.config.connections.stream_timeout(),
        };
        tasks.spawn(accept(endpoint.clone(), shared));
        Ok(Self {
            endpoint,
            address,
            metrics_address,
            tasks,
            host: handle,
            host_thread,
            onion,
        })
    }

    /// Applies new `[limits]` (a reloaded `relay.toml`) from the next request on.
    pub fn set_limits(&self, limits: &Limits) {
        self.host.configure(limits.into());
    }

    /// Whether the mailbox host stopped because its store failed beyond repair: the relay
    /// should then exit, so its supervisor restarts it (or its operator sees why).
    pub fn host_stopped(&self) -> bool {
        self.host.stopped()
    }

    pub fn address(&self) -> &RelayAddress {
        &self.address
    }

    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_address
    }

    /// In a network: this relay's onion keys for the epoch at `now` and the next, as the
    /// network file lists them. The relay rotates them itself, once a second at most late.
    pub fn onion_keys(&self, now: u64) -> Option<(OnionKey, OnionKey)> {
        self.onion.as_ref()?.published_keys(now)
    }

    /// Closes every connection, lets the host finish its batch and closes the store.
    pub async fn shutdown(mut self) {
        self.endpoint.close(0u32.into(), b"relay shutting down");
        self.tasks.shutdown().await;
        if let Some(node) = self.onion.take() {
            node.maintain();
        }
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.endpoint.wait_idle()).await;
        // The host thread ends when the last handle to it goes: this one first.
        drop(self.host);
        let host_thread = self.host_thread;
        let _ = tokio::task::spawn_blocking(move || host_thread.join()).await;
    }
}

/// What every connection task needs.
#[derive(Clone)]
struct Shared {
    host: HostHandle,
    metrics: Arc<Metrics>,
    onion: Option<Arc<OnionNode>>,
    /// Whether clients may send mailbox requests straight to this relay, so that it sees
    /// both their address and their mailbox.
    direct: bool,
    admission: Arc<Admission>,
    stream_timeout: Duration,
}

/// What one connection may hold (`[connections]`): streams, bytes in flight, and a stream
/// window just large enough for the longest message a relay reads.
fn transport_config(limits: &ConnectionLimits) -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    transport.max_concurrent_bidi_streams(limits.streams_per_connection.into());
    transport.max_concurrent_uni_streams(limits.streams_per_connection.into());
    transport.receive_window(limits.receive_window.into());
    let longest = u32::try_from(MAX_INBOUND_LEN.max(FRAME_LEN)).unwrap_or(u32::MAX);
    transport.stream_receive_window(longest.into());
    transport
}

/// Groups the replay log's fsyncs: at most one per interval, none when idle.
async fn sync_replay_log(node: Arc<OnionNode>) {
    let mut tick = tokio::time::interval(REPLAY_SYNC_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let node = node.clone();
        let _ = tokio::task::spawn_blocking(move || node.sync_replay_log()).await;
    }
}

/// Key rotation, replay-log flushing and the relay's descriptor, once a second.
async fn maintain(node: Arc<OnionNode>, address: RelayAddress) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let (node, address) = (node.clone(), address.clone());
        let _ = tokio::task::spawn_blocking(move || {
            node.maintain();
            node.publish_descriptor(&address);
        })
        .await;
    }
}

async fn accept(endpoint: quinn::Endpoint, shared: Shared) {
    let next_id = AtomicU64::new(0);
    let mut connections = JoinSet::new();
    while let Some(incoming) = endpoint.accept().await {
        // Addresses are counted only once proven (see `admission`): a forged one gets a Retry
        // and costs no handshake.
        if !incoming.remote_address_validated() {
            if let Err(error) = incoming.retry() {
                error.into_incoming().ignore();
            }
            continue;
        }
        let place = match shared.admission.admit(incoming.remote_address().ip()) {
            Ok(place) => place,
            Err(refused) => {
                shared.metrics.connection_refused(refused);
                incoming.refuse();
                continue;
            }
        };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        connections.spawn(serve_connection(incoming, id, shared.clone(), place));
        while connections.try_join_next().is_some() {}
    }
}

/// Serves one connection; `_place` is its place among the relay's connections, given back
/// when this returns.
async fn serve_connection(incoming: quinn::Incoming, id: u64, shared: Shared, _place: Admitted) {
    let connection = match incoming.await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::debug!(%error, "handshake failed");
            return;
        }
    };
    shared.metrics.connection_opened();
    let (frames, mut pushes) = mpsc::channel::<Vec<u8>>(MAX_PENDING_PUSHES);
    let sink = PushSink {
        id,
        connection: Some(connection.clone()),
        frames,
    };
    let pusher = {
        let connection = connection.clone();
        tokio::spawn(async move {
            while let Some(frame) = pushes.recv().await {
                if stream::send(&connection, &frame).await.is_err() {
                    break;
                }
            }
        })
    };
    let mut streams = JoinSet::new();
    loop {
        tokio::select! {
            bi = connection.accept_bi() => {
                let Ok((mut send, recv)) = bi else { break };
                if shared.direct {
                    let host = shared.host.clone();
                    streams.spawn(serve_stream(send, recv, host, sink.clone(), shared.stream_timeout));
                } else {
                    let _ = send.reset(DIRECT_REFUSED.into());
                }
            }
            uni = connection.accept_uni() => {
                let Ok(recv) = uni else { break };
                if let Some(node) = &shared.onion {
                    let (node, connection) = (node.clone(), connection.clone());
                    streams.spawn(serve_onion_stream(recv, node, connection, shared.stream_timeout));
                }
            }
        }
        while streams.try_join_next().is_some() {}
    }
    pusher.abort();
    if let Some(node) = &shared.onion {
        node.connection_closed(&connection);
    }
    shared.host.connection_closed(id);
    shared.metrics.connection_closed();
}

async fn serve_onion_stream(
    mut recv: quinn::RecvStream,
    node: Arc<OnionNode>,
    connection: quinn::Connection,
    timeout: Duration,
) {
    let received = tokio::time::timeout(timeout, stream::receive(&mut recv, MAX_INBOUND_LEN)).await;
    match received {
        Ok(Ok(bytes)) => node.handle_stream(bytes, &connection).await,
        Ok(Err(stream::StreamError::TooLong(_))) => node.dropped(Drop::Malformed),
        Ok(Err(_)) => node.dropped(Drop::Incomplete),
        Err(_) => {
            let _ = recv.stop(STREAM_TOO_SLOW.into());
            node.dropped(Drop::Slow)
        }
    }
}

/// QUIC stream error code for a stream that took longer than `stream_timeout_secs`.
const STREAM_TOO_SLOW: u32 = 4;

async fn serve_stream(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    host: HostHandle,
    sink: PushSink,
    timeout: Duration,
) {
    let Ok(Ok(frame)) = tokio::time::timeout(timeout, recv.read_to_end(FRAME_LEN)).await else {
        let _ = recv.stop(STREAM_TOO_SLOW.into());
        let _ = send.reset(1u32.into());
        return;
    };
    // A frame of the wrong size still goes to the host, which answers MALFORMED.
    let Ok(answer) = host.request(frame, sink).await else {
        let _ = send.reset(2u32.into());
        return;
    };
    if send.write_all(&answer).await.is_ok() {
        let _ = send.finish();
    }
}
