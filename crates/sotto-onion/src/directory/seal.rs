//! The authorities' signatures over a network file: what they cover, byte for byte, and their
//! check.
//!
//! A signature covers the directory's content, not the file's text, so comments and layout
//! may change without breaking it; every authority signs the same bytes. They are (integers big-endian, strings as a u32
//! length and UTF-8):
//!
//! ```text
//! "sotto network file v2" 0x00
//! u64 epoch_secs | u8 distinct_subnets (0 or 1)
//! u32 authority count | [32] each authority key, in file order | u32 threshold
//! u64 serial
//! u32 relay count
//! per relay, in file order:
//!   string address | string operator | u64 stake
//!   u64 onion_key.epoch | [32] onion_key.public_key
//!   u64 next_onion_key.epoch | [32] next_onion_key.public_key
//! only with an [issuer]: u8 1 | [32] issuer relay fingerprint
//!   u32 key count | per key: u32 epoch | u32 length | DER public key
//! ```
//!
//! `valid_from` is not signed: it follows from the epoch and `epoch_secs`, which are. A relay
//! signs its descriptor the same way with its identity key (see [`descriptor_bytes`]).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::{Descriptor, Directory, DirectoryError};

const DOMAIN: &[u8] = b"sotto network file v2\0";
const DESCRIPTOR_DOMAIN: &[u8] = b"sotto relay descriptor v1\0";

pub(super) fn signed_bytes(directory: &Directory) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(DOMAIN.len() + 600 + directory.relays.len() * 200);
    bytes.extend_from_slice(DOMAIN);
    bytes.extend_from_slice(&directory.epoch_secs.to_be_bytes());
    bytes.push(u8::from(directory.distinct_subnets()));
    let (keys, threshold) = directory
        .authorities
        .as_ref()
        .map_or((&[][..], 0), |a| (a.keys(), a.threshold()));
    put_len(&mut bytes, keys.len());
    for key in keys {
        bytes.extend_from_slice(key.as_bytes());
    }
    put_len(&mut bytes, threshold);
    bytes.extend_from_slice(&directory.serial.to_be_bytes());
    put_len(&mut bytes, directory.relays.len());
    for relay in &directory.relays {
        put_str(&mut bytes, &relay.address().to_string());
        put_str(&mut bytes, &relay.stake.operator);
        bytes.extend_from_slice(&relay.stake.weight.to_be_bytes());
        put_keys(&mut bytes, &relay.descriptor);
    }
    if let Some(issuer) = &directory.issuer {
        issuer.signed_bytes(&mut bytes);
    }
    bytes
}

/// What a relay signs of its descriptor: `"sotto relay descriptor v1" 0x00 | u64 epoch_secs |
/// string address | u64 onion_key.epoch | [32] key | u64 next_onion_key.epoch | [32] key`.
pub(super) fn descriptor_bytes(descriptor: &Descriptor, epoch_secs: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(DESCRIPTOR_DOMAIN.len() + 200);
    bytes.extend_from_slice(DESCRIPTOR_DOMAIN);
    bytes.extend_from_slice(&epoch_secs.to_be_bytes());
    put_str(&mut bytes, &descriptor.address.to_string());
    put_keys(&mut bytes, descriptor);
    bytes
}

fn put_keys(bytes: &mut Vec<u8>, descriptor: &Descriptor) {
    for key in [&descriptor.onion_key, &descriptor.next_onion_key] {
        bytes.extend_from_slice(&key.epoch.to_be_bytes());
        bytes.extend_from_slice(&key.public_key);
    }
}

/// Lengths in a directory are far below 2^32 (a file that large is not read); saturating keeps
/// this total all the same.
fn put_len(bytes: &mut Vec<u8>, len: usize) {
    bytes.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn put_str(bytes: &mut Vec<u8>, text: &str) {
    put_len(bytes, text.len());
    bytes.extend_from_slice(text.as_bytes());
}

pub(super) fn sign(directory: &Directory, key: &SigningKey) -> Signature {
    key.sign(&signed_bytes(directory))
}

pub(super) fn authority_from_hex(text: &str) -> Result<VerifyingKey, DirectoryError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).map_err(|_| DirectoryError::AuthorityHex)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| DirectoryError::AuthorityHex)
}

pub(super) fn signature_from_hex(text: &str) -> Result<Signature, DirectoryError> {
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(text, &mut bytes).map_err(|_| DirectoryError::SignatureHex)?;
    Ok(Signature::from_bytes(&bytes))
}

pub(super) fn verify(
    directory: &Directory,
    authority: &VerifyingKey,
    signature: &Signature,
) -> Result<(), DirectoryError> {
    authority
        .verify_strict(&signed_bytes(directory), signature)
        .map_err(|_| DirectoryError::BadSignature {
            authority: hex::encode(authority.as_bytes()),
        })
}
