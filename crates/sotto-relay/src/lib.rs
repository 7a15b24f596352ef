//! The sotto relay node. This roles: the mailbox host ([`host`], sans-IO, over a
//! [`store::Store`]) served over QUIC ([`service`]).

pub mod host;
pub mod store;
