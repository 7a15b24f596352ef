//! The offer of a file inside a conversation ([`Content::FileOffer`](crate::conversation::Content)):
//! what a recipient needs to fetch, check and open it. The host never sees it; it travels
//! MLS-encrypted like any text.
//!
//! Layout: `id [16] | sent_at u64 (unix ms) | kind u8 | name blob(≤255, UTF-8) | size u64 |
//! key [32] | digest [32] | host count u8 (1..=8) | per host: host [32] | read id [24] |
//! read key [32] | caption blob(≤4,096, UTF-8)`. Chunk `i` of the file is chunk `i / n` of
//! host `i mod n` (`n` hosts, in offer order).

use crate::conversation::MessageId;
use crate::cursor::{put_blob, Cursor};
use crate::{DecodeError, Fingerprint, Id, MAX_CHUNK_LEN};

/// Plaintext bytes per chunk: a stored chunk less its AEAD tag (the nonce is the index).
pub const CHUNK_PLAINTEXT_LEN: usize = MAX_CHUNK_LEN - 16;
/// Longest file name, in bytes of UTF-8.
pub const MAX_FILE_NAME_LEN: usize = 255;
/// Longest caption sent with a file.
pub const MAX_CAPTION_LEN: usize = 4096;
/// Most hosts one file is spread over.
pub const MAX_FILE_HOSTS: usize = 8;
/// Largest file the format can describe: chunk indices are u32.
pub const MAX_FILE_SIZE: u64 = CHUNK_PLAINTEXT_LEN as u64 * u32::MAX as u64;

/// How a front end shows the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Image,
    Voice,
}

impl FileKind {
    pub const ALL: [FileKind; 3] = [Self::File, Self::Image, Self::Voice];

    pub fn code(self) -> u8 {
        match self {
            Self::File => 1,
            Self::Image => 2,
            Self::Voice => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Image => "image",
            Self::Voice => "voice",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    fn from_code(code: u8) -> Result<Self, DecodeError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.code() == code)
            .ok_or(DecodeError::UnknownCode {
                what: "file kind",
                code,
            })
    }
}

/// Where one share of a file's chunks waits, and the capability to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct ChunkHost {
    pub host: Fingerprint,
    pub read_id: Id,
    /// The Ed25519 secret every recipient signs `get_chunk` and `file_done` with.
    pub read_key: [u8; 32],
}

#[derive(Clone, PartialEq, Eq)]
pub struct FileOffer {
    pub id: MessageId,
    pub sent_at_ms: u64,
    pub kind: FileKind,
    pub name: String,
    pub size: u64,
    /// The file's own ChaCha20-Poly1305 key, drawn for this file only.
    pub key: [u8; 32],
    /// SHA-256 of the whole plaintext.
    pub digest: [u8; 32],
    pub hosts: Vec<ChunkHost>,
    pub caption: String,
}

crate::redacted_debug!(ChunkHost, FileOffer);

/// Chunks of a file of `size` bytes: an empty file has one, empty.
pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(CHUNK_PLAINTEXT_LEN as u64).max(1)
}

fn check(what: &'static str, len: usize, max: usize) -> Result<(), DecodeError> {
    if len > max {
        return Err(DecodeError::TooLong { what, len, max });
    }
    Ok(())
}

fn text(cursor: &mut Cursor<'_>, what: &'static str, max: usize) -> Result<String, DecodeError> {
    String::from_utf8(cursor.blob(what, max)?.to_vec())
        .map_err(|_| DecodeError::Invalid("file name or caption is not UTF-8"))
}

impl FileOffer {
    pub(crate) fn put(&self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        check("file name", self.name.len(), MAX_FILE_NAME_LEN)?;
        check("caption", self.caption.len(), MAX_CAPTION_LEN)?;
        check("file hosts", self.hosts.len(), MAX_FILE_HOSTS)?;
        if self.hosts.is_empty() {
            return Err(DecodeError::Invalid("a file offer names at least one host"));
        }
        if self.size > MAX_FILE_SIZE {
            return Err(DecodeError::Invalid("file size beyond u32 chunks"));
        }
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.sent_at_ms.to_be_bytes());
        out.push(self.kind.code());
        put_blob(out, self.name.as_bytes());
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.digest);
        out.push(self.hosts.len() as u8);
        for host in &self.hosts {
            out.extend_from_slice(host.host.as_bytes());
            out.extend_from_slice(host.read_id.as_bytes());
            out.extend_from_slice(&host.read_key);
        }
        put_blob(out, self.caption.as_bytes());
        Ok(())
    }

    pub(crate) fn read(cursor: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        let id = cursor.array("file id")?;
        let sent_at_ms = cursor.u64("sent at")?;
        let kind = FileKind::from_code(cursor.u8("file kind")?)?;
        let name = text(cursor, "file name", MAX_FILE_NAME_LEN)?;
        let size = cursor.u64("file size")?;
        if size > MAX_FILE_SIZE {
            return Err(DecodeError::Invalid("file size beyond u32 chunks"));
        }
        let key = cursor.array("file key")?;
        let digest = cursor.array("file digest")?;
        let count = usize::from(cursor.u8("file host count")?);
        if count == 0 {
            return Err(DecodeError::Invalid("a file offer names at least one host"));
        }
        check("file hosts", count, MAX_FILE_HOSTS)?;
        let hosts = (0..count)
            .map(|_| {
                Ok(ChunkHost {
                    host: Fingerprint::from_bytes(cursor.array("chunk host")?),
                    read_id: cursor.id("chunk read id")?,
                    read_key: cursor.array("chunk read key")?,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        let caption = text(cursor, "caption", MAX_CAPTION_LEN)?;
        Ok(Self {
            id,
            sent_at_ms,
            kind,
            name,
            size,
            key,
            digest,
            hosts,
            caption,
        })
    }

    /// Chunks of the whole file.
    pub fn chunks(&self) -> u64 {
        chunk_count(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_counts() {
        let len = CHUNK_PLAINTEXT_LEN as u64;
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(len), 1);
        assert_eq!(chunk_count(len + 1), 2);
        assert!(chunk_count(MAX_FILE_SIZE) <= u64::from(u32::MAX));
    }
}
