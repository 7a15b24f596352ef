//! The sotto relay node. In this version it plays one role, the mailbox host: the sans-IO
//! state machine in [`host`] over a [`store::Store`], served over QUIC by [`service`].

mod actor;
pub mod config;
pub mod host;
pub mod identity;
pub mod metrics;
pub mod service;
pub mod store;
