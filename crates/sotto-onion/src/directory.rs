//! The network directory: which relays are admitted, where they listen, which onion keys they
//! hold, the stake they carry, and the choice of gateways, hosts and paths through them.
//!
//! Without I/O, like the rest of the crate: files come in as text and go out as text, time
//! comes in as unix seconds, randomness as an `Rng`.
//!
//! Three files carry it, each in its module: a relay's own [`Descriptors`] (address and onion
//! keys, signed by the relay), the authority's stake [`Ledger`] (who may run relays, with what
//! stake), and the [`NetworkFile`] that clients and relays read: the admitted relays with their
//! stake, signed by the authority. Whether relays still answer is the [`Reachability`] the
//! authority keeps.
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
//! [`Directory::choose_path`]. Gateways, hosts and mixes are all drawn by stake, and a path's
//! mixes are of operators (and subnets) distinct from each other and from its ends (see
//! [`stake`]).

use std::collections::HashMap;

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use rand::Rng;
use sotto_proto::{Fingerprint, RelayAddress};
use sphinx_packet::constants::MAX_PATH_LENGTH;
use sphinx_packet::route::NodeAddressBytes;

mod authorities;
mod descriptor;
mod error;
mod file;
mod issuer;
mod ledger;
mod path;
mod reachability;
mod seal;
pub mod stake;

pub use authorities::{Authorities, MAX_AUTHORITIES};
pub use descriptor::{epoch_start, Descriptor, Descriptors, OnionKey};
pub use error::{DirectoryError, RelayRef};
pub use file::NetworkFile;
pub use issuer::{VoucherIssuer, MAX_ISSUER_KEYS};
pub use ledger::{Admission, Ledger, LedgerError, Operator};
pub use path::{Hop, Path};
pub use reachability::Reachability;
pub use stake::Stake;

/// Mixes on a path unless the caller has a reason to choose otherwise: the design's
/// `gateway -> mix -> mix -> host`. Two, so that no single mix sees both ends.
pub const DEFAULT_MIXES: usize = 2;

/// The most mixes a path can have: the mixes and the destination are the Sphinx hops, and a
/// Sphinx header has room for `MAX_PATH_LENGTH` of them.
pub const MAX_MIXES: usize = MAX_PATH_LENGTH - 1;

/// The largest integer TOML can hold. Every number in a [`Directory`] stays at or below it, so
/// whatever [`Directory::to_toml`] writes reads back.
const TOML_MAX: u64 = i64::MAX as u64;

/// How many times a path's mixes are drawn before the network is called too small: a draw
/// takes mixes one at a time, and an early one can rule out (by operator or subnet) what a
/// later one needed although another order would have fitted.
const PATH_DRAWS: usize = 8;

/// An admitted relay: its self-description and its stake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    pub descriptor: Descriptor,
    pub stake: Stake,
}

impl Relay {
    pub fn fingerprint(&self) -> &Fingerprint {
        self.descriptor.fingerprint()
    }

    pub fn address(&self) -> &RelayAddress {
        &self.descriptor.address
    }

    /// The key that serves `epoch`, if this relay has published it.
    pub fn key_for(&self, epoch: u64) -> Option<&OnionKey> {
        self.descriptor.key_for(epoch)
    }
}

/// A checked set of admitted relays: at least one, fingerprints distinct, keys well-formed and
/// consecutive, operators named, every stake at least 1, every number writable back to TOML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    epoch_secs: u64,
    /// In file order, so that writing the directory out keeps the file's order.
    relays: Vec<Relay>,
    /// Fingerprint bytes to index in `relays`. Keyed by bytes so that the 32-byte node address
    /// in a Sphinx header, which is the fingerprint, finds its relay directly.
    by_fingerprint: HashMap<[u8; 32], usize>,
    /// Operators, subnets and stakes as drawing needs them, and whether a path's relays must
    /// also come from distinct subnets (local networks, whose relays share one address, turn
    /// that off).
    choice: stake::Choice,
    /// Who may sign it, and how many must: part of the signed content.
    authorities: Option<Authorities>,
    /// Which issue of the network file this is (signed): a client takes no file with a
    /// smaller serial than one it took, so an old file, signed as it is, cannot be replayed
    /// to it. 0 for a file that has none.
    serial: u64,
    /// The signatures it carries, each checked, in the order of `authorities`.
    signatures: Vec<(VerifyingKey, Signature)>,
    /// Set when the network requires vouchers: part of the signed content.
    issuer: Option<VoucherIssuer>,
}

impl Directory {
    /// Checks `relays` as [`NetworkFile::parse`] checks a file (errors number the relays from
    /// 1 in the order given), for whoever assembles a directory in code. Paths keep to distinct
    /// subnets.
    pub fn new(epoch_secs: u64, relays: Vec<Relay>) -> Result<Self, DirectoryError> {
        Self::with_subnet_rule(epoch_secs, true, relays)
    }

