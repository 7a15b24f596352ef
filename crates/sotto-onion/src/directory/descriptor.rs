//! What a relay says of itself: where it listens, with the fingerprint that authenticates it,
//! and its onion keys for this epoch and the next. A relay publishes these in its descriptor
//! file; the network's authority joins the descriptors of staked relays into the network file.
//!
//! # The descriptor file (`descriptor.toml`)
//!
//! ```toml
//! # sotto relay descriptor: where the relay listens and its onion keys.
//! epoch_secs = 3600
//!
//! [[relay]]
//! address = "sotto-relay://9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a@127.0.0.1:4433"
//! onion_key = { epoch = 481000, valid_from = 1731600000, public_key = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" }
//! next_onion_key = { epoch = 481001, valid_from = 1731603600, public_key = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f" }
//! ```
//!
//! Unsigned: what it claims about the relay is checked where it matters. The address carries
//! the fingerprint every connection pins, and onion keys that are not the relay's only make
//! packets it cannot peel.

use serde::Deserialize;
use sotto_proto::{AddressError, Fingerprint, RelayAddress};

use super::error::{DirectoryError, RelayRef};
use super::TOML_MAX;

const DESCRIPTOR_HEADER: &str = "\
# sotto relay descriptor: where the relay listens and its onion keys.
# Epoch e runs from e * epoch_secs to (e + 1) * epoch_secs, unix seconds.
";

/// One X25519 onion public key of a relay and the epoch it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnionKey {
    pub epoch: u64,
    /// Unix seconds at which `epoch` begins: always `epoch * epoch_secs`.
    pub valid_from: u64,
    pub public_key: [u8; 32],
}

impl OnionKey {
    /// The key serving `epoch` with its `valid_from` filled in, for whoever writes a directory;
    /// `None` if the epoch begins later than a network file can hold.
    pub fn for_epoch(epoch: u64, epoch_secs: u64, public_key: [u8; 32]) -> Option<Self> {
        Some(Self {
            epoch,
            valid_from: epoch_start(epoch, epoch_secs)?,
            public_key,
        })
    }
}

/// When `epoch` begins, in unix seconds; `None` if later than a network file can hold.
pub fn epoch_start(epoch: u64, epoch_secs: u64) -> Option<u64> {
    epoch
        .checked_mul(epoch_secs)
        .filter(|start| *start <= TOML_MAX)
}

/// A relay as it describes itself. Carrying the next key lets clients build packets across a
/// rotation without fetching a new directory first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub address: RelayAddress,
    pub onion_key: OnionKey,
    pub next_onion_key: OnionKey,
}

impl Descriptor {
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.address.fingerprint
    }

    /// The key that serves `epoch`, if this relay has published it.
    pub fn key_for(&self, epoch: u64) -> Option<&OnionKey> {
        [&self.onion_key, &self.next_onion_key]
            .into_iter()
            .find(|key| key.epoch == epoch)
    }

    /// Everything a directory requires of one relay's self-description (the relay being number
    /// `number` in its file).
    pub(super) fn check(&self, number: usize, epoch_secs: u64) -> Result<(), DirectoryError> {
        check_address(number, &self.address)?;
        let name = RelayRef {
            number,
            fingerprint: *self.fingerprint(),
        };
        let (current, next) = (&self.onion_key, &self.next_onion_key);
        check_key_bytes(name, "onion_key", current)?;
        check_key_bytes(name, "next_onion_key", next)?;
        if current.epoch.checked_add(1) != Some(next.epoch) {
            return Err(DirectoryError::NextEpoch {
                relay: name,
                current: current.epoch,
                next: next.epoch,
            });
        }
        check_valid_from(name, "onion_key", current, epoch_secs)?;
        check_valid_from(name, "next_onion_key", next, epoch_secs)?;
        if current.public_key == next.public_key {
            return Err(DirectoryError::KeyNotRotated { relay: name });
        }
        Ok(())
    }

    /// The descriptor's lines in a `[[relay]]` table, with `admission` (the network file's
    /// operator and stake lines) after the address.
    pub(super) fn toml_lines(&self, admission: &str) -> String {
        format!(
            "address = {}\n{admission}onion_key = {}\nnext_onion_key = {}\n",
            toml::Value::String(self.address.to_string()),
            key_toml(&self.onion_key),
            key_toml(&self.next_onion_key),
        )
    }
}

/// A checked descriptor file: one or more relays' self-descriptions with one epoch length,
/// fingerprints distinct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptors {
    pub epoch_secs: u64,
    pub relays: Vec<Descriptor>,
}

impl Descriptors {
    /// Checks `relays` as [`Descriptors::parse`] checks a file.
    pub fn new(epoch_secs: u64, relays: Vec<Descriptor>) -> Result<Self, DirectoryError> {
        check_epoch_secs(epoch_secs)?;
        check_all(relays.iter(), epoch_secs)?;
        Ok(Self { epoch_secs, relays })
    }

