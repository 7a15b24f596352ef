//! Connections from this relay to the others, opened on first use and pinned to each relay's
//! fingerprint. A packet is one unidirectional stream.
//!
//! A connection must not lose its last handle while a packet it carries is still unsent:
//! dropping it closes it at once and discards that packet, with nothing counted anywhere. So
//! each relay has one link slot; packets that find it empty while another packet is connecting
//! wait for that connection rather than making their own, and a connection is taken out of the
//! slot only by the sender whose packet found it broken.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use sotto_onion::directory::Directory;
use sotto_onion::packet::NodeId;
use sotto_proto::Fingerprint;
use sotto_quic::{pinned_client_config, resolve, stream};
use tokio::sync::Mutex;

#[derive(Clone, Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no relay with that fingerprint in the directory")]
    UnknownRelay,
    #[error("cannot reach the next relay: {0}")]
    Connect(String),
    #[error("sending to the next relay failed: {0}")]
    Send(String),
}

/// How long a relay waits for another to accept a connection.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub struct Links {
    endpoint: quinn::Endpoint,
    slots: Mutex<HashMap<NodeId, Arc<Mutex<Slot>>>>,
}

/// The link to one relay. Its lock is held while connecting, so one handshake serves every
/// packet that came meanwhile.
#[derive(Default)]
struct Slot {
    connection: Option<quinn::Connection>,
    /// The last attempt that failed: packets that waited through it fail with it rather than
    /// each waiting out a connect timeout of its own in turn.
    failed: Option<(Instant, LinkError)>,
}

