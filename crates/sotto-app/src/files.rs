//! Files: sending (`sotto send --file`, the API's `send_file`), fetching (`sotto download`,
//! `download`) and listing (`sotto files`, `files`), the same for one-shot commands, which
//! draw a progress bar, and for the device's loop, which tells front ends as events.

use std::path::{Path, PathBuf};

use sotto_client::store::{DownloadSettings, FileSummary};
use sotto_client::{AutoDownloaded, Device, FileToSend};
use sotto_proto::conversation::MessageId;
use sotto_proto::file_offer::FileKind;

use crate::error::AppError;
use crate::execute::{known, MIN_ID_PREFIX};
use crate::App;

/// How a file is shown, from its name: an image or a voice message by its extension, any
/// other file otherwise. Images and voice messages the device can read get a preview in their
/// offer (a thumbnail, a waveform).
pub(crate) fn kind_of(path: &Path) -> FileKind {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("png" | "jpg" | "jpeg" | "gif" | "webp" | "heic") => FileKind::Image,
        Some("ogg" | "opus" | "m4a" | "mp3" | "aac" | "wav") => FileKind::Voice,
        _ => FileKind::File,
    }
}

/// Where a long-lived front end keeps files fetched without a path when it is not told: the
/// Downloads directory's `sotto` (`$XDG_DOWNLOAD_DIR/sotto`, else `~/Downloads/sotto`), if
/// the environment says where that is.
pub fn default_files_dir() -> Option<PathBuf> {
    let downloads = std::env::var_os("XDG_DOWNLOAD_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join("Downloads")))?;
    Some(downloads.join("sotto"))
}

/// How many bytes of a file of `size` the chunks done stand for.
pub fn bytes_done(set: &sotto_client::files::ChunkSet, size: u64) -> u64 {
    let chunk = sotto_proto::file_offer::CHUNK_PLAINTEXT_LEN as u64;
    (u64::from(set.done()) * chunk).min(size)
}

/// Sends the file at `path` to `contact` as a file of `kind` (`None`: told by its name), with
/// `caption`, if it is at most `limit` bytes.
/// Uploads an earlier run left unfinished go first (their offers have not gone out); if one
/// of them was this very file to this contact, that was the send, and it is not sent twice.
/// Returns the other uploads finished, and the file's id. `progress` sees the new file's
/// transfer.
pub(crate) async fn send_file(
    device: &mut Device,
    contact: &str,
    path: &Path,
    kind: Option<FileKind>,
    caption: &str,
    limit: u64,
    progress: sotto_client::Progress<'_>,
) -> Result<(Vec<MessageId>, MessageId), AppError> {
    known(device.records(), contact)?;
    let resumed = device.resume_uploads(&mut |_, _| true).await?;
    let same = std::path::absolute(path).ok();
    let earlier = device
        .records()
        .files()?
        .into_iter()
        .find(|file| resumed.contains(&file.id) && file.alias == contact && file.path == same);
    if let Some(earlier) = earlier {
        let others = resumed.into_iter().filter(|id| *id != earlier.id).collect();
        return Ok((others, earlier.id));
    }
    let file = FileToSend {
        path,
        kind: kind.unwrap_or_else(|| kind_of(path)),
        caption,
        limit,
    };
    let id = device.send_file(contact, file, progress).await?;
    Ok((resumed, id))
}

/// Fetches the file whose id starts with `prefix` into `out`; again after a stop, it goes on
/// where it stopped.
pub(crate) async fn download(
    device: &mut Device,
    prefix: &str,
    out: &Path,
    progress: sotto_client::Progress<'_>,
) -> Result<PathBuf, AppError> {
    let id = file(device, prefix)?.id;
    Ok(device.download(&id, out, progress).await?)
}

/// The offered file whose id starts with `prefix`, and where to fetch it: `out` if given, else
/// `files_dir/<its id's first 8 hex digits>/<its name>` (the name as a file name only: it
/// came from the network).
pub(crate) fn destination(
    device: &Device,
    prefix: &str,
    out: Option<PathBuf>,
    files_dir: Option<&Path>,
) -> Result<(FileSummary, PathBuf), AppError> {
    let file = file(device, prefix)?;
    let out = match (out, files_dir) {
        (Some(out), _) => out,
        (None, Some(dir)) => {
            let folder = dir.join(&hex::encode(file.id)[..MIN_ID_PREFIX]);
            std::fs::create_dir_all(&folder).map_err(|source| AppError::FilesDir {
                path: folder.clone(),
                source,
            })?;
            folder.join(local_name(&file.name))
        }
        (None, None) => return Err(AppError::NoFilesDir),
    };
    Ok((file, out))
}

/// A name from the network as a file name in a directory of ours: its last part, never a
/// way up or out.
pub fn local_name(name: &str) -> PathBuf {
    Path::new(name)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("file"))
}

