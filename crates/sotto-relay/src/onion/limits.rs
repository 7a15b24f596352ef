//! What the onion roles let outsiders spend, set in `relay.toml` under `[onion]`. Every limit
//! is far above what an honest person or an honest relay sends, so only a flood meets it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnionLimits {
    /// Packets this relay peels a second, all links together, with bursts of twice that. Each
    /// costs a key agreement and one replay tag, so this bounds the CPU junk can take and the
    /// tags an onion key collects (`rate × (epoch_secs + 1,200 s)`), which is what keeps the
    /// replay filter's memory bounded. Packets over it are dropped before any work (`busy`).
    pub peel_per_second: u32,
}

impl Default for OnionLimits {
    fn default() -> Self {
        Self {
            peel_per_second: 1_000,
        }
    }
}
