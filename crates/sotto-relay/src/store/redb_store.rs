//! The default, durable backend: one redb file in the relay's data directory. A commit returns
//! only after the data is on disk, which is what makes an answered write survive `kill -9`.

use std::path::Path;

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};

use super::{Entries, Store, StoreError, Table, Txn};

type Bytes = &'static [u8];

fn definition(table: Table) -> TableDefinition<'static, Bytes, Bytes> {
    TableDefinition::new(table.name())
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Opens (or creates) the store file and makes sure every table exists.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let txn = db.begin_write().map_err(backend)?;
        for table in Table::ALL {
            txn.open_table(definition(table)).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(Self { db })
    }
}

impl Store for RedbStore {
    fn begin(&mut self) -> Result<Box<dyn Txn + '_>, StoreError> {
        Ok(Box::new(RedbTxn {
            txn: self.db.begin_write().map_err(backend)?,
        }))
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
        table.insert(key, value).map_err(backend)?;
        Ok(())
    }

    fn remove(&mut self, table: Table, key: &[u8]) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(definition(table)).map_err(backend)?;
        table.remove(key).map_err(backend)?;
        Ok(())
    }

    fn range(
        &self,
        table: Table,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Entries, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let table = self.txn.open_table(definition(table)).map_err(backend)?;
        let mut out = Vec::new();
        for entry in table.range(start..end).map_err(backend)?.take(limit) {
            let (key, value) = entry.map_err(backend)?;
            out.push((key.value().to_vec(), value.value().to_vec()));
        }
        Ok(out)
    }

    fn remove_range(&mut self, table: Table, start: &[u8], end: &[u8]) -> Result<u64, StoreError> {
        if start >= end {
            return Ok(0);
        }
        let mut table = self.txn.open_table(definition(table)).map_err(backend)?;
        let mut removed = 0;
        table
            .retain_in(start..end, |_, _| {
                removed += 1;
                false
            })
            .map_err(backend)?;
        Ok(removed)
    }

    fn count(&self, table: Table) -> Result<u64, StoreError> {
        let table = self.txn.open_table(definition(table)).map_err(backend)?;
        table.len().map_err(backend)
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.txn.commit().map_err(backend)
    }
}
