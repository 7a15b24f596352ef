//! Files for one-shot commands, which show a transfer's progress as it goes (`sotto send
//! --file`, `sotto download`, `sotto files`).

use std::path::{Path, PathBuf};

use sotto_client::files::ChunkSet;
use sotto_client::store::FileSummary;
use sotto_client::FileToSend;
use sotto_proto::conversation::MessageId;
use sotto_proto::file_offer::FileKind;

use crate::error::AppError;
use crate::execute::MIN_ID_PREFIX;
use crate::App;

/// How a file is shown, from its name: an image or a voice message by its extension, any
/// other file otherwise. (Thumbnails and durations in the offer are still to come.)
fn kind_of(path: &Path) -> FileKind {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("png" | "jpg" | "jpeg" | "gif" | "webp" | "heic") => FileKind::Image,
        Some("ogg" | "opus" | "m4a" | "mp3" | "aac" | "wav") => FileKind::Voice,
        _ => FileKind::File,
    }
}

impl App {
    /// Sends the file at `path` to `contact`, with `caption`, if it is at most `limit` bytes.
    /// Uploads an earlier run left unfinished go first (their offers have not gone out); if
    /// one of them was this very file to this contact, that was the send, and it is not sent
    /// twice. `progress` sees the new file's transfer.
    pub async fn send_file(
        &mut self,
        contact: &str,
        path: &Path,
        caption: &str,
        limit: u64,
        progress: &mut dyn FnMut(&ChunkSet) -> bool,
    ) -> Result<(Vec<MessageId>, MessageId), AppError> {
        self.check_contact(contact)?;
        let resumed = self.device.resume_uploads(&mut |_| true).await?;
        let same = std::path::absolute(path).ok();
        let earlier = self
            .files()?
            .into_iter()
            .find(|file| resumed.contains(&file.id) && file.alias == contact && file.path == same);
        if let Some(earlier) = earlier {
            let others = resumed.into_iter().filter(|id| *id != earlier.id).collect();
            return Ok((others, earlier.id));
        }
        let file = FileToSend {
            path,
            kind: kind_of(path),
            caption,
            limit,
        };
        let id = self.device.send_file(contact, file, progress).await?;
        Ok((resumed, id))
    }

    /// Fetches the file whose id starts with `prefix` into `out`; again after a stop, it goes
    /// on where it stopped.
    pub async fn download(
        &mut self,
        prefix: &str,
        out: &Path,
        progress: &mut dyn FnMut(&ChunkSet) -> bool,
    ) -> Result<PathBuf, AppError> {
        let id = self.file_id(prefix)?;
        self.catch_up().await?;
        Ok(self.device.download(&id, out, progress).await?)
    }

    /// Every file sent or offered, oldest first.
    pub fn files(&self) -> Result<Vec<FileSummary>, AppError> {
        Ok(self.device.records().files()?)
    }

    /// The size and name of the file whose id starts with `prefix`.
    pub fn file(&self, prefix: &str) -> Result<FileSummary, AppError> {
        let id = self.file_id(prefix)?;
        self.files()?
            .into_iter()
            .find(|file| file.id == id)
            .ok_or_else(|| AppError::NoSuchFile(prefix.to_string()))
    }

    fn file_id(&self, prefix: &str) -> Result<MessageId, AppError> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < MIN_ID_PREFIX {
            return Err(AppError::ShortMessageId);
        }
        let matches: Vec<MessageId> = self
            .files()?
            .into_iter()
            .map(|file| file.id)
            .filter(|id| hex::encode(id).starts_with(&prefix))
            .collect();
        match matches.as_slice() {
            [id] => Ok(*id),
            [] => Err(AppError::NoSuchFile(prefix)),
            _ => Err(AppError::AmbiguousMessageId { prefix }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_voice_are_told_by_their_extension() {
        assert_eq!(kind_of(Path::new("/a/photo.JPG")), FileKind::Image);
        assert_eq!(kind_of(Path::new("note.opus")), FileKind::Voice);
        assert_eq!(kind_of(Path::new("report.pdf")), FileKind::File);
        assert_eq!(kind_of(Path::new("README")), FileKind::File);
    }
}
