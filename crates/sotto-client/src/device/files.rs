//! Sending and fetching files: the device's side of `crate::files`. A transfer's state lives
//! in the store from its first chunk on, so `send_file` after a crash is `resume_uploads`, and
//! `download` called again goes on where it stopped. Each is three steps, so that a long-lived
//! loop can run the middle one (the chunks' way, a [`Transfer`]) in a task of its own: start
//! (record it, reach its hosts), run, finish (the offer, or the receipts).

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rand::RngCore;
use sotto_proto::conversation::{Content, MessageId};
use sotto_proto::file_offer::{ChunkHost, FileKind, FileOffer};
use sotto_proto::Fingerprint;

use super::transfer::{Finished, Transfer, Way};
use super::{Device, Network};
use crate::conversation::{encoding, ConversationError};
use crate::files::{self, ChunkSet, FileError, FileKey, FileRead, Share};
use crate::store::{now_ms, FileRow, FileState};

/// The largest file a device sends unless told otherwise: 1 GiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;
/// Hosts a file's chunks are spread over (fewer when the network or the file is smaller).
const FILE_HOSTS: usize = 3;

/// Told how far the transfer of a file (by id) got, every few dozen chunks; returning `false`
/// stops it (it goes on from there when started again).
pub type Progress<'a> = &'a mut (dyn FnMut(&MessageId, &ChunkSet) -> bool + Send);

/// What to send.
pub struct FileToSend<'a> {
    pub path: &'a Path,
    pub kind: FileKind,
    pub caption: &'a str,
    /// The largest size accepted, in bytes.
    pub limit: u64,
}

pub(super) fn file_error(error: FileError) -> ConversationError {
    ConversationError::File(Box::new(error))
}

/// Chunks of share `share` of `shares` when the file has `chunks`.
fn share_len(chunks: u32, share: usize, shares: usize) -> u32 {
    let (share, shares) = (share as u32, shares as u32);
    (chunks + shares - 1 - share) / shares
}

impl<N: Network> Device<N> {
    /// Uploads the file and offers it in the conversation with `alias`. Returns the file's id
    /// (also its message's id).
    pub async fn send_file(
        &mut self,
        alias: &str,
        file: FileToSend<'_>,
        progress: Progress<'_>,
    ) -> Result<MessageId, ConversationError> {
        let transfer = self.start_upload(alias, file).await?;
        let id = transfer.id();
        self.run_here(transfer, progress).await?;
        self.finish_upload(&id).await?;
        Ok(id)
    }

    /// Checks the file, makes its objects at its hosts and records the transfer, which is
    /// then to run and [`finish_upload`](Self::finish_upload) (or, after a stop,
    /// [`unfinished_uploads`](Self::unfinished_uploads) gives it back).
    pub async fn start_upload(
        &mut self,
        alias: &str,
        file: FileToSend<'_>,
    ) -> Result<Transfer<N::Transport>, ConversationError> {
        let number = self.conversation_number(alias)?;
        self.may_send(number)?;
        let read_error = |source| {
            file_error(FileError::Read {
                path: file.path.to_path_buf(),
                source,
            })
        };
        let metadata = std::fs::metadata(file.path).map_err(read_error)?;
        if !metadata.is_file() {
            return Err(read_error(std::io::Error::other("not a regular file")));
        }
        let size = metadata.len();
        if size > file.limit {
            return Err(file_error(FileError::TooLarge {
                path: file.path.to_path_buf(),
                size,
                limit: file.limit,
            }));
        }
        let name = file
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let name = truncated(&name, sotto_proto::file_offer::MAX_FILE_NAME_LEN);
        let digest = files::digest_of(file.path).map_err(file_error)?;
        let chunks = files::chunks_of(size).map_err(file_error)?;
        let media = files::media::preview(file.path, file.kind).unwrap_or_else(|error| {
            // Sent all the same, without a preview.
            tracing::debug!(%error, kind = file.kind.name(), "no preview for a file");
            None
        });
        let hosts = self.file_hosts(chunks as usize)?;
        let recipients = self.recipients(number)?;
        let (mut chunk_hosts, mut writes) = (Vec::new(), Vec::new());
        for (share, host) in hosts.iter().enumerate() {
            let client = self.host(*host).await?;
            let new = client
                .create_file(share_len(chunks, share, hosts.len()), recipients, 0)
                .await
                .map_err(|error| file_error(refused(error)))?;
            chunk_hosts.push(ChunkHost {
                host: *host,
                read_id: new.read.id,
                read_key: new.read.key.to_bytes(),
            });
            writes.push(new.write);
        }
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let offer = FileOffer {
            id,
            sent_at_ms: now_ms(),
            kind: file.kind,
            name,
            size,
            key: *FileKey::random().as_bytes(),
            digest,
            hosts: chunk_hosts,
            caption: file.caption.to_string(),
            media,
        };
        let path = std::path::absolute(file.path).map_err(read_error)?;
        self.store.add_file(
            number,
            true,
            &offer,
            &writes,
            Some(&path),
            FileState::Uploading,
        )?;
        let row = self.file_row(&id)?;
        self.upload_of(row).await
    }

