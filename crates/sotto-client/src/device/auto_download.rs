//! Images and voice messages fetched as their offers arrive, when they are no larger than the
//! person set and the person named a folder for them; others wait for `download`.

use std::path::{Path, PathBuf};

use sotto_proto::conversation::MessageId;
use sotto_proto::file_offer::FileKind;

use super::{Device, Network};
use crate::conversation::ConversationError;
use crate::files::FileError;
use crate::store::{DownloadSettings, FileState, FileSummary};

/// What came of one automatic download.
pub type AutoDownloaded = (MessageId, Result<PathBuf, ConversationError>);

impl<N: Network> Device<N> {
    pub fn set_download_settings(
        &mut self,
        settings: &DownloadSettings,
    ) -> Result<(), ConversationError> {
        Ok(self.store.set_download_settings(settings)?)
    }

    /// Fetches every image and voice message offered to this device and not fetched yet that
    /// the settings allow, each into the download folder under its own name (made unique and
    /// harmless). Each is tried once: a download that fails is left where it stopped for
    /// `download` to go on with.
    pub async fn auto_download(&mut self) -> Result<Vec<AutoDownloaded>, ConversationError> {
        let settings = self.store.download_settings()?;
        let Some(dir) = settings.download_dir else {
            return Ok(Vec::new());
        };
        let wanted: Vec<FileSummary> = self
            .store
            .file_summaries()?
            .into_iter()
            .filter(|file| wanted(file, settings.auto_download_max))
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        std::fs::create_dir_all(&dir).map_err(|source| {
            ConversationError::File(Box::new(FileError::Write {
                path: dir.clone(),
                source,
            }))
        })?;
        let mut done = Vec::with_capacity(wanted.len());
        for file in wanted {
            let out = free_path(&dir, &file.name, &file.id);
            let result = self.download(&file.id, &out, &mut |_, _| true).await;
            done.push((file.id, result));
        }
        Ok(done)
    }
}

fn wanted(file: &FileSummary, max: u64) -> bool {
    !file.outgoing
        && file.state == FileState::Offered
        && file.kind != FileKind::File
        && file.size <= max
}

/// A path in `dir` for a file its sender named `name`: its last component only, never hidden
/// or special, and one nothing is at yet (the id's first digits tell two of one name apart).
fn free_path(dir: &Path, name: &str, id: &MessageId) -> PathBuf {
    let short = hex::encode(&id[..4]);
    let clean: String = Path::new(name)
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_control() || c == '\\' { '_' } else { c })
        .collect();
    let clean = clean.trim_start_matches('.');
    let name = if clean.is_empty() {
        format!("file-{short}")
    } else {
        clean.to_string()
    };
    let taken = |path: &Path| path.exists() || super::files::part_path(path).exists();
    let plain = dir.join(&name);
    if !taken(&plain) {
        return plain;
    }
    dir.join(format!("{short}-{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_senders_name_cannot_leave_the_folder_or_hide() {
        let dir = Path::new("/nonexistent/downloads");
        let id = [0xab; 16];
        assert_eq!(free_path(dir, "cat.jpg", &id), dir.join("cat.jpg"));
        assert_eq!(free_path(dir, "../../.bashrc", &id), dir.join("bashrc"));
        assert_eq!(free_path(dir, "/etc/passwd", &id), dir.join("passwd"));
        assert_eq!(free_path(dir, "..", &id), dir.join("file-abababab"));
        assert_eq!(free_path(dir, "a\nb\\c", &id), dir.join("a_b_c"));
    }

    #[test]
    fn a_name_already_taken_gets_the_ids_digits() {
        let dir = std::env::temp_dir().join(format!("sotto-free-path-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cat.jpg"), b"x").unwrap();
        let path = free_path(&dir, "cat.jpg", &[0x12; 16]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(path, dir.join("12121212-cat.jpg"));
    }
}
