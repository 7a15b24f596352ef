//! Sealing a file's chunks: ChaCha20-Poly1305 under the file's own key, the nonce the chunk's
//! index (a key seals one file, each index once) and the associated data the index with the
//! file's chunk count, so a host can neither swap, move nor cut off chunks unnoticed
//! (docs/protocol.md §18.2).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use sotto_proto::file_offer::CHUNK_PLAINTEXT_LEN;

use super::FileError;

const LABEL: &[u8] = b"sotto chunk v1";

/// A file's key, drawn for that file alone.
#[derive(Clone, PartialEq, Eq)]
pub struct FileKey([u8; 32]);

sotto_proto::redacted_debug!(FileKey);

impl FileKey {
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        Self(key)
    }

    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self(key)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new((&self.0).into())
    }

    /// Seals chunk `index` of a file of `count` chunks.
    pub fn seal(&self, index: u32, count: u32, plaintext: &[u8]) -> Result<Vec<u8>, FileError> {
        if plaintext.len() > CHUNK_PLAINTEXT_LEN {
            return Err(FileError::Internal("a chunk longer than a chunk".into()));
        }
        let aad = associated_data(index, count);
        self.cipher()
            .encrypt(
                &nonce(index),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| FileError::Internal("sealing a chunk failed".into()))
    }

    /// Opens chunk `index` of a file of `count` chunks; `None` if it is not that chunk, as
    /// sealed by the holder of this key.
    pub fn open(&self, index: u32, count: u32, sealed: &[u8]) -> Option<Vec<u8>> {
        let aad = associated_data(index, count);
        self.cipher()
            .decrypt(
                &nonce(index),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok()
    }
}

fn nonce(index: u32) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&u64::from(index).to_be_bytes());
    nonce.into()
}

fn associated_data(index: u32, count: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(LABEL.len() + 8);
    aad.extend_from_slice(LABEL);
    aad.extend_from_slice(&index.to_be_bytes());
    aad.extend_from_slice(&count.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_proto::MAX_CHUNK_LEN;

    #[test]
    fn a_chunk_opens_only_as_itself() {
        let key = FileKey::random();
        let full = vec![9u8; CHUNK_PLAINTEXT_LEN];
        let sealed = key.seal(3, 10, &full).unwrap();
        assert_eq!(
            sealed.len(),
            MAX_CHUNK_LEN,
            "a full chunk fills the stored chunk"
        );
        assert_eq!(key.open(3, 10, &sealed).unwrap(), full);
        // Another index, another count (a file cut short), another key, a flipped bit.
        assert!(key.open(4, 10, &sealed).is_none());
        assert!(key.open(3, 4, &sealed).is_none());
        assert!(FileKey::random().open(3, 10, &sealed).is_none());
        let mut flipped = sealed.clone();
        flipped[100] ^= 1;
        assert!(key.open(3, 10, &flipped).is_none());
        assert!(key.seal(0, 1, &vec![0; CHUNK_PLAINTEXT_LEN + 1]).is_err());
    }
}
