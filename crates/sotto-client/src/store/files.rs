//! Files sent and offered, and how far each transfer got (schema migration 7).

use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use rusqlite::{params, OptionalExtension, Row};
use sotto_proto::conversation::{Content, MessageId};
use sotto_proto::file_offer::{FileKind, FileOffer, Media};
use sotto_proto::Id;

use super::{now_ms, Store, StoreError};
use crate::files::{ChunkSet, FileWrite};

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Chunks are going up; the offer is not sent yet.
    Uploading,
    /// Uploaded and offered to the conversation.
    Sent,
    /// Offered to this device, not fetched yet.
    Offered,
    /// Being fetched.
    Downloading,
    /// Fetched, checked and written to its path.
    Done,
    /// Taken back by its sender (or an upload whose file went away): deleted at its hosts.
    Cancelled,
}

impl FileState {
    const ALL: [FileState; 6] = [
        Self::Uploading,
        Self::Sent,
        Self::Offered,
        Self::Downloading,
        Self::Done,
        Self::Cancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Uploading => "uploading",
            Self::Sent => "sent",
            Self::Offered => "offered",
            Self::Downloading => "downloading",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.name() == name)
    }
}

/// A transfer with everything needed to go on with it (keys included: device only).
pub struct FileRow {
    pub number: i64,
    pub conversation: i64,
    pub outgoing: bool,
    pub offer: FileOffer,
    /// Uploads: the write capability at each host, in the offer's host order.
    pub writes: Vec<FileWrite>,
    pub path: Option<PathBuf>,
    pub done: ChunkSet,
    pub receipt: [u8; 16],
    pub state: FileState,
}

/// What a front end sees of a file: no key, no capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    pub id: MessageId,
    pub alias: String,
    pub outgoing: bool,
    pub name: String,
    pub size: u64,
    pub kind: FileKind,
    pub state: FileState,
    pub chunks_done: u32,
    pub chunks: u32,
    pub path: Option<PathBuf>,
    /// Its preview: an image's size and thumbnail, a voice message's length and waveform.
    pub media: Option<Media>,
}

/// The file a message carries, as a message list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFile {
    pub name: String,
    pub size: u64,
    pub kind: FileKind,
    pub media: Option<Media>,
}

const WRITE_LEN: usize = Id::LEN + 32;

fn encode_writes(writes: &[FileWrite]) -> Vec<u8> {
    writes
        .iter()
        .flat_map(|write| [write.id.as_bytes().as_slice(), write.key.as_bytes()].concat())
        .collect()
}

fn decode_writes(bytes: &[u8]) -> Result<Vec<FileWrite>, StoreError> {
    if !bytes.len().is_multiple_of(WRITE_LEN) {
        return Err(StoreError::Damaged("file write capabilities"));
    }
    bytes
        .chunks(WRITE_LEN)
        .map(|write| {
            let (id, key) = write.split_at(Id::LEN);
            Ok(FileWrite {
                id: Id::from_bytes(
                    id.try_into()
                        .map_err(|_| StoreError::Damaged("file write id"))?,
                ),
                key: SigningKey::from_bytes(
                    key.try_into()
                        .map_err(|_| StoreError::Damaged("file write key"))?,
                ),
            })
        })
        .collect()
}

pub(super) fn kind_of(name: &str) -> FileKind {
    FileKind::from_name(name).unwrap_or(FileKind::File)
}

/// The preview in a stored offer (the store wrote the offer, so one that does not decode is
/// damage: shown without a preview rather than hiding the message).
pub(super) fn media_of(offer: &[u8]) -> Option<Media> {
    match Content::decode(offer) {
        Ok(Content::FileOffer(offer)) => offer.media,
        _ => None,
    }
}

const FILE_COLUMNS: &str =
    "f.number, f.conversation, f.outgoing, f.offer, f.writes, f.path, f.done, f.receipt, f.state";

type RawFile = (
    i64,
    i64,
    bool,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<String>,
    Vec<u8>,
    Vec<u8>,
    String,
);

