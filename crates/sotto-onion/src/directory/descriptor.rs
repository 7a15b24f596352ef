//! What a relay says of itself: where it listens, with the fingerprint that authenticates it,
//! and its onion keys for this epoch and the next. A relay publishes these in its descriptor
//! file, signed with its identity key; the network's authority joins the descriptors of staked
//! relays into the network file.
//!
//! # The descriptor file (`descriptor.toml`)
//!
//! ```toml
//! # sotto relay descriptor: where the relay listens and its onion keys, signed by the relay.
//! epoch_secs = 3600
//!
//! [[relay]]
//! address = "sotto-relay://9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a@127.0.0.1:4433"
//! identity = "<64 hex: the relay's Ed25519 identity key, whose SHA-256 is the fingerprint>"
//! signature = "<128 hex: its signature over the descriptor; see the seal module>"
//! onion_key = { epoch = 481000, valid_from = 1731600000, public_key = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" }
//! next_onion_key = { epoch = 481001, valid_from = 1731603600, public_key = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f" }
//! ```
//!
//! The signature is the relay's own: a descriptor changed on its way to the authority (say,
//! onion keys the relay does not hold, which would make every path through it fail) is refused.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Deserialize;
use sotto_proto::{AddressError, Fingerprint, RelayAddress};

use super::error::{DirectoryError, RelayRef};
use super::{seal, TOML_MAX};

pub(super) const DESCRIPTOR_HEADER: &str = "\
# sotto relay descriptor: where the relay listens and its onion keys, signed by the relay.
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

    /// The descriptor file of this relay alone, signed with its identity `key`, which must be
    /// the key the address's fingerprint names.
    pub fn to_signed_toml(
        &self,
        epoch_secs: u64,
        key: &SigningKey,
    ) -> Result<String, DirectoryError> {
        Descriptors::new(epoch_secs, vec![self.clone()])?;
        let identity = key.verifying_key();
        if Fingerprint::of_key(identity.as_bytes()) != *self.fingerprint() {
            return Err(DirectoryError::IdentityMismatch {
                relay: RelayRef {
                    number: 1,
                    fingerprint: *self.fingerprint(),
                },
            });
        }
        let signature = key.sign(&seal::descriptor_bytes(self, epoch_secs));
        let seal = format!(
            "identity = \"{}\"\nsignature = \"{}\"\n",
            hex::encode(identity.as_bytes()),
            hex::encode(signature.to_bytes())
        );
        Ok(format!(
            "{DESCRIPTOR_HEADER}epoch_secs = {epoch_secs}\n\n[[relay]]\n{}",
            self.toml_lines(&seal)
        ))
    }

    /// The descriptor's lines in a `[[relay]]` table, with `after_address` (the network file's
    /// operator and stake, a descriptor file's identity and signature) after the address.
    pub(super) fn toml_lines(&self, after_address: &str) -> String {
        format!(
            "address = {}\n{after_address}onion_key = {}\nnext_onion_key = {}\n",
            toml::Value::String(self.address.to_string()),
            key_toml(&self.onion_key),
            key_toml(&self.next_onion_key),
        )
    }
}

/// Checked relay descriptors: one or more relays' self-descriptions with one epoch length,
/// fingerprints distinct, each signed by its relay when read from a file.
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

    /// Reads a descriptor file and checks it whole, each relay's signature last.
    pub fn parse(text: &str) -> Result<Self, DirectoryError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            epoch_secs: u64,
            /// Defaults to empty so that a file without relays gets
            /// [`DirectoryError::NoRelays`], which says what to add.
            #[serde(default)]
            relay: Vec<SignedEntry>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct SignedEntry {
            address: String,
            identity: String,
            signature: String,
            onion_key: KeyEntry,
            next_onion_key: KeyEntry,
        }
        let file: File = from_toml(text)?;
        let mut seals = Vec::with_capacity(file.relay.len());
        let mut relays = Vec::with_capacity(file.relay.len());
        for (index, entry) in file.relay.into_iter().enumerate() {
            seals.push((entry.identity, entry.signature));
            relays.push(
                DescriptorEntry {
                    address: entry.address,
                    onion_key: entry.onion_key,
                    next_onion_key: entry.next_onion_key,
                }
                .decode(index + 1)?,
            );
        }
        let descriptors = Self::new(file.epoch_secs, relays)?;
        for (index, (relay, (identity, signature))) in
            descriptors.relays.iter().zip(&seals).enumerate()
        {
            check_seal(
                index + 1,
                relay,
                descriptors.epoch_secs,
                identity,
                signature,
            )?;
        }
        Ok(descriptors)
    }
}

/// Whether `identity` is the relay's key (its SHA-256 is the fingerprint) and signed it.
fn check_seal(
    number: usize,
    relay: &Descriptor,
    epoch_secs: u64,
    identity: &str,
    signature: &str,
) -> Result<(), DirectoryError> {
    let name = RelayRef {
        number,
        fingerprint: *relay.fingerprint(),
    };
    let mut key = [0u8; 32];
    hex::decode_to_slice(identity, &mut key)
        .map_err(|_| DirectoryError::IdentityHex { relay: name })?;
    if Fingerprint::of_key(&key) != *relay.fingerprint() {
        return Err(DirectoryError::IdentityMismatch { relay: name });
    }
    let key =
        VerifyingKey::from_bytes(&key).map_err(|_| DirectoryError::IdentityHex { relay: name })?;
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(signature, &mut bytes)
        .map_err(|_| DirectoryError::DescriptorSignature { relay: name })?;
    key.verify_strict(
        &seal::descriptor_bytes(relay, epoch_secs),
        &Signature::from_bytes(&bytes),
    )
    .map_err(|_| DirectoryError::DescriptorSignature { relay: name })
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