    /// As [`Directory::new`], saying whether paths keep to distinct subnets: a network whose
    /// relays share addresses, such as a localnet on 127.0.0.1, needs `false`.
    pub fn with_subnet_rule(
        epoch_secs: u64,
        distinct_subnets: bool,
        relays: Vec<Relay>,
    ) -> Result<Self, DirectoryError> {
        descriptor::check_epoch_secs(epoch_secs)?;
        descriptor::check_all(relays.iter().map(|relay| &relay.descriptor), epoch_secs)?;
        let mut total: u64 = 0;
        for (index, relay) in relays.iter().enumerate() {
            let name = RelayRef {
                number: index + 1,
                fingerprint: *relay.fingerprint(),
            };
            if let Some(why) = stake::operator_name_problem(&relay.stake.operator) {
                return Err(DirectoryError::Operator {
                    relay: name,
                    operator: relay.stake.operator.clone(),
                    why,
                });
            }
            if relay.stake.weight == 0 {
                return Err(DirectoryError::NoStake { relay: name });
            }
            // A name cannot be placed in a /16 without asking DNS, which the directory never
            // does: each name would count as a subnet of its own, and the rule would not bite.
            if distinct_subnets && relay.address().host.parse::<std::net::IpAddr>().is_err() {
                return Err(DirectoryError::UnplacedHost {
                    relay: name,
                    host: relay.address().host.clone(),
                });
            }
            total = total
                .checked_add(relay.stake.weight)
                .filter(|total| *total <= TOML_MAX)
                .ok_or(DirectoryError::StakeTotal)?;
        }
        let by_fingerprint = relays
            .iter()
            .enumerate()
            .map(|(index, relay)| (*relay.fingerprint().as_bytes(), index))
            .collect();
        Ok(Self {
            epoch_secs,
            choice: stake::Choice::new(&relays, distinct_subnets),
            relays,
            by_fingerprint,
            authorities: None,
            serial: 0,
            signatures: Vec::new(),
            issuer: None,
        })
    }

    /// This directory with a voucher issuer, which must be one of its relays. Signatures it
    /// carried are dropped: they were over other content.
    pub fn with_issuer(self, issuer: VoucherIssuer) -> Result<Self, DirectoryError> {
        if !self.by_fingerprint.contains_key(issuer.relay().as_bytes()) {
            return Err(DirectoryError::IssuerRelay);
        }
        Ok(Self {
            issuer: Some(issuer),
            signatures: Vec::new(),
            ..self
        })
    }

    /// The network's voucher issuer; `None` when the network needs no vouchers.
    pub fn issuer(&self) -> Option<&VoucherIssuer> {
        self.issuer.as_ref()
    }

    /// This directory, to be signed by `authorities`. Signatures it carried are dropped:
    /// they were over other content.
    pub fn with_authorities(self, authorities: Authorities) -> Self {
        Self {
            authorities: Some(authorities),
            signatures: Vec::new(),
            ..self
        }
    }

    /// This directory with `key`'s signature added (or renewed), `key` being one of its
    /// authorities.
    pub fn sign(mut self, key: &SigningKey) -> Result<Self, DirectoryError> {
        let authorities = self
            .authorities
            .as_ref()
            .ok_or(DirectoryError::NoAuthorities)?;
        let public = key.verifying_key();
        if !authorities.keys().contains(&public) {
            return Err(DirectoryError::NotAnAuthority {
                authority: hex::encode(public.as_bytes()),
            });
        }
        let signature = seal::sign(&self, key);
        let keys = authorities.keys().to_vec();
        self.signatures.retain(|(signer, _)| *signer != public);
        self.signatures.push((public, signature));
        self.signatures
            .sort_by_key(|(signer, _)| keys.iter().position(|k| k == signer));
        Ok(self)
    }

    /// Who may sign this directory, and how many must: set by [`NetworkFile::parse`] or
    /// [`Directory::with_authorities`].
    pub fn authorities(&self) -> Option<&Authorities> {
        self.authorities.as_ref()
    }

    /// This directory as issue `serial` of its network file, to be signed: signatures it
    /// carried are dropped, since they were over another serial.
    pub fn with_serial(self, serial: u64) -> Self {
        Self {
            serial,
            signatures: Vec::new(),
            ..self
        }
    }

    /// Which issue of the network file this is (see [`Directory::with_serial`]).
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// The authorities whose checked signatures this directory carries.
    pub fn signers(&self) -> Vec<VerifyingKey> {
        self.signatures.iter().map(|(signer, _)| *signer).collect()
    }

    /// Whether enough of its authorities signed it. A client pins the authorities of the
    /// first approved file it reads, and takes a later one only when enough of those signed
    /// it.
    pub fn is_approved(&self) -> bool {
        self.authorities
            .as_ref()
            .is_some_and(|authorities| authorities.approve(&self.signers()))
    }

