//! What the client's and the relay's I/O shells share, and nothing of either's logic, so that
//! a relay links neither MLS nor SQLite: QUIC connections pinned to a relay's fingerprint
//! ([`pinned_client_config`]) and the relay's side of them ([`server`]), how long connections
//! live without traffic, how messages and onion packets travel on QUIC streams ([`stream`],
//! [`onion`]), the clock, and files only their owner may read.

mod clock;
pub mod onion;
mod pin;
mod private_file;
mod resolve;
pub mod server;
pub mod stream;
mod timeouts;

use thiserror::Error;

pub use clock::unix_now;
pub use pin::pinned_client_config;
pub use private_file::{restrict_to_owner, sync_dir, write_private, Placement, UNFINISHED_SUFFIX};
pub use resolve::{resolve, ResolveError};
pub use timeouts::{IDLE_TIMEOUT, KEEP_ALIVE};

/// A TLS configuration for a relay or a client to it could not be made.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot encode the identity key: {0}")]
    Key(#[from] ed25519_dalek::pkcs8::Error),
    #[error("cannot make the relay's certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS configuration rejected by QUIC: {0}")]
    Quic(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
}