impl Links {
    pub fn new(endpoint: quinn::Endpoint) -> Self {
        Self {
            endpoint,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Sends one packet to relay `next`, reconnecting once if the link had broken.
    pub async fn send(
        &self,
        directory: &Directory,
        next: NodeId,
        packet: &[u8],
    ) -> Result<(), LinkError> {
        // Slots only for relays of the network: a client names the first hop of what it
        // injects, and each name it made up would otherwise keep a slot for good.
        if directory.relay(&Fingerprint::from_bytes(next)).is_none() {
            return Err(LinkError::UnknownRelay);
        }
        let slot = self.slots.lock().await.entry(next).or_default().clone();
        let mut last = LinkError::UnknownRelay;
        for _ in 0..2 {
            let connection = self.connection(&slot, directory, next).await?;
            match stream::send(&connection, packet).await {
                Ok(()) => return Ok(()),
                Err(error) => {
                    let mut slot = slot.lock().await;
                    if slot
                        .connection
                        .as_ref()
                        .is_some_and(|c| c.stable_id() == connection.stable_id())
                    {
                        slot.connection = None;
                    }
                    last = LinkError::Send(error.to_string());
                }
            }
        }
        Err(last)
    }

    async fn connection(
        &self,
        slot: &Mutex<Slot>,
        directory: &Directory,
        next: NodeId,
    ) -> Result<quinn::Connection, LinkError> {
        let asked = Instant::now();
        // Only packets for this relay wait here: one that does not answer holds up no other.
        let mut slot = slot.lock().await;
        if let Some(connection) = slot.connection.as_ref() {
            if connection.close_reason().is_none() {
                return Ok(connection.clone());
            }
        }
        if let Some((at, error)) = &slot.failed {
            if *at >= asked {
                return Err(error.clone());
            }
        }
        match self.connect(directory, next).await {
            Ok(connection) => {
                slot.connection = Some(connection.clone());
                slot.failed = None;
                Ok(connection)
            }
            Err(error) => {
                slot.connection = None;
                slot.failed = Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    async fn connect(
        &self,
        directory: &Directory,
        next: NodeId,
    ) -> Result<quinn::Connection, LinkError> {
        let relay = directory
            .relay(&Fingerprint::from_bytes(next))
            .ok_or(LinkError::UnknownRelay)?;
        let address = relay.address();
        let remote = resolve(address)
            .await
            .map_err(|e| LinkError::Connect(e.to_string()))?;
        let config = pinned_client_config(address.fingerprint)
            .map_err(|e| LinkError::Connect(e.to_string()))?;
        let connecting = self
            .endpoint
            .connect_with(config, remote, "sotto-relay")
            .map_err(|e| LinkError::Connect(e.to_string()))?;
        tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| LinkError::Connect("no answer".into()))?
            .map_err(|e| LinkError::Connect(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use sotto_onion::directory::{Descriptor, OnionKey, Relay, Stake};
    use sotto_proto::RelayAddress;
    use tokio::sync::mpsc;

    use super::*;
    use crate::identity::Identity;

    const EPOCH_SECS: u64 = 86_400;

    /// A relay's endpoint that hands over every packet (stream) it receives, the network file
    /// that lists it, and the count of connections it accepted.
    fn receiver() -> (
        quinn::Endpoint,
        Directory,
        mpsc::UnboundedReceiver<Vec<u8>>,
        Arc<AtomicUsize>,
    ) {
        let identity = Identity::generate();
        let server = sotto_quic::server::server_config(identity.signing_key()).unwrap();
        let endpoint = quinn::Endpoint::server(server, "127.0.0.1:0".parse().unwrap()).unwrap();
        let (packets, received) = mpsc::unbounded_channel();
        let accepted = Arc::new(AtomicUsize::new(0));
        let accepting = endpoint.clone();
        let counted = accepted.clone();
        tokio::spawn(async move {
            while let Some(incoming) = accepting.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let packets = packets.clone();
                tokio::spawn(async move {
                    let Ok(connection) = incoming.await else {
                        return;
                    };
                    while let Ok(mut recv) = connection.accept_uni().await {
                        let packets = packets.clone();
                        tokio::spawn(async move {
                            if let Ok(bytes) = stream::receive(&mut recv, 1 << 20).await {
                                let _ = packets.send(bytes);
                            }
                        });
                    }
                });
            }
        });
        let directory = listing(&identity, endpoint.local_addr().unwrap().port());
        (endpoint, directory, received, accepted)
    }

    /// A network file with one relay, `identity` on 127.0.0.1:`port`.
    fn listing(identity: &Identity, port: u16) -> Directory {
        let key = |epoch, byte| OnionKey::for_epoch(epoch, EPOCH_SECS, [byte; 32]).unwrap();
        let relay = Relay {
            descriptor: Descriptor {
                address: RelayAddress {
                    fingerprint: identity.fingerprint(),
                    host: "127.0.0.1".into(),
                    port,
                },
                onion_key: key(0, 9),
                next_onion_key: key(1, 10),
            },
            stake: Stake {
                operator: "test".into(),
                weight: 1,
            },
        };
        Directory::new(EPOCH_SECS, vec![relay]).unwrap()
    }

    /// Sends `count` packets to the one relay of `directory` at once; each packet's first byte
    /// is its number. The links come back too: dropping them would close their connection with
    /// its packets still unsent.
    async fn send_at_once(
        directory: &Directory,
        count: u8,
    ) -> (Arc<Links>, Vec<Result<(), LinkError>>) {
        let next = *directory.relays()[0].fingerprint().as_bytes();
        let client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        let links = Arc::new(Links::new(client));
        let mut sends = tokio::task::JoinSet::new();
        for i in 0..count {
            let (links, directory) = (links.clone(), directory.clone());
            sends.spawn(async move { links.send(&directory, next, &[i; 16 * 1024]).await });
        }
        (links, sends.join_all().await)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn packets_sent_at_once_over_a_new_link_all_arrive_over_one_connection() {
        let (_relay, directory, mut received, accepted) = receiver();
        let (_links, results) = send_at_once(&directory, 16).await;
        for sent in results {
            sent.unwrap();
        }
        let mut arrived = HashSet::new();
        while arrived.len() < 16 {
            let packet = tokio::time::timeout(Duration::from_secs(5), received.recv())
                .await
                .unwrap_or_else(|_| panic!("only {} of 16 packets arrived", arrived.len()))
                .unwrap();
            arrived.insert(packet[0]);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one handshake");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn packets_for_relays_not_in_the_network_keep_no_slot() {
        let (_relay, directory, _received, _accepted) = receiver();
        let client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        let links = Links::new(client);
        for n in 0..100u8 {
            let sent = links.send(&directory, [n; 32], &[0; 64]).await;
            assert!(matches!(sent, Err(LinkError::UnknownRelay)));
        }
        assert!(links.slots.lock().await.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn packets_for_a_relay_that_never_answers_fail_after_one_connect_timeout() {
        // Bound, so nothing reports the port closed; never read, so no handshake ever ends.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let directory = listing(&Identity::generate(), silent.local_addr().unwrap().port());
        let started = std::time::Instant::now();
        let (_links, results) = send_at_once(&directory, 8).await;
        assert!(results
            .iter()
            .all(|r| matches!(r, Err(LinkError::Connect(_)))));
        // Each packet waiting out a timeout of its own would take 8 of them.
        assert!(
            started.elapsed() < CONNECT_TIMEOUT * 2,
            "{:?}",
            started.elapsed()
        );
    }
}
