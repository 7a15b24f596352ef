//! End-to-end sealing of what a host stores. Every mailbox has a content key that its writers
//! and readers hold and its host never sees; message bodies are sealed with XChaCha20-Poly1305
//! under it, link data under a key made for that link alone. Conversations add their own MLS
//! encryption on top; this layer still hides MLS's cleartext headers (group id, epoch) from
//! the host.
//!
//! Sealed layout: `nonce [24] | ciphertext with tag`. The associated data names what was
//! sealed, so a host cannot pass one thing off as another: `"sotto message v1" | mailbox
//! binding [16]` for a message, `"sotto link v1"` for link data (see docs/protocol.md §15).

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use sotto_proto::{MAX_LINK_DATA_LEN, MAX_MESSAGE_LEN};
use thiserror::Error;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes sealing adds.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Largest plaintext one message carries.
pub const MAX_PLAINTEXT_LEN: usize = MAX_MESSAGE_LEN - SEAL_OVERHEAD;
/// Largest plaintext one link carries.
pub const MAX_LINK_PLAINTEXT_LEN: usize = MAX_LINK_DATA_LEN - SEAL_OVERHEAD;
/// Length of a mailbox binding.
pub const BINDING_LEN: usize = 16;

const MESSAGE_LABEL: &[u8] = b"sotto message v1";
const LINK_LABEL: &[u8] = b"sotto link v1";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContentError {
    #[error("{len} bytes is too long: at most {max} fit")]
    TooLong { len: usize, max: usize },
    #[error("sealed content is shorter than a nonce and tag")]
    Truncated,
    #[error("sealed content does not open with this key (wrong key, other mailbox or tampered)")]
    Forged,
}

/// The symmetric key of one mailbox, with the binding its creator drew for it. The host
/// assigns the mailbox's ids, so they cannot name the mailbox to the seal; the binding is the
/// creator's own random name for it and travels wherever the key does. Two mailboxes that
/// somehow share a key still differ in binding, so a host cannot move a body between them.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey {
    key: [u8; 32],
    binding: [u8; BINDING_LEN],
}

impl ContentKey {
    pub fn random() -> Self {
        Self {
            key: random_bytes(),
            binding: random_bytes(),
        }
    }

    pub fn from_parts(key: [u8; 32], binding: [u8; BINDING_LEN]) -> Self {
        Self { key, binding }
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    pub fn binding(&self) -> &[u8; BINDING_LEN] {
        &self.binding
    }

    fn associated_data(&self) -> [u8; MESSAGE_LABEL.len() + BINDING_LEN] {
        let mut data = [0u8; MESSAGE_LABEL.len() + BINDING_LEN];
        data[..MESSAGE_LABEL.len()].copy_from_slice(MESSAGE_LABEL);
        data[MESSAGE_LABEL.len()..].copy_from_slice(&self.binding);
        data
    }

    /// Seals a message body for this mailbox.
    pub(crate) fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, ContentError> {
        seal(
            &self.key,
            &self.associated_data(),
            plaintext,
            MAX_PLAINTEXT_LEN,
        )
    }

    /// Opens a message body sealed for this mailbox.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, ContentError> {
        open(&self.key, &self.associated_data(), sealed)
    }
}

/// The key of one link's data. It is made for that data and travels only in the link, so the
/// key itself ties the data to its link; the link id could not, since the host assigns it after
/// the data is sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkKey([u8; 32]);

impl LinkKey {
    pub fn random() -> Self {
        Self(random_bytes())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, ContentError> {
        seal(&self.0, LINK_LABEL, plaintext, MAX_LINK_PLAINTEXT_LEN)
    }

    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, ContentError> {
        open(&self.0, LINK_LABEL, sealed)
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

fn seal(
    key: &[u8; 32],
    associated: &[u8],
    plaintext: &[u8],
    max: usize,
) -> Result<Vec<u8>, ContentError> {
    let too_long = ContentError::TooLong {
        len: plaintext.len(),
        max,
    };
    if plaintext.len() > max {
        return Err(too_long);
    }
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let payload = Payload {
        msg: plaintext,
        aad: associated,
    };
    let ciphertext = cipher.encrypt(&nonce, payload).map_err(|_| too_long)?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

fn open(key: &[u8; 32], associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, ContentError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(ContentError::Truncated);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let payload = Payload {
        msg: ciphertext,
        aad: associated,
    };
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), payload)
        .map_err(|_| ContentError::Forged)
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(..)")
    }
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_content_opens_only_with_its_key() {
        let key = ContentKey::random();
        let sealed = key.seal(b"hello").unwrap();
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(key.open(&sealed).unwrap(), b"hello");
        assert_eq!(
            ContentKey::random().open(&sealed),
            Err(ContentError::Forged)
        );
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert_eq!(key.open(&tampered), Err(ContentError::Forged));
        assert_eq!(key.open(&sealed[..10]), Err(ContentError::Truncated));
    }

    #[test]
    fn a_body_does_not_open_in_another_mailbox_under_the_same_key() {
        let here = ContentKey::random();
        let there = ContentKey::from_parts(*here.as_bytes(), random_bytes());
        let sealed = here.seal(b"for this mailbox").unwrap();
        assert_eq!(there.open(&sealed), Err(ContentError::Forged));
    }

    #[test]
    fn link_data_and_message_bodies_do_not_pass_for_each_other() {
        let link = LinkKey::random();
        let mailbox = ContentKey::from_parts(*link.as_bytes(), [0; BINDING_LEN]);
        let data = link.seal(b"an invitation").unwrap();
        assert_eq!(link.open(&data).unwrap(), b"an invitation");
        assert_eq!(mailbox.open(&data), Err(ContentError::Forged));
        let body = mailbox.seal(b"a message").unwrap();
        assert_eq!(link.open(&body), Err(ContentError::Forged));
    }

    #[test]
    fn the_largest_plaintext_fits_a_message() {
        let key = ContentKey::random();
        assert_eq!(
            key.seal(&vec![0; MAX_PLAINTEXT_LEN]).unwrap().len(),
            MAX_MESSAGE_LEN
        );
        assert!(key.seal(&vec![0; MAX_PLAINTEXT_LEN + 1]).is_err());
        let link = LinkKey::random();
        assert_eq!(
            link.seal(&vec![0; MAX_LINK_PLAINTEXT_LEN]).unwrap().len(),
            MAX_LINK_DATA_LEN
        );
    }
}
