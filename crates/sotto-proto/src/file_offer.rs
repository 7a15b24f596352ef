//! The offer of a file inside a conversation ([`Content::FileOffer`](crate::conversation::Content)):
//! what a recipient needs to fetch, check and open it. The host never sees it; it travels
//! MLS-encrypted like any text.
//!
//! Layout: `id [16] | sent_at u64 (unix ms) | kind u8 | name blob(≤255, UTF-8) | size u64 |
//! key [32] | digest [32] | host count u8 (1..=8) | per host: host [32] | read id [24] |
//! read key [32] | caption blob(≤4,096, UTF-8)`. Chunk `i` of the file is chunk `i / n` of
//! host `i mod n` (`n` hosts, in offer order).
//!
//! An offer with a preview ([`Media`]) is its own content kind, so a reader that knows only
//! kind 5 refuses it as unknown rather than misreading it: kind 6 (an image) follows the
//! layout above with `width u32 | height u32 | thumbnail blob(≤3,072, a JPEG)`, kind 7 (a
//! voice message) with `duration_ms u32 | waveform blob(≤64, one level 0–255 per step)`.

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
/// Largest thumbnail an image offer carries: with the longest name, caption and host list
/// the offer still fits one conversation message.
pub const MAX_THUMBNAIL_LEN: usize = 3072;
/// Levels in a voice message's waveform.
pub const WAVEFORM_LEN: usize = 64;

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
    /// The preview shown before the file is fetched; only with its own kind of file.
    pub media: Option<Media>,
}

/// What a front end shows of a file before it is fetched.
#[derive(Clone, PartialEq, Eq)]
pub enum Media {
    /// An image's size in pixels and a small JPEG of it.
    Image {
        width: u32,
        height: u32,
        thumbnail: Vec<u8>,
    },
    /// A voice message's length and loudness over time, in [`WAVEFORM_LEN`] steps or fewer.
    Voice { duration_ms: u32, waveform: Vec<u8> },
}

impl Media {
    /// The content kind of an offer with this preview.
    pub(crate) fn content_kind(&self) -> u8 {
        match self {
            Self::Image { .. } => 6,
            Self::Voice { .. } => 7,
        }
    }

    fn file_kind(&self) -> FileKind {
        match self {
            Self::Image { .. } => FileKind::Image,
            Self::Voice { .. } => FileKind::Voice,
        }
    }

    fn put(&self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        match self {
            Self::Image {
                width,
                height,
                thumbnail,
            } => {
                check("thumbnail", thumbnail.len(), MAX_THUMBNAIL_LEN)?;
                out.extend_from_slice(&width.to_be_bytes());
                out.extend_from_slice(&height.to_be_bytes());
                put_blob(out, thumbnail);
            }
            Self::Voice {
                duration_ms,
                waveform,
            } => {
                check("waveform", waveform.len(), WAVEFORM_LEN)?;
                out.extend_from_slice(&duration_ms.to_be_bytes());
                put_blob(out, waveform);
            }
        }
        Ok(())
    }

    fn read(content_kind: u8, cursor: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        match content_kind {
            6 => Ok(Self::Image {
                width: cursor.u32("image width")?,
                height: cursor.u32("image height")?,
                thumbnail: cursor.blob("thumbnail", MAX_THUMBNAIL_LEN)?.to_vec(),
            }),
            7 => Ok(Self::Voice {
                duration_ms: cursor.u32("voice duration")?,
                waveform: cursor.blob("waveform", WAVEFORM_LEN)?.to_vec(),
            }),
            code => Err(DecodeError::UnknownCode {
                what: "media offer kind",
                code,
            }),
        }
    }
}

crate::redacted_debug!(ChunkHost, FileOffer, Media);

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
    /// The content kind this offer is written as: 5, or 6–7 with a preview.
    pub(crate) fn content_kind(&self) -> u8 {
        self.media.as_ref().map_or(5, Media::content_kind)
    }

    pub(crate) fn put(&self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        if let Some(media) = &self.media {
            if media.file_kind() != self.kind {
                return Err(DecodeError::Invalid(
                    "a file's preview is not of its kind of file",
                ));
            }
        }
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
        match &self.media {
            Some(media) => media.put(out),
            None => Ok(()),
        }
    }

    /// Writes an offer that carries no preview (kind 5's layout), as a Welcome or a commit
    /// stored as a file is: nothing a person is shown.
    pub(crate) fn put_plain(&self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        if self.media.is_some() {
            return Err(DecodeError::Invalid(
                "an offer inside a group message carries no preview",
            ));
        }
        self.put(out)
    }

    /// Reads an offer that carries no preview (see [`FileOffer::put_plain`]).
    pub(crate) fn read_plain(cursor: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        Self::read(5, cursor)
    }

    /// Reads an offer of content kind `content_kind` (5, 6 or 7).
    pub(crate) fn read(content_kind: u8, cursor: &mut Cursor<'_>) -> Result<Self, DecodeError> {
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
        let media = match content_kind {
            5 => None,
            kind => Some(Media::read(kind, cursor)?),
        };
        if media
            .as_ref()
            .is_some_and(|media| media.file_kind() != kind)
        {
            return Err(DecodeError::Invalid(
                "a file's preview is not of its kind of file",
            ));
        }
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
            media,
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

    fn image_offer() -> FileOffer {
        FileOffer {
            id: [1; 16],
            sent_at_ms: 7,
            kind: FileKind::Image,
            name: "cat.jpg".into(),
            size: 90_000,
            key: [2; 32],
            digest: [3; 32],
            hosts: vec![ChunkHost {
                host: Fingerprint::from_bytes([4; 32]),
                read_id: Id::from_bytes([5; Id::LEN]),
                read_key: [6; 32],
            }],
            caption: String::new(),
            media: Some(Media::Image {
                width: 640,
                height: 480,
                thumbnail: vec![0xff; 100],
            }),
        }
    }

    #[test]
    fn a_preview_goes_with_its_own_kind_of_file_only() {
        let mut offer = image_offer();
        let mut bytes = Vec::new();
        offer.put(&mut bytes).unwrap();
        assert_eq!(offer.content_kind(), 6);
        // The same bytes read as a voice offer's are refused, not misread.
        assert!(FileOffer::read(7, &mut Cursor::new(&bytes)).is_err());
        offer.kind = FileKind::Voice;
        assert!(offer.put(&mut Vec::new()).is_err());
    }

    #[test]
    fn an_oversized_preview_is_refused() {
        let mut offer = image_offer();
        offer.media = Some(Media::Image {
            width: 1,
            height: 1,
            thumbnail: vec![0; MAX_THUMBNAIL_LEN + 1],
        });
        assert!(matches!(
            offer.put(&mut Vec::new()),
            Err(DecodeError::TooLong {
                what: "thumbnail",
                ..
            })
        ));
        offer.kind = FileKind::Voice;
        offer.media = Some(Media::Voice {
            duration_ms: 1,
            waveform: vec![0; WAVEFORM_LEN + 1],
        });
        assert!(offer.put(&mut Vec::new()).is_err());
    }
}
