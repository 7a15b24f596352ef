//! A client's link to one entry relay: one QUIC connection, one address registered at the
//! relay, one task taking deliveries, shared by every transport that enters the network
//! there. A device with mailboxes on many hosts so costs its gateway one connection and one
//! set of keep-alives, and the gateway cannot tell from its connections how many hosts the
//! device uses.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, Weak};

use rand::RngCore;
use sotto_onion::directory::Directory;
use sotto_proto::Fingerprint;
use sotto_quic::onion::{delivery_parts, DELIVERY_LEN};
use sotto_quic::{pinned_client_config, resolve, stream};
use tokio::sync::Mutex;

use super::count::{Counters, PacketCount};
use super::inbound::Inbound;
use crate::direct::handshake_failed;
use crate::transport::TransportError;

/// The transports entering at one relay, each found by the reply ids it waits for.
type Attached = Arc<SyncMutex<Vec<Weak<Inbound>>>>;

pub struct GatewayLink {
    directory: Directory,
    gateway: Fingerprint,
    /// Where replies find this client at the gateway; random, and new for every link.
    address: [u8; 32],
    endpoint: quinn::Endpoint,
    connection: Mutex<Option<quinn::Connection>>,
    /// A lost connection is being made again.
    reconnecting: AtomicBool,
    attached: Attached,
    packets: Arc<Counters>,
}

impl GatewayLink {
    /// Connects to `gateway`, a relay of the network in `directory`, and registers a new
    /// address there for replies.
    pub async fn connect(
        directory: Directory,
        gateway: Fingerprint,
    ) -> Result<Arc<Self>, TransportError> {
        let mut address = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut address);
        let bind: SocketAddr = ([0, 0, 0, 0], 0).into();
        let endpoint =
            quinn::Endpoint::client(bind).map_err(|e| TransportError::Connect(e.to_string()))?;
        let link = Self {
            directory,
            gateway,
            address,
            endpoint,
            connection: Mutex::new(None),
            reconnecting: AtomicBool::new(false),
            attached: Arc::default(),
            packets: Arc::default(),
        };
        // A gateway that is busy (or a machine that is) can miss the handshake's timeout
        // once; a wrong address or fingerprint fails at once either way.
        match link.connection().await {
            Err(TransportError::Unreachable(_)) => link.connection().await?,
            made => made?,
        };
        Ok(Arc::new(link))
    }

    /// The relay this link enters the network at.
    pub fn gateway(&self) -> Fingerprint {
        self.gateway
    }

    pub(super) fn directory(&self) -> &Directory {
        &self.directory
    }

    pub(super) fn address(&self) -> [u8; 32] {
        self.address
    }

    /// Whether the connection to the gateway stands. A lost connection is made again by the
    /// next request; until that succeeds, this says no.
    pub fn connected(&self) -> bool {
        if self.reconnecting.load(Ordering::SeqCst) {
            return false;
        }
        // Held only for a moment when nothing is being reconnected.
        self.connection.try_lock().map_or(true, |slot| {
            slot.as_ref()
                .is_some_and(|connection| connection.close_reason().is_none())
        })
    }

    /// The local UDP address this client sends from.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.endpoint.local_addr().ok()
    }

    /// Sphinx packets sent to and received from the gateway so far, for every transport on
    /// this link.
    pub fn packets(&self) -> PacketCount {
        self.packets.read()
    }

    /// Lets `inbound` have the deliveries for its reply ids, and word of a lost connection.
    pub(super) fn attach(&self, inbound: &Arc<Inbound>) {
        let mut attached = self.attached.lock().unwrap_or_else(|e| e.into_inner());
        attached.retain(|transport| transport.strong_count() > 0);
        attached.push(Arc::downgrade(inbound));
    }

    /// Sends a packet (`first hop ‖ packet`) into the network, connecting first if needed.
    pub(super) async fn inject(&self, injection: &[u8]) -> Result<(), TransportError> {
        let connection = self.connection().await?;
        if let Err(error) = stream::send(&connection, injection).await {
            // Broken for every transport on it: the next request makes a new one.
            connection.close(0u32.into(), b"send failed");
            return Err(stream_error(error));
        }
        self.packets.sent();
        Ok(())
    }

    /// The connection to the gateway, made (and this link's address registered) if needed.
    pub(super) async fn connection(&self) -> Result<quinn::Connection, TransportError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref().filter(|c| c.close_reason().is_none()) {
            return Ok(connection.clone());
        }
        self.reconnecting.store(true, Ordering::SeqCst);
        let made = self.connect_gateway().await;
        self.reconnecting.store(false, Ordering::SeqCst);
        let connection = made?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// A new connection to the gateway, with this link's address registered on it.
    async fn connect_gateway(&self) -> Result<quinn::Connection, TransportError> {
        let relay = self.directory.relay(&self.gateway).ok_or_else(|| {
            TransportError::Connect("the gateway is not in the network file".into())
        })?;
        let remote = resolve(relay.address()).await?;
        let config = pinned_client_config(self.gateway)?;
        let connection = self
            .endpoint
            .connect_with(config, remote, "sotto-relay")
            .map_err(|e| TransportError::Connect(e.to_string()))?
            .await
            .map_err(handshake_failed)?;
        stream::send(&connection, &self.address)
            .await
            .map_err(stream_error)?;
        tokio::spawn(receive(
            connection.clone(),
            self.attached.clone(),
            self.packets.clone(),
        ));
        Ok(connection)
    }
}

impl Drop for GatewayLink {
    fn drop(&mut self) {
        self.endpoint.close(0u32.into(), b"client closed");
    }
}

fn stream_error(error: stream::StreamError) -> TransportError {
    TransportError::Connection(error.to_string())
}

/// Takes deliveries from the gateway and hands each to the transport waiting for its reply id.
/// When the connection ends, every transport on it renews its subscriptions: their push
/// blocks lead to an address the gateway forgot with the connection.
async fn receive(connection: quinn::Connection, attached: Attached, packets: Arc<Counters>) {
    while let Ok(mut incoming) = connection.accept_uni().await {
        let Ok(delivery) = stream::receive(&mut incoming, DELIVERY_LEN).await else {
            continue;
        };
        packets.received();
        let Some((id, payload)) = delivery_parts(&delivery) else {
            continue;
        };
        let transports = live(&attached);
        if !transports
            .iter()
            .any(|transport| transport.deliver(id, payload))
        {
            tracing::debug!("a delivery for no waiting reply");
        }
    }
    for transport in live(&attached) {
        transport.renew();
    }
}

/// The transports still attached. Taken out of the lock so that no transport is dropped, or
/// handed a delivery, while it is held.
fn live(attached: &Attached) -> Vec<Arc<Inbound>> {
    attached
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect()
}