fn raw(row: &Row<'_>) -> rusqlite::Result<RawFile> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn file_row(raw: RawFile) -> Result<FileRow, StoreError> {
    let (number, conversation, outgoing, offer, writes, path, done, receipt, state) = raw;
    let Ok(Content::FileOffer(offer)) = Content::decode(&offer) else {
        return Err(StoreError::Damaged("file offer"));
    };
    let chunks = u32::try_from(offer.chunks()).map_err(|_| StoreError::Damaged("file size"))?;
    Ok(FileRow {
        number,
        conversation,
        outgoing,
        writes: decode_writes(&writes.unwrap_or_default())?,
        path: path.map(PathBuf::from),
        done: ChunkSet::from_bytes(chunks, done).ok_or(StoreError::Damaged("file progress"))?,
        receipt: receipt
            .try_into()
            .map_err(|_| StoreError::Damaged("file receipt"))?,
        state: FileState::from_name(&state).ok_or(StoreError::Damaged("file state"))?,
        offer,
    })
}

impl Store {
    /// Records a file of a conversation unless one with its id is there; whether it was new.
    pub fn add_file(
        &self,
        conversation: i64,
        outgoing: bool,
        offer: &FileOffer,
        writes: &[FileWrite],
        path: Option<&std::path::Path>,
        state: FileState,
    ) -> Result<bool, StoreError> {
        let encoded = Content::FileOffer(offer.clone())
            .encode()
            .map_err(|_| StoreError::Damaged("file offer"))?;
        let chunks = u32::try_from(offer.chunks()).map_err(|_| StoreError::Damaged("file size"))?;
        let mut receipt = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut receipt);
        let added = self.conn().execute(
            "INSERT OR IGNORE INTO files (conversation, id, outgoing, name, size, kind, offer, \
             writes, path, done, receipt, state, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                conversation,
                offer.id.as_slice(),
                outgoing,
                offer.name,
                offer.size as i64,
                offer.kind.name(),
                encoded,
                encode_writes(writes),
                path.map(|p| p.to_string_lossy().into_owned()),
                ChunkSet::empty(chunks).to_bytes(),
                receipt.as_slice(),
                state.name(),
                now_ms() as i64,
            ],
        )?;
        Ok(added == 1)
    }

    /// The transfer of the file with this id, in any conversation.
    pub fn file(&self, id: &MessageId) -> Result<Option<FileRow>, StoreError> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM files f WHERE f.id = ?1");
        self.conn()
            .query_row(&sql, [id.as_slice()], raw)
            .optional()?
            .map(file_row)
            .transpose()
    }

    /// Uploads that have not finished, oldest first.
    pub fn unfinished_uploads(&self) -> Result<Vec<FileRow>, StoreError> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files f WHERE f.state = 'uploading' ORDER BY f.number"
        );
        let mut statement = self.conn().prepare(&sql)?;
        let rows: Vec<RawFile> = statement.query_map([], raw)?.collect::<Result<_, _>>()?;
        rows.into_iter().map(file_row).collect()
    }

    /// Every file, oldest first.
    pub fn file_summaries(&self) -> Result<Vec<FileSummary>, StoreError> {
        let mut statement = self.conn().prepare(
            "SELECT f.id, c.alias, f.outgoing, f.name, f.size, f.kind, f.state, f.done, f.path, \
             f.offer \
             FROM files f JOIN conversations c ON c.number = f.conversation ORDER BY f.number",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, bool>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, Vec<u8>>(7)?,
                row.get::<_, Option<String>>(8)?,
                row.get::<_, Vec<u8>>(9)?,
            ))
        })?;
        rows.map(|row| {
            let (id, alias, outgoing, name, size, kind, state, done, path, offer) = row?;
            let size = size as u64;
            let chunks = sotto_proto::file_offer::chunk_count(size) as u32;
            let done =
                ChunkSet::from_bytes(chunks, done).ok_or(StoreError::Damaged("file progress"))?;
            Ok(FileSummary {
                id: super::rows::array(id, "file id")?,
                alias,
                outgoing,
                name,
                size,
                kind: kind_of(&kind),
                state: FileState::from_name(&state).ok_or(StoreError::Damaged("file state"))?,
                chunks_done: done.done(),
                chunks,
                path: path.map(PathBuf::from),
                media: media_of(&offer),
            })
        })
        .collect()
    }

    pub fn set_file_progress(&self, number: i64, done: &ChunkSet) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE files SET done = ?2 WHERE number = ?1",
            params![number, done.to_bytes()],
        )?;
        Ok(())
    }

    pub fn set_file_state(
        &self,
        number: i64,
        state: FileState,
        path: Option<&std::path::Path>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE files SET state = ?2, path = COALESCE(?3, path) WHERE number = ?1",
            params![
                number,
                state.name(),
                path.map(|p| p.to_string_lossy().into_owned())
            ],
        )?;
        Ok(())
    }
}