    /// Reads a descriptor file and checks it whole.
    pub fn parse(text: &str) -> Result<Self, DirectoryError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            epoch_secs: u64,
            /// Defaults to empty so that a file without relays gets
            /// [`DirectoryError::NoRelays`], which says what to add.
            #[serde(default)]
            relay: Vec<DescriptorEntry>,
        }
        let file: File = from_toml(text)?;
        let relays = file
            .relay
            .into_iter()
            .enumerate()
            .map(|(index, entry)| entry.decode(index + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(file.epoch_secs, relays)
    }

    /// The descriptor file; [`Descriptors::parse`] reads it back equal.
    pub fn to_toml(&self) -> String {
        let mut text = format!("{DESCRIPTOR_HEADER}epoch_secs = {}\n", self.epoch_secs);
        for relay in &self.relays {
            text.push_str("\n[[relay]]\n");
            text.push_str(&relay.toml_lines(""));
        }
        text
    }
}

pub(super) fn from_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, DirectoryError> {
    toml::from_str(text).map_err(|error| DirectoryError::Toml(error.to_string()))
}

pub(super) fn check_epoch_secs(epoch_secs: u64) -> Result<(), DirectoryError> {
    if epoch_secs == 0 || epoch_secs > TOML_MAX {
        return Err(DirectoryError::EpochSecs(epoch_secs));
    }
    Ok(())
}

/// Checks each descriptor and that no fingerprint comes twice; relays are numbered from 1 in
/// the order given.
pub(super) fn check_all<'a>(
    relays: impl ExactSizeIterator<Item = &'a Descriptor>,
    epoch_secs: u64,
) -> Result<(), DirectoryError> {
    if relays.len() == 0 {
        return Err(DirectoryError::NoRelays);
    }
    let mut seen = std::collections::HashMap::with_capacity(relays.len());
    for (index, relay) in relays.enumerate() {
        relay.check(index + 1, epoch_secs)?;
        let fingerprint = *relay.fingerprint();
        if let Some(first) = seen.insert(fingerprint, index) {
            return Err(DirectoryError::DuplicateRelay {
                fingerprint,
                first: first + 1,
                again: index + 1,
            });
        }
    }
    Ok(())
}

/// A `[[relay]]` table of a descriptor file, unchecked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DescriptorEntry {
    pub(super) address: String,
    pub(super) onion_key: KeyEntry,
    pub(super) next_onion_key: KeyEntry,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyEntry {
    epoch: u64,
    valid_from: u64,
    public_key: String,
}

impl DescriptorEntry {
    pub(super) fn decode(self, number: usize) -> Result<Descriptor, DirectoryError> {
        let address: RelayAddress =
            self.address
                .parse()
                .map_err(|source| DirectoryError::Address {
                    relay: number,
                    source,
                })?;
        let relay = RelayRef {
            number,
            fingerprint: address.fingerprint,
        };
        Ok(Descriptor {
            onion_key: self.onion_key.decode(relay, "onion_key")?,
            next_onion_key: self.next_onion_key.decode(relay, "next_onion_key")?,
            address,
        })
    }
}

impl KeyEntry {
    fn decode(self, relay: RelayRef, key: &'static str) -> Result<OnionKey, DirectoryError> {
        let mut public_key = [0u8; 32];
        hex::decode_to_slice(&self.public_key, &mut public_key)
            .map_err(|_| DirectoryError::KeyHex { relay, key })?;
        Ok(OnionKey {
            epoch: self.epoch,
            valid_from: self.valid_from,
            public_key,
        })
    }
}

/// An address must read back from the text it is written as, or the file we write would not
/// parse (`RelayAddress` fields are public, so code can build one that does not).
fn check_address(number: usize, address: &RelayAddress) -> Result<(), DirectoryError> {
    match address.to_string().parse::<RelayAddress>() {
        Ok(read_back) if read_back == *address => Ok(()),
        Ok(_) => Err(DirectoryError::Address {
            relay: number,
            source: AddressError::HostPort(address.host.clone()),
        }),
        Err(source) => Err(DirectoryError::Address {
            relay: number,
            source,
        }),
    }
}

fn check_key_bytes(
    relay: RelayRef,
    key: &'static str,
    onion_key: &OnionKey,
) -> Result<(), DirectoryError> {
    if onion_key.public_key == [0; 32] {
        return Err(DirectoryError::ZeroKey { relay, key });
    }
    Ok(())
}

fn check_valid_from(
    relay: RelayRef,
    key: &'static str,
    onion_key: &OnionKey,
    epoch_secs: u64,
) -> Result<(), DirectoryError> {
    let epoch = onion_key.epoch;
    let expected =
        epoch_start(epoch, epoch_secs).ok_or(DirectoryError::EpochRange { relay, key, epoch })?;
    if onion_key.valid_from != expected {
        return Err(DirectoryError::ValidFrom {
            relay,
            key,
            epoch,
            found: onion_key.valid_from,
            expected,
        });
    }
    Ok(())
}

fn key_toml(key: &OnionKey) -> String {
    format!(
        "{{ epoch = {}, valid_from = {}, public_key = \"{}\" }}",
        key.epoch,
        key.valid_from,
        hex::encode(key.public_key)
    )
}
