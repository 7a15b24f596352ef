//! The default, durable backend: one redb file in the relay's data directory. A commit returns
//! only after the data is on disk, which is what makes an answered write survive `kill -9`.

use std::path::{Path, PathBuf};

use redb::{
    CommitError, Database, ReadableTable, ReadableTableMetadata, StorageError, TableDefinition,
    WriteTransaction,
};

use super::{Removed, Store, StoreError, Table, Txn};

type Bytes = &'static [u8];

fn definition(table: Table) -> TableDefinition<'static, Bytes, Bytes> {
    TableDefinition::new(table.name())
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

fn commit_failed(error: CommitError) -> StoreError {
    #[allow(unreachable_patterns)] // CommitError may grow variants
    match error {
        CommitError::Storage(error) => storage(error),
        other => backend(other),
    }
}

/// A failed write or commit: a full disk is told apart, the host answers it FULL.
fn storage(error: StorageError) -> StoreError {
    match error {
        StorageError::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
            StoreError::NoSpace(io.to_string())
        }
        other => backend(other),
    }
}

pub struct RedbStore {
    path: PathBuf,
    /// `None` only while [`recover`](Store::recover) reopens it.
    db: Option<Database>,
}

impl RedbStore {
    /// Opens (or creates) the store file, owner-only, and makes sure every table exists.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let failed = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        // Before redb creates it with the umask's mode: what mailboxes exist is the host's to
        // know, not other users' of the machine.
        sotto_quic::restrict_to_owner(path).map_err(|e| failed(e.to_string()))?;
        // redb asserts, rather than returns an error, when a file is shorter than its header
        // says (a truncated copy): that must stop the relay with the message below too.
        let db = std::panic::catch_unwind(|| Database::create(path))
            .map_err(|_| failed("the file is shorter than its header says: truncated".into()))?
            .map_err(|e| failed(e.to_string()))?;
        let txn = db.begin_write().map_err(backend)?;
        for table in Table::ALL {
            txn.open_table(definition(table)).map_err(backend)?;
        }
        txn.commit().map_err(commit_failed)?;
        Ok(Self {
            path: path.to_path_buf(),
            db: Some(db),
        })
    }
}

impl Store for RedbStore {
    fn begin(&mut self) -> Result<Box<dyn Txn + '_>, StoreError> {
        let db = self.db.as_ref().ok_or(StoreError::Backend(
            "the store could not be reopened".into(),
        ))?;
        Ok(Box::new(RedbTxn {
            txn: db.begin_write().map_err(backend)?,
        }))
    }

    /// Reopens the file, which repairs it from its last commit: what was acknowledged stays.
    fn recover(&mut self) -> Result<(), StoreError> {
        // redb allows one `Database` per file, so the old one goes first.
        self.db = None;
        *self = Self::open(&self.path.clone())?;
        Ok(())
    }
}

struct RedbTxn {
    txn: WriteTransaction,
}

impl Txn for RedbTxn {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let table = self.txn.open_table(definition(table)).map_err(backend)?;
        let value = table.get(key).map_err(backend)?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(definition(table)).map_err(backend)?;
        table.insert(key, value).map_err(storage)?;
        Ok(())
    }

    fn remove(&mut self, table: Table, key: &[u8]) -> Result<Removed, StoreError> {
        let mut table = self.txn.open_table(definition(table)).map_err(backend)?;
        let old = table.remove(key).map_err(backend)?;
        Ok(old.map_or_else(Removed::default, |value| Removed::of(key, value.value())))
    }

    fn scan(
        &self,
        table: Table,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        if start >= end {
            return Ok(());
        }
        let table = self.txn.open_table(definition(table)).map_err(backend)?;
        for entry in table.range(start..end).map_err(backend)? {
            let (key, value) = entry.map_err(backend)?;
            if !visit(key.value(), value.value()) {
                break;
            }
        }
        Ok(())
    }

    fn remove_range(
        &mut self,
        table: Table,
        start: &[u8],
        end: &[u8],
    ) -> Result<Removed, StoreError> {
        let mut removed = Removed::default();
        if start >= end {
            return Ok(removed);
        }
        let mut table = self.txn.open_table(definition(table)).map_err(backend)?;
        table
            .retain_in(start..end, |key, value| {
                removed.add(Removed::of(key, value));
                false
            })
            .map_err(backend)?;
        Ok(removed)
    }

    fn count(&self, table: Table) -> Result<u64, StoreError> {
        let table = self.txn.open_table(definition(table)).map_err(backend)?;
        table.len().map_err(backend)
    }

    fn stored_bytes(&self, table: Table) -> Result<u64, StoreError> {
        let table = self.txn.open_table(definition(table)).map_err(backend)?;
        Ok(table.stats().map_err(backend)?.stored_bytes())
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.txn.commit().map_err(commit_failed)
    }
}