    /// Goes on with every upload a crash or a stop left unfinished, and offers each once its
    /// chunks are up. Returns their ids. One whose file is gone or changed cannot finish: its
    /// chunks are deleted at its hosts and it is cancelled.
    pub async fn resume_uploads(
        &mut self,
        progress: Progress<'_>,
    ) -> Result<Vec<MessageId>, ConversationError> {
        let mut resumed = Vec::new();
        for transfer in self.unfinished_uploads().await? {
            let id = transfer.id();
            self.run_here(transfer, &mut *progress).await?;
            self.finish_upload(&id).await?;
            resumed.push(id);
        }
        Ok(resumed)
    }

    /// The uploads a crash or a stop left unfinished, ready to run again.
    pub async fn unfinished_uploads(
        &mut self,
    ) -> Result<Vec<Transfer<N::Transport>>, ConversationError> {
        let mut transfers = Vec::new();
        for row in self.store.unfinished_uploads()? {
            // A source changed or gone since would make every later send fail: its upload
            // is deleted at its hosts instead.
            if !Self::can_resume(&row) {
                self.abandon(&row).await?;
                continue;
            }
            transfers.push(self.upload_of(row).await?);
        }
        Ok(transfers)
    }

    fn file_row(&self, id: &MessageId) -> Result<FileRow, ConversationError> {
        self.store
            .file(id)?
            .ok_or_else(|| file_error(FileError::Unknown(hex::encode(id))))
    }

    async fn upload_of(
        &mut self,
        row: FileRow,
    ) -> Result<Transfer<N::Transport>, ConversationError> {
        let source =
            row.path
                .clone()
                .ok_or(ConversationError::Store(crate::store::StoreError::Damaged(
                    "upload path",
                )))?;
        let mut shares = Vec::with_capacity(row.writes.len());
        for (host, cap) in row.offer.hosts.iter().zip(&row.writes) {
            shares.push(Share {
                client: self.host(host.host).await?,
                cap: cap.clone(),
            });
        }
        Ok(Transfer {
            id: row.offer.id,
            number: row.number,
            size: row.offer.size,
            key: FileKey::from_bytes(row.offer.key),
            done: row.done,
            way: Way::Up { shares, source },
        })
    }

    /// Runs a transfer here and now, storing its checkpoints as they come.
    async fn run_here(
        &mut self,
        transfer: Transfer<N::Transport>,
        progress: Progress<'_>,
    ) -> Result<Finished, ConversationError> {
        // Moved in as `&mut`: a shared `&Store` (not `Sync`) would make the transfer's future
        // impossible to send to another thread.
        let store = &mut self.store;
        let (id, number) = (transfer.id, transfer.number);
        let mut checkpoint = move |set: &ChunkSet| {
            store.set_file_progress(number, set)?;
            if progress(&id, set) {
                Ok(())
            } else {
                Err(FileError::Interrupted)
            }
        };
        transfer.run_with(&mut checkpoint).await.map_err(file_error)
    }

    /// Stores how far the transfer of file `id` got (a checkpoint of a transfer run
    /// elsewhere), so a stop goes on from there.
    pub fn record_file_progress(
        &self,
        id: &MessageId,
        done: &ChunkSet,
    ) -> Result<(), ConversationError> {
        let row = self.file_row(id)?;
        Ok(self.store.set_file_progress(row.number, done)?)
    }

    /// Offers file `id`, whose upload ran to its end, in its conversation.
    pub async fn finish_upload(&mut self, id: &MessageId) -> Result<(), ConversationError> {
        let row = self.file_row(id)?;
        self.offer(&row).await
    }

    /// Sends the offer of an uploaded file in its conversation.
    async fn offer(&mut self, row: &FileRow) -> Result<(), ConversationError> {
        let number = row.conversation;
        if !self.is_listening_to(number)? {
            let mut events = Vec::new();
            self.sync_conversation(number, &mut events).await?;
            self.listening.events.extend(events);
        }
        self.update_if_due(number).await?;
        let conversation = self.store.conversation_by_number(number)?;
        let content = Content::FileOffer(row.offer.clone())
            .encode()
            .map_err(encoding("a file offer"))?;
        let (id, caption, sent_at) = (row.offer.id, &row.offer.caption, row.offer.sent_at_ms);
        let record = |store: &crate::store::Store| {
            store.add_message(number, &id, true, caption, None, sent_at)?;
            store.set_file_state(row.number, FileState::Sent, None)?;
            store.count_message_since_update(number)
        };
        self.write_content(&conversation, content, record).await
    }

