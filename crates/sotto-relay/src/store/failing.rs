//! A store whose commits fail on demand, for the tests of what the host does when its disk
//! fills up or fails.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use super::{MemoryStore, Removed, Store, StoreError, Table, Txn};

/// How the store's commits behave; shared with the test that drives it.
#[derive(Clone, Default)]
pub(crate) struct Failure(Arc<AtomicU8>);

impl Failure {
    pub const NONE: u8 = 0;
    /// Commits fail as on a full disk; reopening works.
    pub const NO_SPACE: u8 = 1;
    /// Commits fail and the store cannot be reopened.
    pub const BROKEN: u8 = 2;

    pub fn set(&self, mode: u8) {
        self.0.store(mode, Ordering::SeqCst);
    }

    fn mode(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
}

pub(crate) struct FailingStore {
    inner: MemoryStore,
    failure: Failure,
}

impl FailingStore {
    pub fn new(failure: Failure) -> Self {
        Self {
            inner: MemoryStore::new(),
            failure,
        }
    }
}

impl Store for FailingStore {
    fn begin(&mut self) -> Result<Box<dyn Txn + '_>, StoreError> {
        let failure = self.failure.clone();
        Ok(Box::new(FailingTxn {
            inner: self.inner.begin()?,
            failure,
        }))
    }

    fn recover(&mut self) -> Result<(), StoreError> {
        match self.failure.mode() {
            Failure::BROKEN => Err(StoreError::Backend("the disk is gone".into())),
            _ => Ok(()),
        }
    }
}

struct FailingTxn<'a> {
    inner: Box<dyn Txn + 'a>,
    failure: Failure,
}

impl Txn for FailingTxn<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(table, key)
    }

    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.inner.put(table, key, value)
    }

    fn remove(&mut self, table: Table, key: &[u8]) -> Result<Removed, StoreError> {
        self.inner.remove(table, key)
    }

    fn scan(
        &self,
        table: Table,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.inner.scan(table, start, end, visit)
    }

    fn remove_range(
        &mut self,
        table: Table,
        start: &[u8],
        end: &[u8],
    ) -> Result<Removed, StoreError> {
        self.inner.remove_range(table, start, end)
    }

    fn count(&self, table: Table) -> Result<u64, StoreError> {
        self.inner.count(table)
    }

    fn stored_bytes(&self, table: Table) -> Result<u64, StoreError> {
        self.inner.stored_bytes(table)
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        match self.failure.mode() {
            // Dropping the inner transaction undoes it, as a failed commit leaves the store.
            Failure::NO_SPACE => Err(StoreError::NoSpace("no space left on device".into())),
            Failure::BROKEN => Err(StoreError::Backend("input/output error".into())),
            _ => self.inner.commit(),
        }
    }
}
