//! MLS messages too big for one mailbox message (a Welcome with its ratchet tree, a commit of a
//! large group): held in memory, sealed and cut into chunks exactly as a file is (§19.2), and
//! stored as a file object at one host for the recipients the uploader names.

use sha2::{Digest, Sha256};
use sotto_proto::file_offer::CHUNK_PLAINTEXT_LEN;

use super::transfer::chunks_of;
use super::{FileError, FileKey, FileRead};
use crate::mailbox::MailboxClient;
use crate::transport::Transport;

/// The largest object a device stores or fetches this way: far above a 1,000-member group's
/// Welcome, and a bound on what a sender can make a recipient hold in memory.
pub const MAX_OBJECT_LEN: u64 = 16 << 20;

/// An object as stored: what its readers need to fetch and check it.
pub struct StoredObject {
    pub key: FileKey,
    pub read: FileRead,
    pub digest: [u8; 32],
    pub size: u64,
}

/// SHA-256 of `bytes`, the digest an offer binds.
fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Stores `bytes` at `client`'s host for `recipients` readers, under a key of its own, for
/// `ttl_secs` (0: the host's default; the host cuts it to its maximum).
pub async fn put_object<T: Transport>(
    client: &MailboxClient<T>,
    bytes: &[u8],
    recipients: u16,
    ttl_secs: u32,
) -> Result<StoredObject, FileError> {
    let size = bytes.len() as u64;
    if size > MAX_OBJECT_LEN {
        return Err(FileError::Internal(format!(
            "an object of {size} bytes, over the {MAX_OBJECT_LEN} bytes one is allowed"
        )));
    }
    let count = chunks_of(size)?;
    let key = FileKey::random();
    let new = client.create_file(count, recipients, ttl_secs).await?;
    for index in 0..count {
        let sealed = key.seal(index, count, piece(bytes, index))?;
        client.put_chunk(&new.write, index, sealed).await?;
    }
    Ok(StoredObject {
        key,
        read: new.read,
        digest: digest(bytes),
        size,
    })
}

/// Fetches the object `stored` names, checks every chunk and then the whole against its
/// digest, and tells the host this reader has it with `receipt`, the same on every retry
/// (the host counts a receipt once, so a reader fetching again is not counted twice and the
/// object is not let go before every reader had it).
pub async fn fetch_object<T: Transport>(
    client: &MailboxClient<T>,
    stored: &StoredObject,
    receipt: [u8; 16],
) -> Result<Vec<u8>, FileError> {
    if stored.size > MAX_OBJECT_LEN {
        return Err(FileError::Internal(format!(
            "an object of {} bytes, over the {MAX_OBJECT_LEN} bytes one is allowed",
            stored.size
        )));
    }
    let count = chunks_of(stored.size)?;
    let mut bytes = Vec::with_capacity(stored.size as usize);
    for index in 0..count {
        let sealed = client.get_chunk(&stored.read, index).await?;
        let plaintext = stored
            .key
            .open(index, count, &sealed)
            .ok_or(FileError::Tampered(index))?;
        bytes.extend_from_slice(&plaintext);
    }
    if bytes.len() as u64 != stored.size || digest(&bytes) != stored.digest {
        return Err(FileError::DigestMismatch);
    }
    client.file_done(&stored.read, receipt).await?;
    Ok(bytes)
}

/// Chunk `index` of `bytes`.
fn piece(bytes: &[u8], index: u32) -> &[u8] {
    let start = (index as usize * CHUNK_PLAINTEXT_LEN).min(bytes.len());
    let end = (start + CHUNK_PLAINTEXT_LEN).min(bytes.len());
    &bytes[start..end]
}
