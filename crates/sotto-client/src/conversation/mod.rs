//! Conversations: MLS groups of devices over one conversation mailbox each, started from
//! one-time links. `apply` turns one message from the mailbox into stored state; `device`
//! drives the network.

pub mod apply;
pub mod change;
pub mod local;
pub mod mls;
pub mod seal;
pub mod start;
pub(crate) mod text;

use sotto_proto::conversation::MessageId;
use sotto_proto::{DecodeError, LinkError};
use thiserror::Error;

use crate::store::StoreError;
use crate::ClientError;

#[derive(Debug, Error)]
pub enum ConversationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{context}: {detail}")]
    Mls {
        context: &'static str,
        detail: String,
    },
    #[error(transparent)]
    Network(#[from] ClientError),
    #[error("cannot encode {what}")]
    Encode {
        what: &'static str,
        source: DecodeError,
    },
    #[error(
        "a display name has 1 to {} bytes",
        sotto_proto::conversation::MAX_NAME_LEN
    )]
    BadName,
    #[error("no profile here yet: run `sotto init --name NAME` first")]
    NotInitialized,
    #[error("this home already has a profile ({0}); use another --home for another person")]
    AlreadyInitialized(String),
    #[error("no such message in this conversation (or it was deleted)")]
    UnknownMessage,
    #[error("only its sender can edit or delete a message")]
    NotYourMessage,
    #[error("no contact named '{0}' (see `sotto contacts`)")]
    UnknownContact(String),
    #[error("you are an observer in {0}: you read it, and an owner or admin can let you write")]
    Observer(String),
    #[error("{0} removed this device from your conversation: you can read its history, not write")]
    RemovedFrom(String),
    #[error("the alias '{0}' is taken by another contact; pick another with --alias")]
    AliasTaken(String),
    #[error("invalid link")]
    Link(#[from] LinkError),
    #[error("this link was already used, has expired, or never existed; ask for a new one")]
    LinkUsed,
    #[error("this link is damaged or was tampered with: {0}")]
    LinkDamaged(String),
    #[error("the network file does not fit: {0}")]
    Directory(String),
    #[error(
        "this network needs a voucher for every new mailbox or link, and its issuer gave none \
         ({0}); the daily allowance returns tomorrow"
    )]
    NoVouchers(String),
    #[error(
        "the network file is not signed by enough of its authorities; one made by \
         `sotto localnet`, or by `sotto network assemble` (and `cosign`, as its authorities \
         require), is"
    )]
    UnsignedNetwork,
    #[error(
        "the network file is signed by {found}, but this device belongs to the network of \
         authority {pinned}: it is another network's file, or a forged one. Use the file your \
         network publishes (a new network needs a new home: sotto init --home DIR)"
    )]
    OtherAuthority { pinned: String, found: String },
    #[error(
        "the network file is issue {serial}, older than issue {seen} this device took already: \
         use the network's current file (an old one, though signed, may list relays the \
         network dropped)"
    )]
    OlderNetwork { serial: u64, seen: u64 },
    #[error(transparent)]
    File(Box<crate::files::FileError>),
    #[error("no group named '{0}' (see `sotto groups`)")]
    UnknownGroup(String),
    #[error("the name '{0}' is taken by a contact or group; pick another")]
    NameTaken(String),
    #[error("no such member in the group")]
    NoMember,
    #[error("'{0}' names several members of the group")]
    SeveralMembers(String),
    #[error("the group's roster does not allow it: {0}")]
    NotAllowed(String),
    #[error("a commit of this device waits for its host's order; try again")]
    Busy,
    #[error(
        "the group's {what} would be {len} bytes, more than the {max} one message carries: \
         groups are limited to what fits one message until large MLS messages travel in \
         chunks"
    )]
    TooBig {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// A message that did not verify or decode. Nothing it claimed was stored.
    #[error("rejected a message: {0}")]
    Rejected(String),
}

/// Wraps a codec's refusal to encode `what` (too long, say).
pub(crate) fn encoding(what: &'static str) -> impl FnOnce(DecodeError) -> ConversationError {
    move |source| ConversationError::Encode { what, source }
}

impl ConversationError {
    /// The host no longer knows the mailbox or link (it expired, or was deleted).
    pub fn is_gone(&self) -> bool {
        matches!(
            self,
            Self::Network(ClientError::Host(sotto_proto::ErrorCode::Auth))
        )
    }
}

/// Something the user should hear about, besides new messages (which the store keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Someone answered one of this device's links; the conversation is ready.
    Connected { alias: String },
    /// Messages of this device now delivered.
    Delivered { alias: String, count: usize },
    /// A message in a conversation (or an answer to a link) was rejected and skipped.
    Rejected { alias: String, reason: String },
    /// The other side removed this device from the conversation.
    Removed { alias: String },
    /// The other side edited or deleted its message `id`, or reacted to one.
    Changed { alias: String, id: MessageId },
    /// The other side set the conversation's disappearing timer (0: messages stay).
    Timer { alias: String, seconds: u32 },
    /// This device joined the group `alias`.
    JoinedGroup { alias: String },
    /// `member` is in the group `alias` now (added by this device).
    AddedToGroup { alias: String, member: String },
}

#[cfg(test)]
mod tests;
