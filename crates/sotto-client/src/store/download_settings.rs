//! Which files the device fetches by itself as their offers arrive (schema migration 13).

use std::path::PathBuf;

use rusqlite::params;

use super::{Store, StoreError};

/// Images and voice messages up to this size are fetched without asking: 8 MiB.
pub const DEFAULT_AUTO_DOWNLOAD_MAX: u64 = 8 << 20;

/// What the person set for automatic downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadSettings {
    /// Images and voice messages of at most this many bytes are fetched as they are offered
    /// (0: none); larger ones, and other files, wait for `sotto download`.
    pub auto_download_max: u64,
    /// Where they go; `None`: nowhere, so nothing is fetched unasked.
    pub download_dir: Option<PathBuf>,
}

impl Store {
    pub fn download_settings(&self) -> Result<DownloadSettings, StoreError> {
        let (max, dir) = self.conn().query_row(
            "SELECT auto_download_max, download_dir FROM profile WHERE only = 1",
            [],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?)),
        )?;
        Ok(DownloadSettings {
            auto_download_max: u64::try_from(max)
                .map_err(|_| StoreError::Damaged("auto-download size"))?,
            download_dir: dir.map(PathBuf::from),
        })
    }

    pub fn set_download_settings(&self, settings: &DownloadSettings) -> Result<(), StoreError> {
        let max = i64::try_from(settings.auto_download_max)
            .map_err(|_| StoreError::Damaged("auto-download size"))?;
        self.conn().execute(
            "UPDATE profile SET auto_download_max = ?1, download_dir = ?2 WHERE only = 1",
            params![
                max,
                settings
                    .download_dir
                    .as_ref()
                    .map(|dir| dir.to_string_lossy().into_owned())
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_start_off_and_keep_what_is_set() {
        let store = Store::open_in_memory().unwrap();
        store.create_profile("Alice").unwrap();
        let settings = store.download_settings().unwrap();
        assert_eq!(settings.auto_download_max, DEFAULT_AUTO_DOWNLOAD_MAX);
        assert_eq!(settings.download_dir, None);
        let set = DownloadSettings {
            auto_download_max: 1000,
            download_dir: Some("/tmp/x".into()),
        };
        store.set_download_settings(&set).unwrap();
        assert_eq!(store.download_settings().unwrap(), set);
    }
}
