//! The network directory: which relays exist, where they listen, which onion keys they hold,
//! and the choice of paths through them.
//!
//! Without I/O, like the rest of the crate: the network file comes in as text and goes out as
//! text, time comes in as unix seconds, randomness as an `Rng`.
//!
//! # The network file (`network.toml`)
//!
//! ```toml
//! # sotto network file: the relays, where they listen, and their onion keys.
//! # Epoch e runs from e * epoch_secs to (e + 1) * epoch_secs, unix seconds.
//! epoch_secs = 3600
//!
//! [[relay]]
//! address = "sotto-relay://9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a@127.0.0.1:4433"
//! onion_key = { epoch = 481000, valid_from = 1731600000, public_key = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" }
//! next_onion_key = { epoch = 481001, valid_from = 1731603600, public_key = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f" }
//! ```
//!
//! One `[[relay]]` per relay, at least one. Unknown fields are refused rather than ignored, so
//! a misspelt field cannot leave a relay without what the writer meant it to have.
//!
//! Epochs are aligned to unix time and shared by all relays: epoch `e` begins at
//! `e * epoch_secs`. Anyone with a clock and `epoch_secs` therefore knows which onion key is in
//! use without asking anyone, a relay knows when to rotate without coordinating, and each
//! relay's replay cache only has to cover one key's lifetime. `valid_from` is redundant with
//! that rule on purpose: it puts the dates in the file for people reading it, and a file
//! written with a different `epoch_secs` is refused instead of silently pairing keys with the
//! wrong epochs.
//!
//! # Paths
//!
//! A request travels `client -> gateway -> mix -> mix -> host`. The gateway only injects the
//! packet, so the client builds the Sphinx packet for the hops `[mix, mix, host]` and hands it
//! to its gateway: that is a [`Path`] with the gateway as its entry. A reply or push travels
//! `host -> mix -> mix -> gateway -> client`: a [`Path`] with the host as entry and the
//! client's gateway as destination, hops `[mix, mix, gateway]`. Both come from
//! [`Directory::choose_path`].

use std::collections::HashMap;
use std::fmt;

use rand::seq::SliceRandom;
use rand::Rng;
use serde::Deserialize;
use sotto_proto::{AddressError, Fingerprint, RelayAddress};
use sphinx_packet::constants::MAX_PATH_LENGTH;
use sphinx_packet::route::NodeAddressBytes;
use thiserror::Error;

/// Mixes on a path unless the caller has a reason to choose otherwise: the design's
/// `gateway -> mix -> mix -> host`. Two, so that no single mix sees both ends.
pub const DEFAULT_MIXES: usize = 2;

/// The most mixes a path can have: the mixes and the destination are the Sphinx hops, and a
/// Sphinx header has room for `MAX_PATH_LENGTH` of them.
pub const MAX_MIXES: usize = MAX_PATH_LENGTH - 1;

/// The largest integer TOML can hold. Every number in a [`Directory`] stays at or below it, so
/// whatever [`Directory::to_toml`] writes reads back.
const TOML_MAX: u64 = i64::MAX as u64;

/// The first lines of every network file written, for whoever opens it.
const FILE_HEADER: &str = "\
# sotto network file: the relays, where they listen, and their onion keys.
# Epoch e runs from e * epoch_secs to (e + 1) * epoch_secs, unix seconds.
";

