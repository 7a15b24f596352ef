//! Faults on the links between relays, for tests that try to break the network: drop,
//! duplicate and delay (hence reorder) the packets a relay forwards. Only in builds with the
//! `faults` feature, and only when `SOTTO_FAULTS` asks, e.g.
//! `SOTTO_FAULTS=drop=0.02,duplicate=0.2,delay_ms=30`. Without the feature it compiles to
//! [`Fate::ONCE`].

use crate::onion::hooks::Fate;

#[cfg(feature = "faults")]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Faults {
    drop: f64,
    duplicate: f64,
    delay_ms: u64,
}

#[cfg(feature = "faults")]
impl Faults {
    pub(crate) fn from_env() -> Self {
        let mut faults = Self::default();
        let spec = std::env::var("SOTTO_FAULTS").unwrap_or_default();
        for (key, value) in spec.split(',').filter_map(|pair| pair.split_once('=')) {
            match (key.trim(), value.trim()) {
                ("drop", v) => faults.drop = v.parse().unwrap_or(0.0),
                ("duplicate", v) => faults.duplicate = v.parse().unwrap_or(0.0),
                ("delay_ms", v) => faults.delay_ms = v.parse().unwrap_or(0),
                (other, _) => tracing::warn!(fault = other, "unknown fault in SOTTO_FAULTS"),
            }
        }
        faults
    }

    pub(crate) fn fate(&self) -> Fate {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let copies = if rng.gen_bool(self.drop.clamp(0.0, 1.0)) {
            0
        } else if rng.gen_bool(self.duplicate.clamp(0.0, 1.0)) {
            2
        } else {
            1
        };
        let delay = std::time::Duration::from_millis(rng.gen_range(0..=self.delay_ms));
        Fate { copies, delay }
    }
}

#[cfg(not(feature = "faults"))]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Faults;

#[cfg(not(feature = "faults"))]
impl Faults {
    pub(crate) fn from_env() -> Self {
        Self
    }

    pub(crate) fn fate(&self) -> Fate {
        Fate::ONCE
    }
}
