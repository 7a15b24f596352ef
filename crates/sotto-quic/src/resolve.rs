use std::net::SocketAddr;

use sotto_proto::RelayAddress;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ResolveError {
    #[error("cannot resolve {host}: {source}")]
    Lookup {
        host: String,
        source: std::io::Error,
    },
    #[error("{0} has no address")]
    NoAddress(String),
}

/// The socket address of a relay's host and port.
pub async fn resolve(address: &RelayAddress) -> Result<SocketAddr, ResolveError> {
    tokio::net::lookup_host((address.host.as_str(), address.port))
        .await
        .map_err(|source| ResolveError::Lookup {
            host: address.host.clone(),
            source,
        })?
        .next()
        .ok_or_else(|| ResolveError::NoAddress(address.host.clone()))
}
