//! Connections from this relay to the others, opened on first use and pinned to each relay's
//! fingerprint. A packet is one unidirectional stream.

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
                    self.open.lock().await.remove(&next);
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
        self.open.lock().await.insert(next, connection.clone());
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
