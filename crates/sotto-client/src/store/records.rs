//! What a front end may read of a device's store: its own name, its contacts, their messages.
//! Never a key, a capability or MLS state: those stay with the device.

use super::{Store, StoreError, StoredMessage};

/// A read-only view of a store for front ends (see [`crate::Device::records`]).
#[derive(Clone, Copy)]
pub struct Records<'a>(&'a Store);

impl<'a> Records<'a> {
    pub fn of(store: &'a Store) -> Self {
        Self(store)
    }

    /// The display name this device gave itself, if it has a profile.
    pub fn name(&self) -> Result<Option<String>, StoreError> {
        Ok(self.0.profile()?.map(|profile| profile.name))
    }

    pub fn has_contact(&self, alias: &str) -> Result<bool, StoreError> {
        Ok(self.0.conversation(alias)?.is_some())
    }

    /// Which files the device fetches by itself, and where to.
    pub fn download_settings(&self) -> Result<super::DownloadSettings, StoreError> {
        self.0.download_settings()
    }

    /// Every message of a conversation, oldest first.
    pub fn messages(&self, alias: &str) -> Result<Vec<StoredMessage>, StoreError> {
        self.0.messages(alias)
    }

    /// Incoming messages not shown yet, oldest first, for one conversation or all; marks them
    /// shown.
    pub fn take_unshown(&self, alias: Option<&str>) -> Result<Vec<StoredMessage>, StoreError> {
        self.0.take_unshown(alias)
    }

    /// Every file sent or offered, with how far its transfer got.
    pub fn files(&self) -> Result<Vec<super::FileSummary>, StoreError> {
        self.0.file_summaries()
    }

    /// Links this device made that nobody answered yet.
    pub fn pending_links(&self) -> Result<usize, StoreError> {
        Ok(self.0.invitations()?.len())
    }
}
