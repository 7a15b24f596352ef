//! Sphinx packets a client's gateway link carried, counted where they are sent and received,
//! so a benchmark can say what one message costs on the wire without a packet capture.

use std::ops::Add;
use std::sync::atomic::{AtomicU64, Ordering};

/// Packets sent into the network and received from it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PacketCount {
    pub sent: u64,
    pub received: u64,
}

impl PacketCount {
    pub fn total(&self) -> u64 {
        self.sent + self.received
    }

    /// What was counted since `earlier`.
    pub fn since(&self, earlier: PacketCount) -> PacketCount {
        PacketCount {
            sent: self.sent.saturating_sub(earlier.sent),
            received: self.received.saturating_sub(earlier.received),
        }
    }
}

impl Add for PacketCount {
    type Output = PacketCount;

    fn add(self, other: PacketCount) -> PacketCount {
        PacketCount {
            sent: self.sent + other.sent,
            received: self.received + other.received,
        }
    }
}

#[derive(Default)]
pub(super) struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
}

impl Counters {
    pub(super) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn read(&self) -> PacketCount {
        PacketCount {
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
        }
    }
}