/// Why a network file was refused or a path could not be chosen. Errors about one relay say
/// which (its number in the file, counting `[[relay]]` tables from 1, and its fingerprint) and
/// which field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DirectoryError {
    /// Not TOML, or not this format: a missing, unknown or mistyped field. The text is the TOML
    /// parser's, which shows the line.
    #[error("the network file does not have the expected form: {0}")]
    Toml(String),
    #[error("epoch_secs is {0}; it must be at least 1 and at most {max}", max = TOML_MAX)]
    EpochSecs(u64),
    #[error("the network file lists no relay; it needs at least one [[relay]]")]
    NoRelays,
    #[error("relay {relay}: address: {source}")]
    Address { relay: usize, source: AddressError },
    #[error("relays {first} and {again} have the same fingerprint {fingerprint}")]
    DuplicateRelay {
        fingerprint: Fingerprint,
        first: usize,
        again: usize,
    },
    #[error("{relay}: {key}.public_key is not 64 hex digits (a 32-byte X25519 key)")]
    KeyHex { relay: RelayRef, key: &'static str },
    #[error("{relay}: {key}.public_key is all zeros, which is no usable X25519 key")]
    ZeroKey { relay: RelayRef, key: &'static str },
    #[error(
        "{relay}: next_onion_key.epoch must be onion_key.epoch + 1 ({current} + 1), found {next}"
    )]
    NextEpoch {
        relay: RelayRef,
        current: u64,
        next: u64,
    },
    #[error(
        "{relay}: {key}.epoch {epoch} begins later than the largest time a network file can hold"
    )]
    EpochRange {
        relay: RelayRef,
        key: &'static str,
        epoch: u64,
    },
    #[error(
        "{relay}: {key}.valid_from is {found}, but epoch {epoch} begins at {expected} \
         (epoch * epoch_secs)"
    )]
    ValidFrom {
        relay: RelayRef,
        key: &'static str,
        epoch: u64,
        found: u64,
        expected: u64,
    },
    #[error("{relay}: next_onion_key.public_key repeats onion_key.public_key; rotation needs a fresh key")]
    KeyNotRotated { relay: RelayRef },
    #[error("relay {0} is not in the directory")]
    UnknownRelay(Fingerprint),
    #[error("a path needs at least one mix, or its entry would see its destination")]
    NoMixes,
    #[error("a path has at most {max} mixes (the room in a Sphinx header), not {mixes}", max = MAX_MIXES)]
    TooManyMixes { mixes: usize },
    #[error("relay {0} cannot be both entry and destination: it would see both ends of the path")]
    SameEnds(Fingerprint),
    #[error("relay {relay} has no onion key for epoch {epoch}")]
    NoOnionKey { relay: Fingerprint, epoch: u64 },
    #[error(
        "a path with {mixes} mixes needs {needed} distinct relays, but only {available} are usable"
    )]
    NetworkTooSmall {
        mixes: usize,
        needed: usize,
        available: usize,
    },
}

/// Names a relay in an error: its number in the file (from 1, as a reader counts `[[relay]]`
/// tables) and its fingerprint, so the error can be found both in the file and in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayRef {
    pub number: usize,
    pub fingerprint: Fingerprint,
}

impl fmt::Display for RelayRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "relay {} ({})", self.number, self.fingerprint)
    }
}

/// One X25519 onion public key of a relay and the epoch it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnionKey {
    pub epoch: u64,
    /// Unix seconds at which `epoch` begins: always `epoch * epoch_secs` (see the module docs).
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

/// A relay as the directory knows it: where it listens (and the fingerprint that authenticates
/// it), and the onion keys of the current and the next epoch. Carrying the next key lets
/// clients build packets across a rotation without fetching a new directory first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    pub address: RelayAddress,
    pub onion_key: OnionKey,
    pub next_onion_key: OnionKey,
}

impl Relay {
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.address.fingerprint
    }

    /// The key that serves `epoch`, if this relay has published it.
    pub fn key_for(&self, epoch: u64) -> Option<&OnionKey> {
        [&self.onion_key, &self.next_onion_key]
            .into_iter()
            .find(|key| key.epoch == epoch)
    }
}

/// The network file as written, before any check. [`NetworkFile::parse`] turns it into a
/// [`Directory`]; nothing else sees it unchecked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    epoch_secs: u64,
    /// Defaults to empty so that a file without relays gets [`DirectoryError::NoRelays`],
    /// which says what to add, rather than a generic missing-field message.
    #[serde(default)]
    relay: Vec<RelayEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelayEntry {
    address: String,
    onion_key: KeyEntry,
    next_onion_key: KeyEntry,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    epoch: u64,
    valid_from: u64,
    public_key: String,
}

impl NetworkFile {
    /// Reads a network file and checks it whole: a directory is either entirely valid or
    /// refused, never half-used.
    pub fn parse(text: &str) -> Result<Directory, DirectoryError> {
        let file: NetworkFile =
            toml::from_str(text).map_err(|error| DirectoryError::Toml(error.to_string()))?;
        file.into_directory()
    }

