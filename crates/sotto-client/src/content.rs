//! End-to-end sealing of what a host stores. Every mailbox has a content key that its writers
//! and readers hold and its host never sees; message bodies and link data are sealed with
//! XChaCha20-Poly1305 under it. Conversations add their own MLS encryption on top; this layer
//! still hides MLS's cleartext headers (group id, epoch) from the host.
//!
//! Sealed layout: `nonce [24] | ciphertext with tag`.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit};
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

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContentError {
    #[error("{len} bytes is too long: at most {max} fit")]
    TooLong { len: usize, max: usize },
    #[error("sealed content is shorter than a nonce and tag")]
    Truncated,
    #[error("sealed content does not open with this key (wrong key or tampered)")]
    Forged,
}

/// The symmetric key of one mailbox or one link.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey([u8; 32]);

impl ContentKey {
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Self(key)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn seal(&self, plaintext: &[u8], max: usize) -> Result<Vec<u8>, ContentError> {
        if plaintext.len() > max {
            return Err(ContentError::TooLong {
                len: plaintext.len(),
                max,
            });
        }
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(&nonce, plaintext)
            .map_err(|_| ContentError::TooLong {
                len: plaintext.len(),
                max,
            })?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, ContentError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(ContentError::Truncated);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| ContentError::Forged)
    }
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_content_opens_only_with_its_key() {
        let key = ContentKey::random();
        let sealed = key.seal(b"hello", MAX_PLAINTEXT_LEN).unwrap();
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
    fn the_largest_plaintext_fits_a_message() {
        let key = ContentKey::random();
        assert_eq!(
            key.seal(&vec![0; MAX_PLAINTEXT_LEN], MAX_PLAINTEXT_LEN)
                .unwrap()
                .len(),
            MAX_MESSAGE_LEN
        );
        assert!(key
            .seal(&vec![0; MAX_PLAINTEXT_LEN + 1], MAX_PLAINTEXT_LEN)
            .is_err());
    }
}
