//! How request frames reach a mailbox host. The client speaks only through [`Transport`], so the
//! onion path replaces the direct QUIC connection without touching the mailbox client.

use std::future::Future;
use std::time::Duration;

use sotto_proto::{open_frame, FrameKind, Response, ResponseBody};
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

/// How long a host that answered `answer` asked to wait before the same frame is sent again,
/// if it answered BUSY (protocol §7.2): the transports handle that answer themselves, and
/// it never reaches the mailbox client.
pub(crate) fn busy_wait(answer: &[u8]) -> Option<Duration> {
    let (FrameKind::Response, body) = open_frame(answer).ok()? else {
        return None;
    };
    // Looking at the kind first keeps the usual answer from being decoded twice.
    if body.first() != Some(&BUSY_KIND) {
        return None;
    }
    match Response::decode(body).ok()?.body {
        ResponseBody::Busy { retry_after_ms } => Some(Duration::from_millis(retry_after_ms.into())),
        _ => None,
    }
}

/// `ResponseBody::Busy`'s kind byte.
const BUSY_KIND: u8 = 20;

/// Waits `wait` and up to a quarter more, so clients told the same wait do not all come back
/// at once.
pub(crate) async fn back_off(wait: Duration) {
    let spread = rand::Rng::gen_range(&mut rand::thread_rng(), 0.0..0.25);
    tokio::time::sleep(wait.mul_f64(1.0 + spread)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_answer_says_how_long_and_others_say_nothing() {
        let busy = Response {
            nonce: [0; 16],
            body: ResponseBody::Busy {
                retry_after_ms: 1500,
            },
        }
        .seal()
        .unwrap();
        assert_eq!(busy_wait(&busy), Some(Duration::from_millis(1500)));
        let done = Response {
            nonce: [0; 16],
            body: ResponseBody::Done,
        }
        .seal()
        .unwrap();
        assert_eq!(busy_wait(&done), None);
        assert_eq!(busy_wait(&[20; 8]), None);
    }
}
