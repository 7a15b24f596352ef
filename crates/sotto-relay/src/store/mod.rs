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
    /// issuer key epoch (BE) ‖ voucher nonce -> nothing: vouchers spent here
    SpentVouchers,
    /// day (BE) ‖ device key -> vouchers issued to it that day, u32 BE (issuer role only)
    Allowances,
    /// file id -> file record
    Files,
    /// file id ‖ chunk index (u32 BE) -> the stored chunk
    Chunks,
}

impl Table {
    pub const ALL: [Table; 9] = [
        Self::Mailboxes,
        Self::Capabilities,
        Self::Messages,
        Self::Nonces,
        Self::Links,
        Self::SpentVouchers,
        Self::Allowances,
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
            Self::SpentVouchers => "spent_vouchers",
            Self::Allowances => "allowances",
            Self::Files => "files",
            Self::Chunks => "chunks",
        }
    }
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "cannot open the store at {path}: {reason}. If the file is damaged, restore it from a \
         backup, or move it aside to start with an empty store (its mailboxes are then lost)"
    )]
    Open { path: String, reason: String },
    #[error("store operation failed: {0}")]
    Backend(String),
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt { what: &'static str, reason: String },
    #[error("the disk holding the store is full: {0}")]
    NoSpace(String),
}

/// Key-value pairs read by a range scan.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// What a removal took away: entries, and the bytes of their keys and values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub entries: u64,
    pub bytes: u64,
}

impl Removed {
    pub(crate) fn of(key: &[u8], value: &[u8]) -> Self {
        Self {
            entries: 1,
            bytes: (key.len() + value.len()) as u64,
        }
    }

    pub(crate) fn add(&mut self, other: Removed) {
        self.entries += other.entries;
        self.bytes += other.bytes;
    }
}

/// A source of transactions.
pub trait Store: Send {
    fn begin(&mut self) -> Result<Box<dyn Txn + '_>, StoreError>;

    /// Makes the store usable again after an operation failed: redb refuses all work after an
    /// I/O error until it is reopened. An error means the store cannot be used at all.
    fn recover(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl<S: Store + ?Sized> Store for Box<S> {
    fn begin(&mut self) -> Result<Box<dyn Txn + '_>, StoreError> {
        (**self).begin()
    }

    fn recover(&mut self) -> Result<(), StoreError> {
        (**self).recover()
    }
}

/// One transaction. Nothing is durable before `commit` returns; a transaction dropped without
/// `commit` leaves the store as it was.
pub trait Txn {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    fn remove(&mut self, table: Table, key: &[u8]) -> Result<Removed, StoreError>;
    /// Shows `visit` the entries with `start <= key < end`, in key order, until it returns
    /// `false`. Only what `visit` keeps is copied, so a reader stops as soon as it has enough.
    fn scan(
        &self,
        table: Table,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError>;
    /// Up to `limit` entries with `start <= key < end`, in key order.
    fn range(
        &self,
        table: Table,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Entries, StoreError> {
        let mut out = Vec::new();
        if limit > 0 {
            self.scan(table, start, end, &mut |key, value| {
                out.push((key.to_vec(), value.to_vec()));
                out.len() < limit
            })?;
        }
        Ok(out)
    }
    /// Removes every entry with `start <= key < end`.
    fn remove_range(
        &mut self,
        table: Table,
        start: &[u8],
        end: &[u8],
    ) -> Result<Removed, StoreError>;
    /// Number of entries in the table.
    fn count(&self, table: Table) -> Result<u64, StoreError>;
    /// Bytes of the table's keys and values (not the backend's own overhead).
    fn stored_bytes(&self, table: Table) -> Result<u64, StoreError>;
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
pub(crate) mod failing;
