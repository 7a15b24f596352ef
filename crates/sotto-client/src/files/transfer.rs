//! Moving chunks between a file on disk and its hosts: up to a window of requests in flight,
//! each chunk read from (or written to) its place in the file as it goes, so memory holds the
//! window's chunks and never the file. A chunk that does not open is refused and fetched
//! again, never written; every so many chunks the set of done chunks is handed to a
//! checkpoint (the device stores it), after the data it claims is on disk.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::future::Future;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use sotto_proto::file_offer::{chunk_count, CHUNK_PLAINTEXT_LEN};
use sotto_proto::ErrorCode;
use tokio::task::JoinSet;

use super::window::Window;
use super::{ChunkSet, FileError, FileKey, FileRead, FileWrite};
use crate::mailbox::{ClientError, MailboxClient};
use crate::transport::Transport;

/// Chunks between two checkpoints: what a crash can make a transfer do again.
const CHECKPOINT_EVERY: u32 = 64;
/// Times one chunk is tried before the transfer gives up on it.
const ATTEMPTS: u32 = 4;

/// One host's share of a file (chunk `i` of the file is chunk `i / n` of share `i mod n`)
/// and the capability used there.
pub struct Share<T, C> {
    pub client: Arc<MailboxClient<T>>,
    pub cap: C,
}

/// Where chunk `index` lives: its share and its index there.
fn place(index: u32, shares: usize) -> (usize, u32) {
    let shares = shares as u32;
    ((index % shares) as usize, index / shares)
}

/// Bytes of the file before chunk `index`, and the chunk's length.
fn span(index: u32, size: u64) -> (u64, usize) {
    let offset = u64::from(index) * CHUNK_PLAINTEXT_LEN as u64;
    let len = size.saturating_sub(offset).min(CHUNK_PLAINTEXT_LEN as u64);
    (offset, len as usize)
}

/// The chunk count of a file of `size` bytes, as the chunk indices count it.
pub(crate) fn chunks_of(size: u64) -> Result<u32, FileError> {
    u32::try_from(chunk_count(size))
        .map_err(|_| FileError::Internal("a file of more than 2^32 chunks".into()))
}

/// Seals and stores every chunk of `source` (`size` bytes) not in `done`.
pub async fn upload<T: Transport>(
    shares: &[Share<T, FileWrite>],
    key: &FileKey,
    source: &Path,
    size: u64,
    done: &mut ChunkSet,
    checkpoint: &mut (dyn FnMut(&ChunkSet) -> Result<(), FileError> + Send),
) -> Result<(), FileError> {
    let file = File::open(source).map_err(|error| FileError::Read {
        path: source.to_path_buf(),
        source: error,
    })?;
    let count = done.count();
    let start = |index: u32| {
        let (offset, len) = span(index, size);
        // Every chunk is sealed full, the last padded with zeros, so hosts learn a file's
        // size to a chunk, not to the byte.
        let mut plaintext = vec![0u8; CHUNK_PLAINTEXT_LEN];
        file.read_exact_at(&mut plaintext[..len], offset)
            .map_err(|error| FileError::Read {
                path: source.to_path_buf(),
                source: error,
            })?;
        let sealed = key.seal(index, count, &plaintext)?;
        let (share, local) = place(index, shares.len());
        let client = shares[share].client.clone();
        let cap = shares[share].cap.clone();
        Ok(async move {
            client.put_chunk(&cap, local, sealed).await?;
            Ok(Vec::new())
        })
    };
    pipeline(done, start, |_, _| Ok(true), || Ok(()), checkpoint).await
}

/// Where a download's chunks are written: a file, or in tests one whose disk fills up.
pub trait ChunkTarget: Sync {
    fn set_len(&self, size: u64) -> std::io::Result<()>;
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> std::io::Result<()>;
    fn sync_data(&self) -> std::io::Result<()>;
}

impl ChunkTarget for File {
    fn set_len(&self, size: u64) -> std::io::Result<()> {
        File::set_len(self, size)
    }

    fn write_all_at(&self, bytes: &[u8], offset: u64) -> std::io::Result<()> {
        FileExt::write_all_at(self, bytes, offset)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        File::sync_data(self)
    }
}

/// A failed write to `path` as a file error: a full disk (or quota) said as such.
fn write_failed(path: &Path, error: std::io::Error) -> FileError {
    use std::io::ErrorKind::{QuotaExceeded, StorageFull};
    match error.kind() {
        StorageFull | QuotaExceeded => FileError::DiskFull {
            path: path.to_path_buf(),
        },
        _ => FileError::Write {
            path: path.to_path_buf(),
            source: error,
        },
    }
}

/// Fetches every chunk not in `done` into its place in `target` (a file of `size` bytes),
/// each checked before it is written.
pub async fn download<T: Transport>(
    shares: &[Share<T, FileRead>],
    key: &FileKey,
    target: &Path,
    size: u64,
    done: &mut ChunkSet,
    checkpoint: &mut (dyn FnMut(&ChunkSet) -> Result<(), FileError> + Send),
) -> Result<(), FileError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(target)
        .map_err(|error| write_failed(target, error))?;
    download_into(shares, key, &file, target, size, done, checkpoint).await
}

