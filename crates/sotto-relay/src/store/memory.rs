//! The in-memory backend: for tests, benchmarks and relays that choose to keep nothing on disk.

use std::collections::{BTreeMap, HashMap};

use super::{Removed, Store, StoreError, Table, Txn};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Default)]
pub struct MemoryStore {
    tables: HashMap<Table, Map>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn begin(&mut self) -> Result<Box<dyn Txn + '_>, StoreError> {
        Ok(Box::new(MemoryTxn {
            store: self,
            undo: Vec::new(),
            committed: false,
        }))
    }
}

/// Writes go straight to the maps; an undo log restores them if the transaction is dropped.
struct MemoryTxn<'a> {
    store: &'a mut MemoryStore,
    undo: Vec<(Table, Vec<u8>, Option<Vec<u8>>)>,
    committed: bool,
}

impl MemoryTxn<'_> {
    fn table(&self, table: Table) -> Option<&Map> {
        self.store.tables.get(&table)
    }

    fn table_mut(&mut self, table: Table) -> &mut Map {
        self.store.tables.entry(table).or_default()
    }
}

impl Txn for MemoryTxn<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.table(table).and_then(|map| map.get(key)).cloned())
    }

    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let old = self.table_mut(table).insert(key.to_vec(), value.to_vec());
        self.undo.push((table, key.to_vec(), old));
        Ok(())
    }

    fn remove(&mut self, table: Table, key: &[u8]) -> Result<Removed, StoreError> {
        let Some(old) = self.table_mut(table).remove(key) else {
            return Ok(Removed::default());
        };
        let removed = Removed::of(key, &old);
        self.undo.push((table, key.to_vec(), Some(old)));
        Ok(removed)
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
        if let Some(map) = self.table(table) {
            for (key, value) in map.range(start.to_vec()..end.to_vec()) {
                if !visit(key, value) {
                    break;
                }
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
        let keys: Vec<Vec<u8>> = self
            .range(table, start, end, usize::MAX)?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let mut removed = Removed::default();
        for key in &keys {
            removed.add(self.remove(table, key)?);
        }
        Ok(removed)
    }

    fn count(&self, table: Table) -> Result<u64, StoreError> {
        Ok(self.table(table).map_or(0, |map| map.len() as u64))
    }

    fn stored_bytes(&self, table: Table) -> Result<u64, StoreError> {
        Ok(self.table(table).map_or(0, |map| {
            map.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum()
        }))
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.committed = true;
        Ok(())
    }
}

impl Drop for MemoryTxn<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        while let Some((table, key, old)) = self.undo.pop() {
            let map = self.table_mut(table);
            match old {
                Some(value) => map.insert(key, value),
                None => map.remove(&key),
            };
        }
    }
}
