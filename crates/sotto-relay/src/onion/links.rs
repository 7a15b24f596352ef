//! Connections from this relay to the others, opened on first use and pinned to each relay's
//! fingerprint. A packet is one unidirectional stream.
//!
//! A connection must not lose its last handle while a packet it carries is still unsent:
//! dropping it closes it at once and discards that packet, with nothing counted anywhere. So a
//! connection in the table is replaced only once it has closed, and removed only by the sender
//! whose packet found it broken.

use std::collections::HashMap;

use sotto_onion::directory::Directory;
use sotto_onion::packet::NodeId;
use sotto_proto::Fingerprint;
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
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
    open: Mutex<HashMap<NodeId, quinn::Connection>>,
}

impl Links {
    pub fn new(endpoint: quinn::Endpoint) -> Self {
        Self {
            endpoint,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Sends one packet to relay `next`, reconnecting once if the link had broken.
    pub async fn send(
        &self,
        directory: &Directory,
        next: NodeId,
        packet: &[u8],
    ) -> Result<(), LinkError> {
        let mut last = LinkError::UnknownRelay;
        for _ in 0..2 {
            let connection = self.connection(directory, next).await?;
            match send_on(&connection, packet).await {
                Ok(()) => return Ok(()),
                Err(error) => {
                    let mut open = self.open.lock().await;
                    if open
                        .get(&next)
                        .is_some_and(|c| c.stable_id() == connection.stable_id())
                    {
                        open.remove(&next);
                    }
                    last = error;
                }
            }
        }
        Err(last)
    }

    async fn connection(
        &self,
        directory: &Directory,
        next: NodeId,
    ) -> Result<quinn::Connection, LinkError> {
        if let Some(connection) = self.open.lock().await.get(&next) {
            if connection.close_reason().is_none() {
                return Ok(connection.clone());
            }
        }
        // Connect without holding the table: a relay that does not answer must not hold up
        // packets for every other relay.
        let relay = directory
            .relay(&Fingerprint::from_bytes(next))
            .ok_or(LinkError::UnknownRelay)?;
        let address = &relay.address;
        let remote = sotto_client::resolve(address)
            .await
            .map_err(|e| LinkError::Connect(e.to_string()))?;
        let config = sotto_client::pinned_client_config(address.fingerprint)
            .map_err(|e| LinkError::Connect(e.to_string()))?;
        let connecting = self
            .endpoint
            .connect_with(config, remote, "sotto-relay")
            .map_err(|e| LinkError::Connect(e.to_string()))?;
        let connection = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| LinkError::Connect("no answer".into()))?
            .map_err(|e| LinkError::Connect(e.to_string()))?;
        let mut open = self.open.lock().await;
        // Packets sent at once to a relay not yet linked each connect; the first link made is
        // kept and carries them all (the others carried nothing, so dropping them is free).
        if let Some(first) = open.get(&next).filter(|c| c.close_reason().is_none()) {
            return Ok(first.clone());
        }
        open.insert(next, connection.clone());
        Ok(connection)
    }
}

pub async fn send_on(connection: &quinn::Connection, bytes: &[u8]) -> Result<(), LinkError> {
    let mut stream = connection
        .open_uni()
        .await
        .map_err(|e| LinkError::Send(e.to_string()))?;
    stream
        .write_all(bytes)
        .await
        .map_err(|e| LinkError::Send(e.to_string()))?;
    stream.finish().map_err(|e| LinkError::Send(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::time::Duration;

    use quinn::crypto::rustls::QuicServerConfig;
    use sotto_onion::directory::{OnionKey, Relay};
    use sotto_proto::RelayAddress;
    use tokio::sync::mpsc;

    use super::*;
    use crate::identity::Identity;

    const EPOCH_SECS: u64 = 86_400;

    /// A relay's endpoint that hands over every packet (stream) it receives, and the network
    /// file that lists it.
    fn receiver() -> (quinn::Endpoint, Directory, mpsc::UnboundedReceiver<Vec<u8>>) {
        let identity = Identity::generate();
        let tls = QuicServerConfig::try_from(identity.tls_server_config().unwrap()).unwrap();
        let server = quinn::ServerConfig::with_crypto(Arc::new(tls));
        let endpoint = quinn::Endpoint::server(server, "127.0.0.1:0".parse().unwrap()).unwrap();
        let (packets, received) = mpsc::unbounded_channel();
        let accepting = endpoint.clone();
        tokio::spawn(async move {
            while let Some(incoming) = accepting.accept().await {
                let packets = packets.clone();
                tokio::spawn(async move {
                    let Ok(connection) = incoming.await else {
                        return;
                    };
                    while let Ok(mut stream) = connection.accept_uni().await {
                        let packets = packets.clone();
                        tokio::spawn(async move {
                            if let Ok(bytes) = stream.read_to_end(1 << 20).await {
                                let _ = packets.send(bytes);
                            }
                        });
                    }
                });
            }
        });
        let key = |epoch, byte| OnionKey::for_epoch(epoch, EPOCH_SECS, [byte; 32]).unwrap();
        let relay = Relay {
            address: RelayAddress {
                fingerprint: identity.fingerprint(),
                host: "127.0.0.1".into(),
                port: endpoint.local_addr().unwrap().port(),
            },
            onion_key: key(0, 9),
            next_onion_key: key(1, 10),
        };
        let directory = Directory::new(EPOCH_SECS, vec![relay]).unwrap();
        (endpoint, directory, received)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn packets_sent_at_once_over_a_new_link_all_arrive() {
        let (_relay, directory, mut received) = receiver();
        let next = *directory.relays()[0].fingerprint().as_bytes();
        let client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        let links = Arc::new(Links::new(client));
        let mut sends = tokio::task::JoinSet::new();
        for i in 0..16u8 {
            let (links, directory) = (links.clone(), directory.clone());
            sends.spawn(async move { links.send(&directory, next, &[i; 16 * 1024]).await });
        }
        while let Some(sent) = sends.join_next().await {
            sent.unwrap().unwrap();
        }
        let mut arrived = HashSet::new();
        while arrived.len() < 16 {
            let packet = tokio::time::timeout(Duration::from_secs(5), received.recv())
                .await
                .unwrap_or_else(|_| panic!("only {} of 16 packets arrived", arrived.len()))
                .unwrap();
            arrived.insert(packet[0]);
        }
    }
}