/// [`download`] into `file`, whose errors name `path`. A write that fails stops the transfer;
/// `done` as last handed to `checkpoint` is on disk, so it goes on from there.
pub async fn download_into<T: Transport>(
    shares: &[Share<T, FileRead>],
    key: &FileKey,
    file: &impl ChunkTarget,
    path: &Path,
    size: u64,
    done: &mut ChunkSet,
    checkpoint: &mut (dyn FnMut(&ChunkSet) -> Result<(), FileError> + Send),
) -> Result<(), FileError> {
    let write_error = |error| write_failed(path, error);
    file.set_len(size).map_err(write_error)?;
    let count = done.count();
    let start = |index: u32| {
        let (share, local) = place(index, shares.len());
        let client = shares[share].client.clone();
        let cap = shares[share].cap.clone();
        Ok(async move { client.get_chunk(&cap, local).await })
    };
    let finish = |index: u32, sealed: Vec<u8>| {
        let (offset, len) = span(index, size);
        match key.open(index, count, &sealed) {
            // Full (the last chunk padded), or just the file's bytes from a sender that did
            // not pad.
            Some(plaintext) if plaintext.len() == CHUNK_PLAINTEXT_LEN || plaintext.len() == len => {
                file.write_all_at(&plaintext[..len], offset)
                    .map_err(write_error)?;
                Ok(true)
            }
            _ => {
                tracing::warn!(index, "refused a chunk that does not open");
                Ok(false)
            }
        }
    };
    // What a checkpoint claims must be on disk first.
    let sync = || file.sync_data().map_err(write_error);
    pipeline(done, start, finish, sync, checkpoint).await
}

/// SHA-256 of a whole file, read a piece at a time.
pub(crate) fn digest_of(path: &Path) -> Result<[u8; 32], FileError> {
    let read_error = |error| FileError::Read {
        path: path.to_path_buf(),
        source: error,
    };
    let mut file = File::open(path).map_err(read_error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(read_error)?;
        if read == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buffer[..read]);
    }
}

/// The loop both directions share: `start` makes the request for a chunk, `finish` takes its
/// answer (`false`: refused, fetch again).
async fn pipeline<Fut>(
    done: &mut ChunkSet,
    mut start: impl FnMut(u32) -> Result<Fut, FileError>,
    mut finish: impl FnMut(u32, Vec<u8>) -> Result<bool, FileError>,
    mut before_checkpoint: impl FnMut() -> Result<(), FileError>,
    checkpoint: &mut (dyn FnMut(&ChunkSet) -> Result<(), FileError> + Send),
) -> Result<(), FileError>
where
    Fut: Future<Output = Result<Vec<u8>, ClientError>> + Send + 'static,
{
    let mut window = Window::default();
    let mut queue: VecDeque<u32> = done.missing().collect();
    let mut attempts: HashMap<u32, u32> = HashMap::new();
    // Dropped on an early return, which aborts what is still in flight.
    let mut flights = JoinSet::new();
    let mut since_checkpoint = 0;
    loop {
        while flights.len() < window.size() {
            let Some(index) = queue.pop_front() else {
                break;
            };
            let request = start(index)?;
            flights.spawn(async move { (index, request.await) });
        }
        let Some(joined) = flights.join_next().await else {
            break;
        };
        let (index, answer) = joined.map_err(|e| FileError::Internal(e.to_string()))?;
        let failure = match answer {
            Ok(bytes) => {
                window.answered();
                if finish(index, bytes)? {
                    done.insert(index);
                    since_checkpoint += 1;
                    None
                } else {
                    Some(FileError::Tampered(index))
                }
            }
            Err(ClientError::Host(ErrorCode::Auth)) => return Err(FileError::Expired),
            Err(ClientError::Host(ErrorCode::NoChunk)) => Some(FileError::MissingChunk(index)),
            Err(ClientError::Host(code)) => return Err(FileError::Refused(code)),
            Err(other) => {
                window.failed();
                Some(FileError::Network(other))
            }
        };
        if let Some(error) = failure {
            let tried = attempts.entry(index).or_default();
            *tried += 1;
            if *tried >= ATTEMPTS {
                return Err(error);
            }
            queue.push_back(index);
        }
        if since_checkpoint >= CHECKPOINT_EVERY {
            before_checkpoint()?;
            checkpoint(done)?;
            since_checkpoint = 0;
        }
    }
    before_checkpoint()?;
    checkpoint(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_go_round_the_hosts() {
        assert_eq!(place(0, 3), (0, 0));
        assert_eq!(place(4, 3), (1, 1));
        assert_eq!(place(5, 1), (0, 5));
        let len = CHUNK_PLAINTEXT_LEN as u64;
        assert_eq!(span(0, 10), (0, 10));
        assert_eq!(span(1, len + 3), (len, 3));
        assert_eq!(span(0, 0), (0, 0));
    }
}
