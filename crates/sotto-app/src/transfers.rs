//! File transfers beside the device's loop. A transfer of a big file takes minutes; run as a
//! command it would hold the loop, and with it every message, receipt and push, for all that
//! time. So the loop starts it (recording it and reaching its hosts), hands the chunks' way
//! to a task of its own, and takes back its checkpoints (stored for a resume) and its end
//! (the offer or the receipts, which need the device) as notes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use sotto_client::files::ChunkSet;
use sotto_client::store::FileState;
use sotto_client::{ConversationError, Device, FileToSend, Finished, Transfer, Transport};
use sotto_proto::conversation::MessageId;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::command::Reply;
use crate::error::AppError;
use crate::event::AppEvent;
use crate::execute::known;
use crate::files::{bytes_done, destination, kind_of};

/// The least time between two progress events of one file: enough for a progress bar, few
/// enough for a front end far away.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What a transfer's task tells the loop.
pub(crate) enum Note {
    Progress {
        id: MessageId,
        done: ChunkSet,
    },
    Finished {
        id: MessageId,
        result: Result<Finished, ConversationError>,
    },
}

struct Running {
    contact: String,
    outgoing: bool,
    size: u64,
    told: Option<Instant>,
}

/// The transfers running; dropped with the loop, which aborts them (their checkpoints are
/// stored, so the next start goes on from there).
pub(crate) struct Transfers {
    running: HashMap<MessageId, Running>,
    tasks: JoinSet<()>,
    notes_in: mpsc::UnboundedSender<Note>,
    notes: mpsc::UnboundedReceiver<Note>,
    files_dir: Option<PathBuf>,
}

impl Transfers {
    pub(crate) fn new(files_dir: Option<PathBuf>) -> Self {
        let (notes_in, notes) = mpsc::unbounded_channel();
        Self {
            running: HashMap::new(),
            tasks: JoinSet::new(),
            notes_in,
            notes,
            files_dir,
        }
    }

    /// The next note of a running transfer (waits while none runs; never `None`, as this
    /// holds a sender).
    pub(crate) async fn next(&mut self) -> Option<Note> {
        self.notes.recv().await
    }

    /// Starts sending the file at `path` to `contact`: replies once it is recorded and its
    /// hosts have its objects.
    pub(crate) async fn send_file(
        &mut self,
        device: &mut Device,
        contact: String,
        path: PathBuf,
        caption: &str,
    ) -> Result<Reply, AppError> {
        known(device.records(), &contact)?;
        // The same file to the same contact, stopped midway in this run or an earlier one,
        // goes on rather than going twice.
        let same = std::path::absolute(&path).ok();
        let stopped = device.records().files()?.into_iter().find(|file| {
            file.outgoing
                && file.state == FileState::Uploading
                && file.alias == contact
                && file.path == same
                && !self.running.contains_key(&file.id)
        });
        if let Some(stopped) = stopped {
            let transfer = device
                .unfinished_uploads()
                .await?
                .into_iter()
                .find(|transfer| transfer.id() == stopped.id);
            if let Some(transfer) = transfer {
                self.run(transfer, contact);
                return Ok(Reply::Transfer {
                    id: stopped.id,
                    path,
                });
            }
        }
        let file = FileToSend {
            path: &path,
            kind: kind_of(&path),
            caption,
            limit: sotto_client::DEFAULT_MAX_FILE_SIZE,
        };
        let transfer = device.start_upload(&contact, file).await?;
        let id = transfer.id();
        self.run(transfer, contact);
        Ok(Reply::Transfer { id, path })
    }

    /// Starts fetching the file whose id starts with `prefix` into `out` (or the files
    /// directory); a file there already is done at once.
    pub(crate) async fn download(
        &mut self,
        device: &mut Device,
        prefix: &str,
        out: Option<PathBuf>,
        events: &broadcast::Sender<AppEvent>,
    ) -> Result<Reply, AppError> {
        let (file, out) = destination(device, prefix, out, self.files_dir.as_deref())?;
        if self.running.contains_key(&file.id) {
            return Err(AppError::Transferring(hex::encode(&file.id[..4])));
        }
        match device.start_download(&file.id, &out).await? {
            Some(transfer) => self.run(transfer, file.alias),
            None => {
                let _ = events.send(AppEvent::FileDone {
                    id: file.id,
                    contact: file.alias,
                    outgoing: false,
                    path: out.clone(),
                });
            }
        }
        Ok(Reply::Transfer {
            id: file.id,
            path: out,
        })
    }

