//! Relay addresses: `sotto-relay://<fingerprint>@<host>:<port>`. The fingerprint is the SHA-256
//! of the relay's Ed25519 identity key, in hex; a client accepts a connection only from the holder
//! of a key with that fingerprint.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use thiserror::Error;

const SCHEME: &str = "sotto-relay://";

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of an Ed25519 public key.
    pub fn of_key(public_key: &[u8; 32]) -> Self {
        Self(Sha256::digest(public_key).into())
    }

    /// A fingerprint as it travels inside onion packets (32 raw bytes).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    #[error("a relay address starts with {SCHEME}")]
    Scheme,
    #[error("the relay address has no '@' between fingerprint and host:port")]
    MissingAt,
    #[error("the fingerprint must be 64 hex digits")]
    Fingerprint,
    #[error("'{0}' is not host:port")]
    HostPort(String),
}

/// Where a relay listens and which key it must prove it holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelayAddress {
    pub fingerprint: Fingerprint,
    /// A host name or IP address, without brackets.
    pub host: String,
    pub port: u16,
}

impl fmt::Display for RelayAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(
                f,
                "{SCHEME}{}@[{}]:{}",
                self.fingerprint, self.host, self.port
            )
        } else {
            write!(
                f,
                "{SCHEME}{}@{}:{}",
                self.fingerprint, self.host, self.port
            )
        }
    }
}

impl FromStr for RelayAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.trim().strip_prefix(SCHEME).ok_or(AddressError::Scheme)?;
        let (fingerprint, host_port) = rest.split_once('@').ok_or(AddressError::MissingAt)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(fingerprint, &mut bytes).map_err(|_| AddressError::Fingerprint)?;
        let bad = || AddressError::HostPort(host_port.to_owned());
        let (host, port) = host_port.rsplit_once(':').ok_or_else(bad)?;
        // Display brackets exactly the hosts that contain ':', so brackets may hold only an IPv6
        // literal and a bare host only name characters; anything else would not read back as
        // the same address (`[[x]]` became `[x]`, then `x`).
        let host = match host.strip_prefix('[') {
            Some(inner) => inner
                .strip_suffix(']')
                .filter(|ip| ip.parse::<Ipv6Addr>().is_ok())
                .ok_or_else(bad)?,
            None if is_host_name(host) => host,
            None => return Err(bad()),
        };
        Ok(Self {
            fingerprint: Fingerprint(bytes),
            host: host.to_owned(),
            port: parse_port(port).ok_or_else(bad)?,
        })
    }
}

/// A DNS name or IPv4 literal: letters, digits, '-', '.', '_' (what a resolver looks up).
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// Plain decimal without sign or leading zero, so each port has one spelling (`u16::from_str`
/// alone takes `+1` and `01`), and never 0, where no relay can listen.
fn parse_port(port: &str) -> Option<u16> {
    if port.starts_with('0') || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_v4_and_v6() {
        for host in ["127.0.0.1", "::1", "relay.example"] {
            let address = RelayAddress {
                fingerprint: Fingerprint::of_key(&[7; 32]),
                host: host.into(),
                port: 4433,
            };
            assert_eq!(
                address.to_string().parse::<RelayAddress>().unwrap(),
                address
            );
        }
    }

    #[test]
    fn rejects_bad_addresses_with_a_reason() {
        let fp = Fingerprint::of_key(&[7; 32]);
        assert_eq!(
            "http://x".parse::<RelayAddress>(),
            Err(AddressError::Scheme)
        );
        assert_eq!(
            "sotto-relay://abc".parse::<RelayAddress>(),
            Err(AddressError::MissingAt)
        );
        assert_eq!(
            "sotto-relay://zz@h:1".parse::<RelayAddress>(),
            Err(AddressError::Fingerprint)
        );
        for bad in ["h", "h:99999", ":1", "::1:5", "[::1:5"] {
            assert!(matches!(
                format!("sotto-relay://{fp}@{bad}").parse::<RelayAddress>(),
                Err(AddressError::HostPort(_))
            ));
        }
    }

    /// Regression: these used to parse, and some (`[[x]]`) printed as a different address.
    #[test]
    fn rejects_hosts_and_ports_that_do_not_read_back() {
        let fp = Fingerprint::of_key(&[7; 32]);
        for bad in [
            "[[x]]:1",
            "[x]:1",
            "[1.2.3.4]:1",
            "[]:1",
            "a b:1",
            "a@b:1",
            "a/b:1",
            "h:+1",
            "h:01",
            "h:0",
            "h:",
            "[::1]]:1",
        ] {
            assert!(
                matches!(
                    format!("sotto-relay://{fp}@{bad}").parse::<RelayAddress>(),
                    Err(AddressError::HostPort(_))
                ),
                "{bad} was accepted"
            );
        }
    }
}