    fn into_directory(self) -> Result<Directory, DirectoryError> {
        let relays = self
            .relay
            .into_iter()
            .enumerate()
            .map(|(index, entry)| entry.decode(index + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Directory::new(self.epoch_secs, relays)
    }
}

impl RelayEntry {
    fn decode(self, number: usize) -> Result<Relay, DirectoryError> {
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
        Ok(Relay {
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

/// A checked set of relays: at least one, fingerprints distinct, keys well-formed and
/// consecutive, every number writable back to TOML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    epoch_secs: u64,
    /// In file order, so that writing the directory out keeps the file's order.
    relays: Vec<Relay>,
    /// Fingerprint bytes to index in `relays`. Keyed by bytes so that the 32-byte node address
    /// in a Sphinx header, which is the fingerprint, finds its relay directly.
    by_fingerprint: HashMap<[u8; 32], usize>,
}

impl Directory {
    /// Checks `relays` as [`NetworkFile::parse`] checks a file (errors number the relays from
    /// 1 in the order given), for whoever assembles a directory in code, such as a localnet.
    pub fn new(epoch_secs: u64, relays: Vec<Relay>) -> Result<Self, DirectoryError> {
        if epoch_secs == 0 || epoch_secs > TOML_MAX {
            return Err(DirectoryError::EpochSecs(epoch_secs));
        }
        if relays.is_empty() {
            return Err(DirectoryError::NoRelays);
        }
        let mut by_fingerprint = HashMap::with_capacity(relays.len());
        for (index, relay) in relays.iter().enumerate() {
            check_relay(index + 1, relay, epoch_secs)?;
            let fingerprint = *relay.fingerprint();
            if let Some(first) = by_fingerprint.insert(*fingerprint.as_bytes(), index) {
                return Err(DirectoryError::DuplicateRelay {
                    fingerprint,
                    first: first + 1,
                    again: index + 1,
                });
            }
        }
        Ok(Self {
            epoch_secs,
            relays,
            by_fingerprint,
        })
    }

    /// Length of an epoch, the onion-key rotation period, in seconds.
    pub fn epoch_secs(&self) -> u64 {
        self.epoch_secs
    }

    /// The relays, in file order.
    pub fn relays(&self) -> &[Relay] {
        &self.relays
    }

    pub fn relay(&self, fingerprint: &Fingerprint) -> Option<&Relay> {
        self.relay_by_bytes(fingerprint.as_bytes())
    }

    /// The relay a Sphinx header names as the next hop, for a mix that must forward to it.
    pub fn relay_at(&self, node: &NodeAddressBytes) -> Option<&Relay> {
        self.relay_by_bytes(node.as_bytes())
    }

    fn relay_by_bytes(&self, bytes: &[u8; 32]) -> Option<&Relay> {
        self.by_fingerprint
            .get(bytes)
            .and_then(|index| self.relays.get(*index))
    }

    /// The onion public key `fingerprint` uses in `epoch`, if the directory has it.
    pub fn onion_key(&self, fingerprint: &Fingerprint, epoch: u64) -> Option<[u8; 32]> {
        self.relay(fingerprint)?
            .key_for(epoch)
            .map(|key| key.public_key)
    }

    /// The epoch in progress at `now_secs` (unix seconds).
    pub fn current_epoch(&self, now_secs: u64) -> u64 {
        // `epoch_secs` is at least 1 in every Directory; `checked_div` keeps this total anyway.
        now_secs.checked_div(self.epoch_secs).unwrap_or(0)
    }

    /// The network file for this directory; [`NetworkFile::parse`] reads it back to an equal
    /// directory. Written by hand rather than through serde so that each relay takes three
    /// readable lines and nothing here can fail.
    pub fn to_toml(&self) -> String {
        let mut text = format!("{FILE_HEADER}epoch_secs = {}\n", self.epoch_secs);
        for relay in &self.relays {
            text.push_str(&relay_toml(relay));
        }
        text
    }

    /// A gateway for a client that has none yet, uniformly at random. A client keeps its
    /// gateway for weeks (a guard), so this is called rarely; fails only on an empty
    /// directory, which no constructor returns.
    pub fn choose_gateway<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<&Relay, DirectoryError> {
        let everyone: Vec<&Relay> = self.relays.iter().collect();
        pick(&everyone, 1, rng)
            .into_iter()
            .next()
            .ok_or(DirectoryError::NoRelays)
    }

    /// A path from `entry` through `mixes` distinct random mixes to `destination`, with each
    /// hop's onion key as the directory lists it now (`onion_key`). For a request, `entry` is
    /// the client's gateway and `destination` the mailbox host; for a reply path, `entry` is
    /// the host and `destination` the client's gateway.
    ///
    /// Every relay on the path is distinct, and a network too small for that is an error, never
    /// a shorter path: a short path would quietly give one relay both ends.
    pub fn choose_path<R: Rng + ?Sized>(
        &self,
        entry: &Fingerprint,
        destination: &Fingerprint,
        mixes: usize,
        rng: &mut R,
    ) -> Result<Path, DirectoryError> {
        self.build_path(KeyChoice::Listed, entry, destination, mixes, rng)
    }

    /// As [`Directory::choose_path`], with the onion keys of `epoch` (normally
    /// `current_epoch(now)`): mixes are drawn only among relays that have a key for it, so a
    /// directory that is one rotation old still gives working paths.
    pub fn choose_path_at<R: Rng + ?Sized>(
        &self,
        epoch: u64,
        entry: &Fingerprint,
        destination: &Fingerprint,
        mixes: usize,
        rng: &mut R,
    ) -> Result<Path, DirectoryError> {
        self.build_path(KeyChoice::Epoch(epoch), entry, destination, mixes, rng)
    }

    fn build_path<R: Rng + ?Sized>(
        &self,
        keys: KeyChoice,
        entry: &Fingerprint,
        destination: &Fingerprint,
        mixes: usize,
        rng: &mut R,
    ) -> Result<Path, DirectoryError> {
        check_mix_count(mixes)?;
        let entry = self.known(entry)?;
        let destination = self.known(destination)?;
        if entry.fingerprint() == destination.fingerprint() {
            return Err(DirectoryError::SameEnds(*entry.fingerprint()));
        }
        let destination_hop = keys.hop(destination)?;
        let candidates = self.mix_candidates(keys, entry, destination);
        if candidates.len() < mixes {
            return Err(DirectoryError::NetworkTooSmall {
                mixes,
                needed: mixes + 2,
                available: candidates.len() + 2,
            });
        }
        let mix_hops = pick(&candidates, mixes, rng)
            .into_iter()
            .map(|relay| keys.hop(relay))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Path {
            entry: entry.address.clone(),
            mixes: mix_hops,
            destination: destination_hop,
        })
    }

    fn known(&self, fingerprint: &Fingerprint) -> Result<&Relay, DirectoryError> {
        self.relay(fingerprint)
            .ok_or(DirectoryError::UnknownRelay(*fingerprint))
    }

    /// Relays that may serve as mixes between `entry` and `destination`: any other relay with
    /// a key for the path's epoch. Stake weighting's diversity rules (one relay per operator
    /// and per /16 on a path) will filter here.
    fn mix_candidates(&self, keys: KeyChoice, entry: &Relay, destination: &Relay) -> Vec<&Relay> {
        self.relays
            .iter()
            .filter(|relay| relay.fingerprint() != entry.fingerprint())
            .filter(|relay| relay.fingerprint() != destination.fingerprint())
            .filter(|relay| keys.key(relay).is_some())
            .collect()
    }
}

/// Picks `count` distinct relays from `candidates`, every choice equally likely, in random
/// order; fewer only if there are fewer candidates, which callers rule out first.
///
/// This is the seam for stake weighting: weighted sampling without replacement
/// (`SliceRandom::choose_multiple_weighted` over each relay's stake) replaces the body, and
/// gateway and mix choice both follow without other changes.
fn pick<'a, R: Rng + ?Sized>(
    candidates: &[&'a Relay],
    count: usize,
    rng: &mut R,
) -> Vec<&'a Relay> {
    candidates.choose_multiple(rng, count).copied().collect()
}

fn check_mix_count(mixes: usize) -> Result<(), DirectoryError> {
    match mixes {
        0 => Err(DirectoryError::NoMixes),
        n if n > MAX_MIXES => Err(DirectoryError::TooManyMixes { mixes }),
        _ => Ok(()),
    }
}

/// Which of a relay's onion keys a path uses.
#[derive(Debug, Clone, Copy)]
enum KeyChoice {
    /// Each relay's `onion_key`, as listed.
    Listed,
    /// The key serving this epoch; relays without one cannot be on the path.
    Epoch(u64),
}

impl KeyChoice {
    fn key(self, relay: &Relay) -> Option<&OnionKey> {
        match self {
            Self::Listed => Some(&relay.onion_key),
            Self::Epoch(epoch) => relay.key_for(epoch),
        }
    }

    fn hop(self, relay: &Relay) -> Result<Hop, DirectoryError> {
        let key = self.key(relay).ok_or(DirectoryError::NoOnionKey {
            relay: *relay.fingerprint(),
            epoch: match self {
                Self::Listed => relay.onion_key.epoch,
                Self::Epoch(epoch) => epoch,
            },
        })?;
        Ok(Hop {
            address: relay.address.clone(),
            onion_key: key.public_key,
            epoch: key.epoch,
        })
    }
}

/// Everything [`Directory::new`] requires of one relay beyond fingerprint uniqueness.
fn check_relay(number: usize, relay: &Relay, epoch_secs: u64) -> Result<(), DirectoryError> {
    check_address(number, &relay.address)?;
    let name = RelayRef {
        number,
        fingerprint: *relay.fingerprint(),
    };
    let (current, next) = (&relay.onion_key, &relay.next_onion_key);
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

fn relay_toml(relay: &Relay) -> String {
    format!(
        "\n[[relay]]\naddress = {}\nonion_key = {}\nnext_onion_key = {}\n",
        toml::Value::String(relay.address.to_string()),
        key_toml(&relay.onion_key),
        key_toml(&relay.next_onion_key),
    )
}

fn key_toml(key: &OnionKey) -> String {
    format!(
        "{{ epoch = {}, valid_from = {}, public_key = \"{}\" }}",
        key.epoch,
        key.valid_from,
        hex::encode(key.public_key)
    )
}

mod path;
#[cfg(test)]
mod tests;

pub use path::{Hop, Path};

#[cfg(test)]
mod properties;
