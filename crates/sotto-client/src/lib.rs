//! The sotto client library: conversations ([`Device`]: MLS groups over mailboxes, one-time
//! links, the SQLite [`store`]) on top of a mailbox client ([`MailboxClient`]) over a [`Transport`]: the
//! onion path through a network ([`OnionTransport`]), or a direct QUIC connection pinned to the
//! host's fingerprint ([`DirectTransport`], for tests and debugging).

mod capability;
mod catch_up;
mod content;
pub mod conversation;
mod device;
mod direct;
pub mod files;
pub mod group;
mod health;
mod home;
mod inbox;
mod mailbox;
mod onion;
mod own_write;
mod owner_only;
mod push_blocks;
mod rto;
pub mod store;
#[cfg(test)]
mod test_network;
mod transport;
pub mod wallet;

pub use capability::{Link, LinkCap, NewMailbox, ReadCap, WriteCap};
pub use catch_up::{Fetched, ToFetch};
pub use content::{
    ContentError, ContentKey, LinkKey, BINDING_LEN, MAX_LINK_PLAINTEXT_LEN, MAX_PLAINTEXT_LEN,
    SEAL_OVERHEAD,
};
pub use conversation::change::Change;
pub use conversation::{ConversationError, Event};
pub use device::{
    init, pin_authority, Arrival, Arrivals, AutoDownloaded, Contact, Device, FileToSend, Finished,
    FollowUp, GroupMember, GroupSummary, Network, OnionNetwork, Progress, Transfer,
    DEFAULT_MAX_FILE_SIZE, SELF_UPDATE_EVERY,
};
pub use direct::{DirectTransport, DEFAULT_RETRY_FOR};
pub use health::RelayHealth;
pub use home::{
    change_unlock, database_path, key_record, open_store, KeyPlace, Record, Unlock, DATABASE_FILE,
    KEY_FILE, PLACE_FILE,
};
pub use mailbox::{ClientError, MailboxClient, MailboxOptions};
pub use onion::{GatewayLink, OnionTransport, PacketCount, Trace};
pub use own_write::{OwnWrite, OwnWriteRequest, OwnWrites};
pub use transport::{Transport, TransportError};
