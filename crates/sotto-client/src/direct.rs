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
                Ok(answer) => match crate::transport::busy_wait(&answer) {
                    Some(wait) if Instant::now() + wait < deadline => {
                        crate::transport::back_off(wait).await
                    }
                    Some(wait) => return Err(TransportError::Timeout(wait)),
                    None => return Ok(answer),
                },
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use ed25519_dalek::SigningKey;
    use sotto_proto::{Fingerprint, Response, ResponseBody};

    use super::*;

    /// A relay that answers the first request BUSY (wait 300 ms) and the next `Done`, and
    /// counts the requests it got.
    fn busy_then_done() -> (quinn::Endpoint, RelayAddress, Arc<AtomicUsize>) {
        let identity = SigningKey::from_bytes(&rand::random());
        let server = sotto_quic::server::server_config(&identity).unwrap();
        let endpoint = quinn::Endpoint::server(server, "127.0.0.1:0".parse().unwrap()).unwrap();
        let address = RelayAddress {
            fingerprint: Fingerprint::of_key(identity.verifying_key().as_bytes()),
            host: "127.0.0.1".into(),
            port: endpoint.local_addr().unwrap().port(),
        };
        let requests = Arc::new(AtomicUsize::new(0));
        let (accepting, counted) = (endpoint.clone(), requests.clone());
        tokio::spawn(async move {
            let connection = accepting.accept().await.unwrap().await.unwrap();
            while let Ok((mut send, mut recv)) = connection.accept_bi().await {
                let _ = recv.read_to_end(FRAME_LEN).await;
                let body = match counted.fetch_add(1, Ordering::SeqCst) {
                    0 => ResponseBody::Busy {
                        retry_after_ms: 300,
                    },
                    _ => ResponseBody::Done,
                };
                let answer = Response {
                    nonce: [0; 16],
                    body,
                };
                send.write_all(&answer.seal().unwrap()).await.unwrap();
                send.finish().unwrap();
            }
        });
        (endpoint, address, requests)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_busy_answer_is_waited_out_and_the_frame_sent_again() {
        let (_relay, address, requests) = busy_then_done();
        let transport = DirectTransport::connect(&address).await.unwrap();
        let started = Instant::now();
        let answer = transport.round_trip(vec![0; FRAME_LEN]).await.unwrap();
        assert_eq!(Response::open(&answer).unwrap().body, ResponseBody::Done);
        assert_eq!(requests.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}
