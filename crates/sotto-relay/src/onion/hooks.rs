//! What a test harness may attach to the onion driver: watch what each stream was taken for
//! and what leaves, and decide the fate of each forwarded packet. A serving relay has
//! [`NoHooks`]; the recording and fault-injecting harness is `crate::harness`, built only
//! with the test-only features.

use std::net::SocketAddr;
use std::time::Duration;

use sotto_onion::packet::NodeId;

use super::core::Action;

/// What to do with one forwarded packet: how many copies to send (0 drops it), after how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fate {
    pub copies: usize,
    pub delay: Duration,
}

impl Fate {
    /// One copy, at once: what a relay without hooks does.
    pub const ONCE: Fate = Fate {
        copies: 1,
        delay: Duration::ZERO,
    };
}

/// Hooks around the onion driver; every method's default does nothing.
pub trait Hooks: Send + Sync {
    /// A stream of `bytes` came from `remote`, and the core decided `action`.
    fn handled(&self, _remote: SocketAddr, _bytes: &[u8], _action: &Action<quinn::Connection>) {}

    /// A packet is about to leave for relay `next`.
    fn forwarding(&self, _next: &NodeId) -> Fate {
        Fate::ONCE
    }

    /// A stream is about to leave for a relay or a client.
    fn sent(&self, _bytes: &[u8]) {}
}

/// A serving relay's hooks: none.
pub struct NoHooks;

impl Hooks for NoHooks {}
