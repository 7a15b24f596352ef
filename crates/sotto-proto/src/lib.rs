//! Wire types and codecs of sotto: mailbox commands and their answers, the fixed-size frame that
//! carries them, and relay addresses. Nothing here does I/O; every decoder takes bytes and returns
//! a value or a [`DecodeError`] that says what was wrong.

mod address;
pub mod batch;
pub mod conversation;
mod cursor;
mod error;
pub mod file_offer;
mod frame;
pub mod group;
mod id;
mod link;
mod mailbox;
pub mod mls_object;
mod request;
mod response;
pub mod voucher;

pub use address::{AddressError, Fingerprint, RelayAddress};
pub use error::DecodeError;
pub use frame::{open_frame, seal_frame, FrameKind, FRAME_BODY_MAX, FRAME_LEN, FRAME_VERSION};
pub use id::Id;
pub use link::{LinkError, LinkUri, LINK_SCHEME};
pub use mailbox::{ErrorCode, MailboxKind};
pub use request::{
    Command, Request, SignedRequest, MAX_CHUNK_LEN, MAX_MESSAGE_LEN, REPLAY_WINDOW_SECS,
};
pub use response::{Message, Push, Response, ResponseBody, MAX_LINK_DATA_LEN, SHORT_ANSWER_MAX};

/// ALPN protocol id spoken on every QUIC connection to a relay.
pub const ALPN: &[u8] = b"sotto/1";

/// `Debug` for types that hold keys or message text: it shows only the type's name.
#[macro_export]
macro_rules! redacted_debug {
    ($($name:ident),*) => {$(
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    )*};
}
