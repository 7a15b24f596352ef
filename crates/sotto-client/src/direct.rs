//! The direct transport: one QUIC connection to the host, pinned to its fingerprint. It is the
//! only transport in this version; the onion transport takes its place as the default later.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sotto_proto::{RelayAddress, FRAME_LEN};
use sotto_quic::{pinned_client_config, resolve, stream};
use tokio::sync::{mpsc, Mutex};

use crate::transport::{Transport, TransportError};

/// Longest wait for one answer before the request is sent again on a new connection.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Why a connection could not be made: a failed certificate pin or protocol mismatch
/// (trying again cannot help), no answer in time (the relay is down, or too busy), or
/// something else.
pub(crate) fn handshake_failed(error: quinn::ConnectionError) -> TransportError {
    match error {
        quinn::ConnectionError::TransportError(_) | quinn::ConnectionError::VersionMismatch => {
            TransportError::Handshake(error.to_string())
        }
        quinn::ConnectionError::TimedOut => TransportError::Unreachable(error.to_string()),
        other => TransportError::Connect(other.to_string()),
    }
}

/// How long a request is retried: below the host's replay window, so a retry that arrives after
/// the host committed the first copy still gets the first answer.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(60);

pub struct DirectTransport {
    endpoint: quinn::Endpoint,
    config: quinn::ClientConfig,
    remote: SocketAddr,
    connection: Mutex<Option<quinn::Connection>>,
    pushes_in: mpsc::UnboundedSender<Vec<u8>>,
    pushes_out: Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    epoch: Arc<AtomicU64>,
    retry_for: Duration,
}

impl DirectTransport {
    /// Resolves the relay's address and connects, checking the relay's identity.
    pub async fn connect(address: &RelayAddress) -> Result<Self, TransportError> {
        let remote = resolve(address).await?;
        let config = pinned_client_config(address.fingerprint)?;
        let bind: SocketAddr = if remote.is_ipv6() {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        }
        .parse()
        .map_err(|_| TransportError::Connect("bad bind address".into()))?;
        let endpoint =
            quinn::Endpoint::client(bind).map_err(|e| TransportError::Connect(e.to_string()))?;
        let (pushes_in, pushes_out) = mpsc::unbounded_channel();
        let transport = Self {
            endpoint,
            config,
            remote,
            connection: Mutex::new(None),
            pushes_in,
            pushes_out: Mutex::new(pushes_out),
            epoch: Arc::new(AtomicU64::new(0)),
            retry_for: DEFAULT_RETRY_FOR,
        };
        transport.connection().await?;
        Ok(transport)
    }

    /// The local UDP address this transport sends from.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.endpoint.local_addr().ok()
    }

    /// Changes how long a request is retried across lost connections.
    pub fn retry_for(mut self, duration: Duration) -> Self {
        self.retry_for = duration;
        self
    }

    /// The open connection, or a new one if there is none.
    async fn connection(&self) -> Result<quinn::Connection, TransportError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref().filter(|c| c.close_reason().is_none()) {
            return Ok(connection.clone());
        }
        let connecting = self
            .endpoint
            .connect_with(self.config.clone(), self.remote, "sotto-relay")
            .map_err(|e| TransportError::Connect(e.to_string()))?;
        let connection = tokio::time::timeout(ATTEMPT_TIMEOUT, connecting)
            .await
            .map_err(|_| TransportError::Timeout(ATTEMPT_TIMEOUT))?
            .map_err(handshake_failed)?;
        tokio::spawn(receive_pushes(
            connection.clone(),
            self.pushes_in.clone(),
            self.epoch.clone(),
        ));
        *slot = Some(connection.clone());
        Ok(connection)
    }

    async fn attempt(&self, frame: &[u8]) -> Result<Vec<u8>, TransportError> {
        let connection = self.connection().await?;
        let exchange = async {
            let (mut send, mut recv) = connection.open_bi().await.map_err(connection_error)?;
            send.write_all(frame).await.map_err(connection_error)?;
            send.finish().map_err(connection_error)?;
            recv.read_to_end(FRAME_LEN).await.map_err(connection_error)
        };
        let result = tokio::time::timeout(ATTEMPT_TIMEOUT, exchange)
            .await
            .map_err(|_| TransportError::Timeout(ATTEMPT_TIMEOUT))
            .and_then(|answer| answer);
        if result.is_err() {
            // Whatever went wrong, the next attempt starts on a fresh connection.
            connection.close(0u32.into(), b"request failed");
        }
        result
    }
}

impl Drop for DirectTransport {
    fn drop(&mut self) {
        // Tell the relay at once rather than leaving it to the idle timeout.
        self.endpoint.close(0u32.into(), b"client closed");
    }
}

fn connection_error(error: impl std::fmt::Display) -> TransportError {
    TransportError::Connection(error.to_string())
}

/// Forwards the pushes of one connection; when it ends, the epoch moves on.
async fn receive_pushes(
    connection: quinn::Connection,
    pushes: mpsc::UnboundedSender<Vec<u8>>,
    epoch: Arc<AtomicU64>,
) {
    while let Ok(mut stream) = connection.accept_uni().await {
        if let Ok(frame) = stream::receive(&mut stream, FRAME_LEN).await {
            if pushes.send(frame).is_err() {
                break;
            }
        }
    }
    epoch.fetch_add(1, Ordering::SeqCst);
}

impl Transport for DirectTransport {
    async fn round_trip(&self, frame: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let deadline = Instant::now() + self.retry_for;
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.attempt(&frame).await {
                Ok(answer) => return Ok(answer),
                Err(error @ TransportError::Handshake(_)) => return Err(error),
                Err(error) if Instant::now() + backoff < deadline => {
                    tracing::debug!(%error, "request failed; sending it again");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn next_push(&self) -> Option<Vec<u8>> {
        self.pushes_out.lock().await.recv().await
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }
}
