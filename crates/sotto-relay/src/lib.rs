//! The sotto relay node: the mailbox host (the sans-IO state machine in [`host`] over a
//! [`store::Store`]), and in a network the gateway, mix and onion-host roles ([`onion`]), all
//! served over QUIC by [`service`].

mod actor;
pub mod admission;
pub mod config;
pub mod harness;
pub mod host;
pub mod identity;
pub mod issuer_file;
pub mod metrics;
pub mod onion;
pub mod onion_keys;
pub mod replay_store;
pub mod service;
pub mod store;
mod subscriptions;
#[cfg(test)]
mod temp_dir;
