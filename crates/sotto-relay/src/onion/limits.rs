//! What the onion roles let outsiders spend, set in `relay.toml` under `[onion]`. Every limit
//! is far above what an honest person or an honest relay sends, so only a flood meets it;
//! what meets one is dropped before any work and counted (`sotto_onion_drops_total`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnionLimits {
    /// Packets this relay peels a second, all links together, with bursts of twice that. Each
    /// costs a key agreement and one replay tag, so this bounds the CPU junk can take and the
    /// tags an onion key collects (`rate × (epoch_secs + 1,200 s)`), which is what keeps the
    /// replay filter's memory bounded.
    pub peel_per_second: u32,
    /// Of those, what one connection (a link from another relay) may have peeled a second,
    /// bursts of twice that; a packet that does not open costs four.
    pub link_peel_per_second: u32,
    /// Packets one client connection may inject a second at its gateway, and in a burst.
    pub client_packets_per_second: u32,
    pub client_packets_burst: u32,
    /// Bytes one client connection may send a second (every stream, whatever its length), and
    /// in a burst.
    pub client_bytes_per_second: u32,
    pub client_bytes_burst: u32,
    /// Addresses one client connection may register for deliveries (a device uses one).
    pub addresses_per_connection: usize,
}

impl Default for OnionLimits {
    fn default() -> Self {
        Self {
            peel_per_second: 2_000,
            link_peel_per_second: 1_000,
            client_packets_per_second: 100,
            client_packets_burst: 1_000,
            client_bytes_per_second: 2_000_000,
            client_bytes_burst: 20_000_000,
            addresses_per_connection: 4,
        }
    }
}