    /// Goes on with what a stop left: uploads not offered yet, and downloads begun.
    pub(crate) async fn resume(&mut self, device: &mut Device) -> Result<(), AppError> {
        let files = device.records().files()?;
        for transfer in device.unfinished_uploads().await? {
            let id = transfer.id();
            let Some(file) = files.iter().find(|file| file.id == id) else {
                continue;
            };
            if !self.running.contains_key(&id) {
                self.run(transfer, file.alias.clone());
            }
        }
        for file in &files {
            let begun = !file.outgoing && file.state == FileState::Downloading;
            let Some(out) = file.path.as_ref().filter(|_| begun) else {
                continue;
            };
            if self.running.contains_key(&file.id) {
                continue;
            }
            if let Some(transfer) = device.start_download(&file.id, out).await? {
                self.run(transfer, file.alias.clone());
            }
        }
        Ok(())
    }

    fn run<T: Transport>(&mut self, transfer: Transfer<T>, contact: String) {
        let id = transfer.id();
        self.running.insert(
            id,
            Running {
                contact,
                outgoing: transfer.outgoing(),
                size: transfer.size(),
                told: None,
            },
        );
        let notes = self.notes_in.clone();
        self.tasks.spawn(async move {
            let progress_notes = notes.clone();
            let mut progress = move |id: &MessageId, done: &ChunkSet| {
                let note = Note::Progress {
                    id: *id,
                    done: done.clone(),
                };
                // The loop is gone: stop here, the checkpoints so far are stored.
                progress_notes.send(note).is_ok()
            };
            let result = transfer.run(&mut progress).await;
            let _ = notes.send(Note::Finished { id, result });
        });
    }

    /// Stores a checkpoint or finishes a transfer, and tells front ends.
    pub(crate) async fn on_note(
        &mut self,
        device: &mut Device,
        note: Note,
        events: &broadcast::Sender<AppEvent>,
    ) {
        match note {
            Note::Progress { id, done } => {
                if let Err(error) = device.record_file_progress(&id, &done) {
                    tracing::warn!(%error, "a transfer's progress is not stored");
                }
                let Some(running) = self.running.get_mut(&id) else {
                    return;
                };
                let now = Instant::now();
                if running
                    .told
                    .is_some_and(|told| now.duration_since(told) < PROGRESS_EVERY)
                {
                    return;
                }
                running.told = Some(now);
                let _ = events.send(AppEvent::FileProgress {
                    id,
                    contact: running.contact.clone(),
                    outgoing: running.outgoing,
                    done: bytes_done(&done, running.size),
                    total: running.size,
                });
            }
            Note::Finished { id, result } => {
                let Some(running) = self.running.remove(&id) else {
                    return;
                };
                let finished = match result {
                    Ok(Finished::Uploaded) => device
                        .finish_upload(&id)
                        .await
                        .map(|()| uploaded_path(device, &id)),
                    Ok(Finished::Downloaded(path)) => {
                        device.finish_download(&id, &path).await.map(|()| path)
                    }
                    Err(error) => Err(error),
                };
                let (contact, outgoing) = (running.contact, running.outgoing);
                let event = match finished {
                    Ok(path) => AppEvent::FileDone {
                        id,
                        contact,
                        outgoing,
                        path,
                    },
                    Err(error) => AppEvent::FileFailed {
                        id,
                        contact,
                        outgoing,
                        reason: error.to_string(),
                    },
                };
                let _ = events.send(event);
            }
        }
    }
}

/// Where the file sent as `id` was read from.
fn uploaded_path(device: &Device, id: &MessageId) -> PathBuf {
    device
        .records()
        .files()
        .ok()
        .and_then(|files| files.into_iter().find(|file| file.id == *id))
        .and_then(|file| file.path)
        .unwrap_or_default()
}
