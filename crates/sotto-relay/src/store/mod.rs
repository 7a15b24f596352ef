//! Storage behind the mailbox host: an ordered key-value store with a few named tables and
//! transactions. The host encodes its own records, so a backend only has to keep bytes in key
//! order; that keeps a PostgreSQL backend (one `bytea` table per [`Table`]) a small addition.

mod memory;
mod redb_store;

pub use memory::MemoryStore;
pub use redb_store::RedbStore;

use thiserror::Error;

/// The tables the host keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// mailbox id -> mailbox record
    Mailboxes,
    /// capability id (write or read id) -> mailbox id and role
    Capabilities,
    /// mailbox id ‖ seq (BE) -> written_at ‖ body
    Messages,
    /// timestamp (BE) ‖ principal ‖ nonce -> the encoded first response
    Nonces,
    /// link id -> link record
    Links,
    /// file id -> file record
    Files,
    /// file id ‖ chunk index (u32 BE) -> the stored chunk
    Chunks,
}

impl Table {
    pub const ALL: [Table; 7] = [
        Self::Mailboxes,
        Self::Capabilities,
        Self::Messages,
        Self::Nonces,
        Self::Links,
        Self::Files,
        Self::Chunks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Mailboxes => "mailboxes",
            Self::Capabilities => "capabilities",
            Self::Messages => "messages",
            Self::Nonces => "nonces",
            Self::Links => "links",
            Self::Files => "files",
            Self::Chunks => "chunks",
        }
    }
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("store operation failed: {0}")]
    Backend(String),
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt { what: &'static str, reason: String },
}

/// Key-value pairs read by a range scan.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A source of transactions.
pub trait Store: Send {
    fn begin(&mut self) -> Result<Box<dyn Txn + '_>, StoreError>;
}

impl<S: Store + ?Sized> Store for Box<S> {
    fn begin(&mut self) -> Result<Box<dyn Txn + '_>, StoreError> {
        (**self).begin()
    }
}

/// One transaction. Nothing is durable before `commit` returns; a transaction dropped without
/// `commit` leaves the store as it was.
pub trait Txn {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    fn remove(&mut self, table: Table, key: &[u8]) -> Result<(), StoreError>;
    /// Up to `limit` entries with `start <= key < end`, in key order.
    fn range(
        &self,
        table: Table,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Entries, StoreError>;
    /// Removes every entry with `start <= key < end`; returns how many there were.
    fn remove_range(&mut self, table: Table, start: &[u8], end: &[u8]) -> Result<u64, StoreError>;
    /// Number of entries in the table.
    fn count(&self, table: Table) -> Result<u64, StoreError>;
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

#[cfg(test)]
mod contract_tests;