/// The file whose id starts with `prefix` (at least 8 hex digits).
pub(crate) fn file(device: &Device, prefix: &str) -> Result<FileSummary, AppError> {
    let prefix = prefix.to_ascii_lowercase();
    if prefix.len() < MIN_ID_PREFIX {
        return Err(AppError::ShortMessageId);
    }
    let mut matches: Vec<FileSummary> = device
        .records()
        .files()?
        .into_iter()
        .filter(|file| hex::encode(file.id).starts_with(&prefix))
        .collect();
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => Err(AppError::NoSuchFile(prefix)),
        _ => Err(AppError::AmbiguousMessageId { prefix }),
    }
}

impl App {
    /// See [`send_file`]; for one-shot commands.
    pub async fn send_file(
        &mut self,
        contact: &str,
        path: &Path,
        kind: Option<FileKind>,
        caption: &str,
        limit: u64,
        progress: sotto_client::Progress<'_>,
    ) -> Result<(Vec<MessageId>, MessageId), AppError> {
        send_file(
            &mut self.device,
            contact,
            path,
            kind,
            caption,
            limit,
            progress,
        )
        .await
    }

    /// See [`download`]; catches up first, so an offer that just came is known.
    pub async fn download(
        &mut self,
        prefix: &str,
        out: &Path,
        progress: sotto_client::Progress<'_>,
    ) -> Result<PathBuf, AppError> {
        self.catch_up().await?;
        download(&mut self.device, prefix, out, progress).await
    }

    /// Every file sent or offered, oldest first.
    pub fn files(&self) -> Result<Vec<FileSummary>, AppError> {
        Ok(self.device.records().files()?)
    }

    /// The file whose id starts with `prefix`.
    pub fn file(&self, prefix: &str) -> Result<FileSummary, AppError> {
        file(&self.device, prefix)
    }

    /// Takes back the file this device sent whose id starts with `prefix`: its chunks are
    /// deleted at their hosts. Returns it as it was.
    pub async fn cancel_file(&mut self, prefix: &str) -> Result<FileSummary, AppError> {
        let file = file(&self.device, prefix)?;
        self.device.cancel_file(&file.id).await?;
        Ok(file)
    }

    /// Which files are fetched without being asked, and where to.
    pub fn download_settings(&self) -> Result<DownloadSettings, AppError> {
        Ok(self.device.records().download_settings()?)
    }

    pub fn set_download_settings(&mut self, settings: &DownloadSettings) -> Result<(), AppError> {
        Ok(self.device.set_download_settings(settings)?)
    }

    /// Fetches what was offered and the settings allow (as the device's loop does when offers
    /// arrive); for one-shot commands that read messages.
    pub async fn auto_download(&mut self) -> Result<Vec<AutoDownloaded>, AppError> {
        Ok(self.device.auto_download().await?)
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

    #[test]
    fn a_name_from_the_network_stays_a_file_name() {
        for (name, kept) in [
            ("../../.bashrc", ".bashrc"),
            ("/etc/passwd", "passwd"),
            ("..", "file"),
            ("", "file"),
            ("a b.png", "a b.png"),
        ] {
            assert_eq!(local_name(name), PathBuf::from(kept), "{name}");
        }
    }
}
