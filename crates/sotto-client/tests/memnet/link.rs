//! A device's link to one simulated host: the [`Transport`] its mailbox client speaks over.
//! Like the onion transport, it sends a request again while no answer comes, the very same
//! frame, so a lost answer is answered by the host's replay memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sotto_client::{Transport, TransportError};
use sotto_proto::Fingerprint;
use tokio::sync::{mpsc, Mutex};
use tokio::time::Instant;

use crate::faults::Lane;
use crate::network::{MemoryNetwork, Packets, RENEW_EVERY};

/// How long an attempt is waited for before the frame goes again.
const RESEND_AFTER: Duration = Duration::from_secs(1);
/// How long a request is tried before the transport gives up, as the onion's does.
const RETRY_FOR: Duration = Duration::from_secs(60);

/// The network's side of a link: where its frames travel, and where its pushes arrive.
pub struct Link {
    pub(crate) host: Fingerprint,
    /// Restarts of the host this link lived through; each lost its push path.
    pub(crate) restarts: AtomicU64,
    opened: Instant,
    pub(crate) pushes: mpsc::UnboundedSender<Vec<u8>>,
    pub(crate) requests: Arc<Lane>,
    pub(crate) answers: Arc<Lane>,
    pub(crate) pushes_lane: Arc<Lane>,
    /// The device's count, which the pushes it gets add to.
    pub(crate) packets: Arc<Packets>,
}

pub struct MemoryTransport {
    network: MemoryNetwork,
    link: Arc<Link>,
    pushes: Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
}

impl MemoryTransport {
    pub(crate) fn new(network: MemoryNetwork, host: Fingerprint) -> (Arc<Link>, Self) {
        let (pushes, received) = mpsc::unbounded_channel();
        let link = Arc::new(Link {
            host,
            restarts: AtomicU64::new(0),
            opened: Instant::now(),
            pushes,
            requests: Arc::default(),
            answers: Arc::default(),
            pushes_lane: Arc::default(),
            packets: network.packets().clone(),
        });
        let transport = Self {
            network,
            link: link.clone(),
            pushes: Mutex::new(received),
        };
        (link, transport)
    }
}

impl Transport for MemoryTransport {
    async fn round_trip(&self, frame: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let give_up = Instant::now() + RETRY_FOR;
        let (answers, mut answered) = mpsc::unbounded_channel();
        loop {
            self.network
                .request(&self.link, frame.clone(), answers.clone());
            if let Ok(answer) = tokio::time::timeout(RESEND_AFTER, answered.recv()).await {
                return answer.ok_or(TransportError::Closed);
            }
            if Instant::now() >= give_up {
                return Err(TransportError::Timeout(RETRY_FOR));
            }
        }
    }

    async fn next_push(&self) -> Option<Vec<u8>> {
        self.pushes.lock().await.recv().await
    }

    fn epoch(&self) -> u64 {
        let renewals = self.link.opened.elapsed().as_secs() / RENEW_EVERY.as_secs();
        self.link.restarts.load(Ordering::SeqCst) + renewals
    }
}
