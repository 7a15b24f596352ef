//! What the host stores, and the keys it stores it under.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sotto_proto::{Id, MailboxKind, Message};

use crate::store::{StoreError, Table, Txn};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReaderRecord {
    pub read_id: [u8; Id::LEN],
    pub key: [u8; 32],
    /// Highest sequence number this reader acknowledged.
    pub cursor: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MailboxRecord {
    pub kind: u8,
    pub ttl_secs: u32,
    pub quota: u16,
    pub write_id: [u8; Id::LEN],
    pub writer_key: [u8; 32],
    pub readers: Vec<ReaderRecord>,
    /// Sequence number the next write gets; the first write gets 1.
    pub next_seq: u64,
    /// Lowest sequence number that may still be stored.
    pub first_seq: u64,
    pub last_active: u64,
    /// A one-time request mailbox is closed to writers after its write.
    pub closed: bool,
}

impl MailboxRecord {
    /// Decodes a stored record and checks what the host's arithmetic relies on.
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            what: "mailbox",
            reason,
        };
        let record: Self = postcard::from_bytes(bytes).map_err(|e| corrupt(e.to_string()))?;
        if record.next_seq == 0 || record.first_seq == 0 || record.first_seq > record.next_seq {
            return Err(corrupt(format!(
                "sequence numbers out of order (first {}, next {})",
                record.first_seq, record.next_seq
            )));
        }
        Ok(record)
    }

    pub fn kind(&self) -> MailboxKind {
        MailboxKind::from_code(self.kind).unwrap_or(MailboxKind::Conversation)
    }

    pub fn last_seq(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }

    pub fn reader(&self, read_id: &Id) -> Option<&ReaderRecord> {
        self.readers
            .iter()
            .find(|r| &r.read_id == read_id.as_bytes())
    }

    pub fn reader_mut(&mut self, read_id: &Id) -> Option<&mut ReaderRecord> {
        self.readers
            .iter_mut()
            .find(|r| &r.read_id == read_id.as_bytes())
    }

    /// The cursor every reader has passed: messages up to it are acknowledged by all.
    pub fn min_cursor(&self) -> u64 {
        self.readers
            .iter()
            .map(|r| r.cursor)
            .min()
            .unwrap_or(self.last_seq())
    }

    /// Most messages any one reader has waiting.
    pub fn max_unacknowledged(&self) -> u64 {
        let floor = self.first_seq.saturating_sub(1);
        self.readers
            .iter()
            .map(|r| self.last_seq() - r.cursor.max(floor).min(self.last_seq()))
            .max()
            .unwrap_or(0)
    }

    pub fn is_expired(&self, now: u64) -> bool {
        self.last_active + u64::from(self.ttl_secs) <= now
    }

    pub fn message_expired(&self, written_at: u64, now: u64) -> bool {
        written_at + u64::from(self.ttl_secs) <= now
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Role {
    Writer,
    Reader,
    /// The uploader of a file (its chunks), looked up in `Table::Files`.
    FileWriter,
    /// The recipients of a file, all with one key.
    FileReader,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CapabilityRecord {
    pub mailbox: [u8; Id::LEN],
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LinkRecord {
    pub owner_key: [u8; 32],
    pub expires_at: u64,
    pub data: Vec<u8>,
}

/// A file's chunks for several recipients: the host deletes it when `recipients` distinct
/// receipts came, or at `expires_at`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FileRecord {
    pub expires_at: u64,
    pub chunks: u32,
    pub recipients: u16,
    pub write_id: [u8; Id::LEN],
    pub writer_key: [u8; 32],
    pub read_id: [u8; Id::LEN],
    pub reader_key: [u8; 32],
    /// The distinct `file_done` receipts so far.
    pub receipts: Vec<[u8; 16]>,
}

pub(crate) fn chunk_key(file: &[u8; Id::LEN], index: u32) -> [u8; Id::LEN + 4] {
    let mut key = [0u8; Id::LEN + 4];
    key[..Id::LEN].copy_from_slice(file);
    key[Id::LEN..].copy_from_slice(&index.to_be_bytes());
    key
}

pub(crate) fn verifying_key(bytes: &[u8; 32]) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(bytes).ok()
}

pub(crate) fn message_key(mailbox: &[u8; Id::LEN], seq: u64) -> [u8; Id::LEN + 8] {
    let mut key = [0u8; Id::LEN + 8];
    key[..Id::LEN].copy_from_slice(mailbox);
    key[Id::LEN..].copy_from_slice(&seq.to_be_bytes());
    key
}

pub(crate) fn encode_message(written_at: u64, body: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(8 + body.len());
    value.extend_from_slice(&written_at.to_be_bytes());
    value.extend_from_slice(body);
    value
}

/// Decodes a stored message from its key and value.
pub(crate) fn decode_message(key: &[u8], value: &[u8]) -> Result<Message, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        what: "message",
        reason: reason.to_string(),
    };
    let seq = key
        .get(Id::LEN..)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .ok_or_else(|| corrupt("key is not mailbox id and sequence number"))?;
    let (time, body) = value
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt("value is shorter than its timestamp"))?;
    Ok(Message {
        seq: u64::from_be_bytes(seq),
        written_at: u64::from_be_bytes(*time),
        body: body.to_vec(),
    })
}

/// Typed access to records through a transaction.
pub(crate) fn load<T: for<'de> Deserialize<'de>>(
    txn: &dyn Txn,
    table: Table,
    key: &[u8],
    what: &'static str,
) -> Result<Option<T>, StoreError> {
    txn.get(table, key)?
        .map(|bytes| decode(&bytes, what))
        .transpose()
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
        what,
        reason: e.to_string(),
    })
}

pub(crate) fn save<T: Serialize>(
    txn: &mut dyn Txn,
    table: Table,
    key: &[u8],
    record: &T,
) -> Result<(), StoreError> {
    let bytes = postcard::to_allocvec(record).map_err(|e| StoreError::Backend(e.to_string()))?;
    txn.put(table, key, &bytes)
}
