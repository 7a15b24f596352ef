//! Files: encrypted end to end under a key of their own, cut into chunks that fill the fixed
//! packet, spread over several hosts and read there by every recipient (one upload however
//! many receive), in both directions pipelined under a window and resumable from the device
//! store. The sealing, the chunk sets and the window are sans-IO; `transfer` is the loop that
//! moves chunks between a file on disk and the hosts, never holding more than the window's
//! chunks in memory.

mod chunk;
mod chunk_set;
mod host_calls;
pub mod media;
mod object;
mod transfer;
mod window;

use std::path::PathBuf;

use sotto_proto::ErrorCode;
use thiserror::Error;

use crate::store::StoreError;
use crate::ClientError;

pub use chunk::FileKey;
pub use chunk_set::ChunkSet;
pub use host_calls::{FileRead, FileWrite, NewFile};
pub use object::{fetch_object, put_object, StoredObject, MAX_OBJECT_LEN};
pub(crate) use transfer::{chunks_of, digest_of};
pub use transfer::{download, download_into, upload, ChunkTarget, Share};

/// How a transfer failed; each says what the person can do about it.
#[derive(Debug, Error)]
pub enum FileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the disk is full: {path} cannot grow; the download stopped and goes on where it \
         stopped once there is room"
    )]
    DiskFull { path: PathBuf },
    #[error("{path} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error(
        "the file is gone from its hosts: its chunks expired (hosts keep them 48 hours) or \
         were deleted; ask the sender to send it again"
    )]
    Expired,
    #[error("chunk {0} failed its check every time it was fetched: a host keeps altering it")]
    Tampered(u32),
    #[error("chunk {0} is missing at its host; ask the sender to send the file again")]
    MissingChunk(u32),
    #[error("the file does not match the digest its sender gave; it was not kept")]
    DigestMismatch,
    #[error("a host refused the file: {0}")]
    Refused(ErrorCode),
    #[error("no file transfer with id {0}")]
    Unknown(String),
    #[error(transparent)]
    Network(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the transfer was stopped; it goes on where it stopped when started again")]
    Interrupted,
    #[error("{0}")]
    Internal(String),
}