    /// Fetches the file with this id into `out`, checks it against its offer's digest, and
    /// tells its hosts this device has it. Called again after a stop or a crash, it goes on
    /// where it stopped. Returns the path written.
    pub async fn download(
        &mut self,
        id: &MessageId,
        out: &Path,
        progress: Progress<'_>,
    ) -> Result<PathBuf, ConversationError> {
        let Some(transfer) = self.start_download(id, out).await? else {
            return absolute(out);
        };
        match self.run_here(transfer, progress).await? {
            Finished::Downloaded(out) => {
                self.finish_download(id, &out).await?;
                Ok(out)
            }
            Finished::Uploaded => Err(file_error(FileError::Internal(
                "a download ended as an upload".into(),
            ))),
        }
    }

    /// Records that file `id` is being fetched into `out` and reaches its hosts; the transfer
    /// is then to run and [`finish_download`](Self::finish_download). `None` when the file is
    /// at `out` already. Started again after a stop, it goes on where it stopped.
    pub async fn start_download(
        &mut self,
        id: &MessageId,
        out: &Path,
    ) -> Result<Option<Transfer<N::Transport>>, ConversationError> {
        let row = self.file_row(id)?;
        if row.outgoing {
            return Err(file_error(FileError::Internal(
                "this device sent that file; it is at its own path".into(),
            )));
        }
        let out = absolute(out)?;
        if row.state == FileState::Done && row.path.as_deref() == Some(&out) && out.exists() {
            return Ok(None);
        }
        let part = part_path(&out);
        let mut done = row.done.clone();
        // Progress counts only for the partial file it was made in.
        if row.path.as_deref() != Some(&out) || !part.exists() {
            done = ChunkSet::empty(done.count());
            self.store.set_file_progress(row.number, &done)?;
        }
        self.store
            .set_file_state(row.number, FileState::Downloading, Some(&out))?;
        let shares = self.read_shares(&row.offer.hosts).await?;
        Ok(Some(Transfer {
            id: *id,
            number: row.number,
            size: row.offer.size,
            key: FileKey::from_bytes(row.offer.key),
            done,
            way: Way::Down {
                shares,
                part,
                out,
                digest: row.offer.digest,
            },
        }))
    }

    /// Records that file `id` is whole at `out` and tells its hosts this device has it.
    pub async fn finish_download(
        &mut self,
        id: &MessageId,
        out: &Path,
    ) -> Result<(), ConversationError> {
        let row = self.file_row(id)?;
        self.store
            .set_file_state(row.number, FileState::Done, Some(out))?;
        for share in &self.read_shares(&row.offer.hosts).await? {
            // The host deletes the file once every recipient said so; if this is lost, its
            // TTL does.
            if let Err(error) = share.client.file_done(&share.cap, row.receipt).await {
                tracing::warn!(%error, "a host did not take a file receipt");
            }
        }
        Ok(())
    }

    async fn read_shares(
        &mut self,
        hosts: &[ChunkHost],
    ) -> Result<Vec<Share<N::Transport, FileRead>>, ConversationError> {
        let mut shares = Vec::with_capacity(hosts.len());
        for host in hosts {
            shares.push(Share {
                client: self.host(host.host).await?,
                cap: FileRead {
                    id: host.read_id,
                    key: SigningKey::from_bytes(&host.read_key),
                },
            });
        }
        Ok(shares)
    }

    /// Up to [`FILE_HOSTS`] distinct hosts (never more than `chunks`), drawn like mailbox hosts.
    fn file_hosts(&self, chunks: usize) -> Result<Vec<Fingerprint>, ConversationError> {
        let wanted = FILE_HOSTS.min(chunks.max(1));
        let mut hosts = Vec::with_capacity(wanted);
        for _ in 0..wanted * 8 {
            let host = self.choose_host()?;
            if !hosts.contains(&host) {
                hosts.push(host);
            }
            if hosts.len() == wanted {
                break;
            }
        }
        Ok(hosts)
    }
}

fn absolute(out: &Path) -> Result<PathBuf, ConversationError> {
    std::path::absolute(out).map_err(|source| {
        file_error(FileError::Write {
            path: out.to_path_buf(),
            source,
        })
    })
}

/// Where a download is written until it is whole and checked.
pub(super) fn part_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// A host's refusal said as a file error.
fn refused(error: crate::ClientError) -> FileError {
    match error {
        crate::ClientError::Host(code) => FileError::Refused(code),
        other => FileError::Network(other),
    }
}

/// `name` cut to at most `max` bytes, between characters.
fn truncated(name: &str, max: usize) -> String {
    let mut end = name.len().min(max);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_split_the_chunks() {
        for chunks in [1u32, 2, 3, 10, 1774] {
            for shares in 1..=3usize {
                let total: u32 = (0..shares).map(|s| share_len(chunks, s, shares)).sum();
                assert_eq!(total, chunks);
            }
        }
        assert_eq!(truncated("aé", 2), "a");
    }
}
