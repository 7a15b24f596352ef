//! Why a network file, descriptor or stake ledger was refused, or a path could not be chosen.

use std::fmt;

use sotto_proto::{AddressError, Fingerprint};
use thiserror::Error;

use super::{MAX_MIXES, TOML_MAX};

/// Errors about one relay say which (its number in the file, counting `[[relay]]` tables from
/// 1, and its fingerprint) and which field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DirectoryError {
    /// Not TOML, or not this format: a missing, unknown or mistyped field. The text is the TOML
    /// parser's, which shows the line.
    #[error("the file does not have the expected form: {0}")]
    Toml(String),
    #[error("epoch_secs is {0}; it must be at least 1 and at most {max}", max = TOML_MAX)]
    EpochSecs(u64),
    #[error("the file lists no relay; it needs at least one [[relay]]")]
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
    #[error("{relay}: operator {operator:?}: {why}")]
    Operator {
        relay: RelayRef,
        operator: String,
        why: &'static str,
    },
    #[error("{relay}: stake is 0; a relay without stake is not admitted to a network")]
    NoStake { relay: RelayRef },
    #[error(
        "{relay}: the address names host {host}; with distinct_subnets a relay is listed by IP \
         address, since a name cannot be placed in a /16"
    )]
    UnplacedHost { relay: RelayRef, host: String },
    #[error("the relays' stakes add up to more than {max}", max = TOML_MAX)]
    StakeTotal,
    #[error("an authority key is not 64 hex digits (a 32-byte Ed25519 public key)")]
    AuthorityHex,
    #[error("a network has 1 to {max} authorities, not {0}", max = super::MAX_AUTHORITIES)]
    AuthorityCount(usize),
    #[error("an authority is listed twice")]
    DuplicateAuthority,
    #[error("threshold {threshold} cannot be met by {authorities} authorities (it is 1 to their number)")]
    Threshold {
        threshold: usize,
        authorities: usize,
    },
    #[error("a signature is not 128 hex digits (a 64-byte Ed25519 signature)")]
    SignatureHex,
    #[error("a signature is by {authority}, which is not one of the file's authorities")]
    NotAnAuthority { authority: String },
    #[error("authority {authority} signed twice")]
    SignedTwice { authority: String },
    #[error(
        "the signature of authority {authority} does not match: the file was changed after it \
         signed, or it was signed by another key"
    )]
    BadSignature { authority: String },
    #[error("the file has {signed} of the {needed} authority signatures it needs")]
    TooFewSignatures { signed: usize, needed: usize },
    #[error("the directory names no authorities to sign it")]
    NoAuthorities,
    #[error("issuer.relay is not the 64-hex fingerprint of one of the file's relays")]
    IssuerRelay,
    #[error("issuer.keys: the key of epoch {0} is not hex of an RSA-2048 public key (DER)")]
    IssuerKey(u32),
    #[error("issuer.keys lists {0} keys; it needs 1 to {max}", max = super::MAX_ISSUER_KEYS)]
    IssuerKeyCount(usize),
    #[error("issuer.keys lists epoch {0} twice")]
    IssuerEpochTwice(u32),
    #[error("{relay}: identity is not 64 hex digits (a 32-byte Ed25519 public key)")]
    IdentityHex { relay: RelayRef },
    #[error("{relay}: identity is not the key whose fingerprint the address names")]
    IdentityMismatch { relay: RelayRef },
    #[error(
        "{relay}: the descriptor's signature does not match: it was changed after the relay \
         signed it, or not signed by the relay"
    )]
    DescriptorSignature { relay: RelayRef },
    #[error("relay {0} is not in the directory")]
    UnknownRelay(Fingerprint),
    #[error("a path needs at least one mix, or its entry would see its destination")]
    NoMixes,
    #[error("a path has at most {max} mixes (the room in a Sphinx header), not {mixes}", max = MAX_MIXES)]
    TooManyMixes { mixes: usize },
    #[error("relay {0} cannot be both entry and destination: it would see both ends of the path")]
    SameEnds(Fingerprint),
    #[error(
        "relays {0} and {1} share an operator or subnet and cannot be a path's two ends: \
         together they would see both"
    )]
    RelatedEnds(Fingerprint, Fingerprint),
    #[error("relay {relay} has no onion key for epoch {epoch}")]
    NoOnionKey { relay: Fingerprint, epoch: u64 },
    #[error(
        "a path with {mixes} mixes needs {needed} relays of distinct operators (and subnets), \
         but only {available} are usable"
    )]
    NetworkTooSmall {
        mixes: usize,
        needed: usize,
        available: usize,
    },
    #[error("no relay can host a mailbox for this gateway: every other relay shares its operator or subnet")]
    NoHost,
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