    /// Whether a path's relays must come from distinct subnets.
    pub fn distinct_subnets(&self) -> bool {
        self.choice.distinct_subnets()
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

    /// Whether `a` and `b` are one relay, or of one operator, or (unless the network turns it
    /// off) on one subnet: what may never hold both ends of a client's way in. Relays this
    /// directory does not list are related to nothing.
    pub fn related(&self, a: &Fingerprint, b: &Fingerprint) -> bool {
        match (self.index(a), self.index(b)) {
            (Ok(a), Ok(b)) => self.choice.related(a, b),
            _ => false,
        }
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

    /// The network file for this directory with the signatures it carries;
    /// [`NetworkFile::parse_unfinished`] reads it back equal, and [`NetworkFile::parse`] too
    /// once it [is approved](Directory::is_approved).
    pub fn to_toml(&self) -> String {
        file::write(self)
    }

    /// A gateway for a client that has none yet, drawn by stake. A client keeps its gateway
    /// for weeks (a guard), so this is called rarely; fails only on an empty directory, which
    /// no constructor returns.
    pub fn choose_gateway<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<&Relay, DirectoryError> {
        self.choice
            .pick(|_| true, &[], 1, rng)
            .first()
            .map(|&i| &self.relays[i])
            .ok_or(DirectoryError::NoRelays)
    }

    /// A host for a new mailbox of a client behind `gateway`, drawn by stake among relays of
    /// another operator (and subnet) than the gateway: one operator holding both would see
    /// both ends of every request to it.
    pub fn choose_host<R: Rng + ?Sized>(
        &self,
        gateway: &Fingerprint,
        rng: &mut R,
    ) -> Result<&Relay, DirectoryError> {
        self.choose_apart(&[*gateway], rng)
    }

    /// A relay drawn by stake among those of another operator (and subnet) than each of
    /// `apart`: a host apart from a client's gateway, or an entry apart from both the gateway
    /// and a host of its operator that someone else chose.
    pub fn choose_apart<R: Rng + ?Sized>(
        &self,
        apart: &[Fingerprint],
        rng: &mut R,
    ) -> Result<&Relay, DirectoryError> {
        let apart = apart
            .iter()
            .map(|relay| self.index(relay))
            .collect::<Result<Vec<_>, _>>()?;
        self.choice
            .pick(|_| true, &apart, 1, rng)
            .first()
            .map(|&i| &self.relays[i])
            .ok_or(DirectoryError::NoHost)
    }

    /// A path from `entry` through `mixes` distinct random mixes to `destination`, with each
    /// hop's onion key as the directory lists it now (`onion_key`). For a request, `entry` is
    /// the client's gateway and `destination` the mailbox host; for a reply path, `entry` is
    /// the host and `destination` the client's gateway.
    ///
    /// Every relay on the path is distinct and of another operator and subnet than the ends,
    /// whose operators (and subnets) differ too; a network too small for that is an error,
    /// never a shorter path: a short path would quietly give one relay both ends.
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
        let (entry, destination) = (self.index(entry)?, self.index(destination)?);
        if entry == destination {
            return Err(DirectoryError::SameEnds(*self.relays[entry].fingerprint()));
        }
        // Without mixing delays, one operator at both ends links them by timing.
        if self.choice.related(entry, destination) {
            return Err(DirectoryError::RelatedEnds(
                *self.relays[entry].fingerprint(),
                *self.relays[destination].fingerprint(),
            ));
        }
        let destination_hop = keys.hop(&self.relays[destination])?;
        // Mixes: any relay with a key for the path's epoch; `pick` keeps them apart from the
        // ends and from each other.
        let has_key = |i: usize| keys.key(&self.relays[i]).is_some();
        let mut most = 0;
        for _ in 0..PATH_DRAWS {
            let drawn = self.choice.pick(has_key, &[entry, destination], mixes, rng);
            if drawn.len() == mixes {
                return Ok(Path {
                    entry: self.relays[entry].address().clone(),
                    mixes: drawn
                        .into_iter()
                        .map(|i| keys.hop(&self.relays[i]))
                        .collect::<Result<Vec<_>, _>>()?,
                    destination: destination_hop,
                });
            }
            most = most.max(drawn.len());
        }
        Err(DirectoryError::NetworkTooSmall {
            mixes,
            needed: mixes + 2,
            available: most + 2,
        })
    }

    fn index(&self, fingerprint: &Fingerprint) -> Result<usize, DirectoryError> {
        self.by_fingerprint
            .get(fingerprint.as_bytes())
            .copied()
            .ok_or(DirectoryError::UnknownRelay(*fingerprint))
    }
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
            Self::Listed => Some(&relay.descriptor.onion_key),
            Self::Epoch(epoch) => relay.key_for(epoch),
        }
    }

    fn hop(self, relay: &Relay) -> Result<Hop, DirectoryError> {
        let key = self.key(relay).ok_or(DirectoryError::NoOnionKey {
            relay: *relay.fingerprint(),
            epoch: match self {
                Self::Listed => relay.descriptor.onion_key.epoch,
                Self::Epoch(epoch) => epoch,
            },
        })?;
        Ok(Hop {
            address: relay.address().clone(),
            onion_key: key.public_key,
            epoch: key.epoch,
        })
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
