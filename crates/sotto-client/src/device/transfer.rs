//! A file transfer apart from the device that started it: the chunks' way between a file on
//! disk and its hosts needs the hosts' clients and the file's key, not the store or MLS. So a
//! long-lived loop runs it in a task of its own while the device goes on with messages, and
//! takes back its checkpoints to store; a one-shot command runs it in place.

use std::path::PathBuf;

use sotto_proto::conversation::MessageId;

use super::files::file_error;
use super::Progress;
use crate::conversation::ConversationError;
use crate::files::{self, ChunkSet, FileError, FileKey, FileRead, FileWrite, Share};
use crate::transport::Transport;

/// Which way the chunks go.
pub(super) enum Way<T> {
    Up {
        shares: Vec<Share<T, FileWrite>>,
        source: PathBuf,
    },
    Down {
        shares: Vec<Share<T, FileRead>>,
        /// Where the chunks are written until the file is whole and checked.
        part: PathBuf,
        out: PathBuf,
        digest: [u8; 32],
    },
}

/// One file's transfer, ready to run (see [`Device::start_upload`](super::Device::start_upload)
/// and [`Device::start_download`](super::Device::start_download)).
pub struct Transfer<T> {
    pub(super) id: MessageId,
    /// The file's row in the store.
    pub(super) number: i64,
    pub(super) size: u64,
    pub(super) key: FileKey,
    pub(super) done: ChunkSet,
    pub(super) way: Way<T>,
}

/// What a transfer that ran to its end did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Every chunk is at its host: the offer can go out
    /// ([`Device::finish_upload`](super::Device::finish_upload)).
    Uploaded,
    /// The file is whole, checked and at this path
    /// ([`Device::finish_download`](super::Device::finish_download)).
    Downloaded(PathBuf),
}

impl<T: Transport> Transfer<T> {
    /// The file's id (also its message's).
    pub fn id(&self) -> MessageId {
        self.id
    }

    /// Whether this device sends the file.
    pub fn outgoing(&self) -> bool {
        matches!(self.way, Way::Up { .. })
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Moves the chunks; `progress` is told the chunks done at each checkpoint (after what
    /// they claim is on disk or at the hosts) and is where they are stored for a resume.
    /// Returning `false` from it stops the transfer.
    pub async fn run(self, progress: Progress<'_>) -> Result<Finished, ConversationError> {
        let id = self.id;
        let mut checkpoint = |set: &ChunkSet| {
            if progress(&id, set) {
                Ok(())
            } else {
                Err(FileError::Interrupted)
            }
        };
        self.run_with(&mut checkpoint).await.map_err(file_error)
    }

    pub(super) async fn run_with(
        mut self,
        checkpoint: &mut (dyn FnMut(&ChunkSet) -> Result<(), FileError> + Send),
    ) -> Result<Finished, FileError> {
        match self.way {
            Way::Up { shares, source } => {
                files::upload(
                    &shares,
                    &self.key,
                    &source,
                    self.size,
                    &mut self.done,
                    checkpoint,
                )
                .await?;
                Ok(Finished::Uploaded)
            }
            Way::Down {
                shares,
                part,
                out,
                digest,
            } => {
                files::download(
                    &shares,
                    &self.key,
                    &part,
                    self.size,
                    &mut self.done,
                    checkpoint,
                )
                .await?;
                // A partial file that is not the file is removed, so the next start fetches
                // every chunk again (progress counts only with its partial file).
                if files::digest_of(&part)? != digest {
                    let _ = std::fs::remove_file(&part);
                    return Err(FileError::DigestMismatch);
                }
                std::fs::rename(&part, &out).map_err(|source| FileError::Write {
                    path: out.clone(),
                    source,
                })?;
                Ok(Finished::Downloaded(out))
            }
        }
    }
}
