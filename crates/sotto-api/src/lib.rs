//! The local API of a running sotto client (`sotto serve`): JSON over a WebSocket on loopback.
//! [`types`] is the wire format (documented in `docs/api.md`); [`ApiClient`] is a typed client
//! for bots and other front ends.

mod client;
pub mod types;

pub use client::{ApiClient, ApiError};
pub use types::{
    Command, ConnectionState, Contact, Event, FileInfo, FilePreview, FileTransfer, MessageView,
    Reply, Request, TransferStarted,
};

/// The file in a client's home directory that holds the API token.
pub const TOKEN_FILE: &str = "api-token";
/// Where `sotto serve` listens unless told otherwise.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:7787";
