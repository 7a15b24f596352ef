//! The sotto client library. In this version: a mailbox client ([`MailboxClient`]) over a
//! [`Transport`], with a direct QUIC transport pinned to the relay's fingerprint.

mod capability;
mod content;
mod direct;
mod mailbox;
mod pin;
mod transport;

pub use capability::{Link, LinkCap, NewMailbox, ReadCap, WriteCap};
pub use content::{
    ContentError, ContentKey, MAX_LINK_PLAINTEXT_LEN, MAX_PLAINTEXT_LEN, SEAL_OVERHEAD,
};
pub use direct::{pinned_client_config, DirectTransport, DEFAULT_RETRY_FOR};
pub use mailbox::{ClientError, MailboxClient, MailboxOptions};
pub use transport::{Transport, TransportError};
