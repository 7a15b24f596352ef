//! Relay addresses: `sotto-relay://<fingerprint>@<host>:<port>`. The fingerprint is the SHA-256
//! of the relay's Ed25519 identity key, in hex; a client accepts a connection only from the holder
//! of a key with that fingerprint.

use std::fmt;
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
        let host = match host.strip_prefix('[') {
            Some(inner) => inner.strip_suffix(']').ok_or_else(bad)?,
            None if host.contains(':') => return Err(bad()),
            None => host,
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            fingerprint: Fingerprint(bytes),
            host: host.to_owned(),
            port: port.parse().map_err(|_| bad())?,
        })
    }
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
}
