//! Which connections a relay takes, and what each may hold: `[connections]` in `relay.toml`.
//!
//! # Why
//!
//! Every connection costs memory (its receive window, its streams, per-connection state), so
//! their number is bounded in all and per source. A source is an IPv4 address or an IPv6 /64
//! (one subscriber's prefix: counting single IPv6 addresses would bound nothing). Sources are
//! counted only once QUIC Retry proved the client receives at its address, so a flood of
//! forged source addresses cannot take another's share. Loopback is not counted per source:
//! only this machine speaks from it, and local networks (tests, `sotto localnet`, benchmarks)
//! run every relay and client there.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionLimits {
    /// Connections held at once, all sources together.
    pub max_connections: usize,
    /// Connections held at once from one IPv4 address or IPv6 /64 (loopback not counted).
    pub max_connections_per_source: usize,
    /// Unidirectional streams a connection may have open at once (one per onion packet).
    pub streams_per_connection: u32,
    /// Bytes a connection may have in flight to this relay, all its streams together.
    pub receive_window: u32,
    /// How long one stream may take to arrive whole once opened.
    pub stream_timeout_secs: u64,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_source: 32,
            streams_per_connection: 128,
            receive_window: 4 * 1024 * 1024,
            stream_timeout_secs: 30,
        }
    }
}

impl ConnectionLimits {
    pub fn stream_timeout(&self) -> Duration {
        Duration::from_secs(self.stream_timeout_secs)
    }
}

/// Why a connection was refused (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `max_connections` reached.
    RelayFull,
    /// `max_connections_per_source` reached for its source.
    SourceFull,
}

impl Refused {
    pub const ALL: [Refused; 2] = [Self::RelayFull, Self::SourceFull];

    pub fn name(self) -> &'static str {
        match self {
            Self::RelayFull => "relay_full",
            Self::SourceFull => "source_full",
        }
    }
}

/// Where a connection comes from, as far as limits go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    V4(u32),
    /// The /64.
    V6(u64),
    Loopback,
}

impl Source {
    fn of(ip: IpAddr) -> Self {
        let ip = ip.to_canonical();
        if ip.is_loopback() {
            return Self::Loopback;
        }
        match ip {
            IpAddr::V4(v4) => Self::V4(u32::from(v4)),
            IpAddr::V6(v6) => Self::V6(u64::try_from(u128::from(v6) >> 64).unwrap_or(0)),
        }
    }
}

#[derive(Default)]
struct Held {
    total: usize,
    per_source: HashMap<Source, usize>,
}

pub struct Admission {
    limits: ConnectionLimits,
    held: Mutex<Held>,
}

/// A connection's place; given back when dropped.
pub struct Admitted {
    admission: Arc<Admission>,
    source: Source,
}

impl Admission {
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            held: Mutex::new(Held::default()),
        })
    }

    /// A place for a connection from `ip`, or why there is none.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refused> {
        let source = Source::of(ip);
        let mut held = self.held.lock().map_err(|_| Refused::RelayFull)?;
        if held.total >= self.limits.max_connections {
            return Err(Refused::RelayFull);
        }
        let from_source = held.per_source.entry(source).or_default();
        if source != Source::Loopback && *from_source >= self.limits.max_connections_per_source {
            return Err(Refused::SourceFull);
        }
        *from_source += 1;
        held.total += 1;
        Ok(Admitted {
            admission: self.clone(),
            source,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Ok(mut held) = self.admission.held.lock() {
            held.total = held.total.saturating_sub(1);
            if let Some(count) = held.per_source.get_mut(&self.source) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    held.per_source.remove(&self.source);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(total: usize, per_source: usize) -> Arc<Admission> {
        Admission::new(ConnectionLimits {
            max_connections: total,
            max_connections_per_source: per_source,
            ..ConnectionLimits::default()
        })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_source_gets_its_share_and_others_still_get_in() {
        let admission = admission(10, 2);
        let first = admission.admit(ip("192.0.2.1")).unwrap();
        let _second = admission.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(
            admission.admit(ip("192.0.2.1")).err(),
            Some(Refused::SourceFull)
        );
        // One /64 is one source; an IPv4-mapped address is its IPv4 address.
        let _v6 = admission.admit(ip("2001:db8::1")).unwrap();
        let _v6b = admission.admit(ip("2001:db8::2")).unwrap();
        assert_eq!(
            admission.admit(ip("2001:db8::3")).err(),
            Some(Refused::SourceFull)
        );
        assert_eq!(
            admission.admit(ip("::ffff:192.0.2.1")).err(),
            Some(Refused::SourceFull)
        );
        assert!(admission.admit(ip("198.51.100.7")).is_ok());
        drop(first);
        assert!(admission.admit(ip("192.0.2.1")).is_ok());
    }

    #[test]
    fn the_total_holds_for_every_source_and_places_come_back() {
        let admission = admission(3, 2);
        let held: Vec<_> = ["192.0.2.1", "192.0.2.2", "127.0.0.1"]
            .iter()
            .map(|a| admission.admit(ip(a)).unwrap())
            .collect();
        assert_eq!(
            admission.admit(ip("127.0.0.1")).err(),
            Some(Refused::RelayFull)
        );
        drop(held);
        let loopback: Vec<_> = (0..3)
            .map(|_| admission.admit(ip("127.0.0.1")).unwrap())
            .collect();
        assert_eq!(
            loopback.len(),
            3,
            "loopback is not held to the per-source share"
        );
        assert!(admission.held.lock().unwrap().per_source.len() == 1);
    }
}
