//! How request frames reach a mailbox host. The client speaks only through [`Transport`], so the
//! onion path replaces the direct QUIC connection without touching the mailbox client.

use std::future::Future;

use sotto_quic::{ResolveError, TlsError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TransportError {
    #[error("cannot reach the relay: {0}")]
    Connect(String),
    #[error("the relay failed the secure handshake ({0}); check that its address, fingerprint included, is right")]
    Handshake(String),
    #[error("the relay did not answer ({0}); is it running and reachable at that address?")]
    Unreachable(String),
    #[error("the connection to the relay failed: {0}")]
    Connection(String),
    #[error("the relay sent a malformed answer: {0}")]
    Protocol(String),
    #[error("no answer from the relay within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the transport is closed")]
    Closed,
}

/// Carries one request frame to a host and its response frame back, and delivers pushes.
pub trait Transport: Send + Sync + 'static {
    /// Sends a request frame and waits for the response frame. Implementations may send the same
    /// frame again after a failure: the host answers a repeated request with its first answer.
    fn round_trip(
        &self,
        frame: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;

    /// Waits for the next push frame; `None` once the transport is closed for good.
    fn next_push(&self) -> impl Future<Output = Option<Vec<u8>>> + Send;

    /// Grows whenever the path that carries pushes was lost: subscriptions made before must be
    /// made again (messages are kept until acknowledged, so renewing loses nothing).
    fn epoch(&self) -> u64;
}

impl From<ResolveError> for TransportError {
    fn from(error: ResolveError) -> Self {
        Self::Connect(error.to_string())
    }
}

impl From<TlsError> for TransportError {
    fn from(error: TlsError) -> Self {
        Self::Connect(error.to_string())
    }
}
