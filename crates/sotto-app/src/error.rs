//! What can go wrong for a front end, in sentences a person can act on. A message quotes
//! its cause, so it is whole where it is logged rather than printed with its causes.

use std::path::PathBuf;

use sotto_client::store::StoreError;
use sotto_client::ConversationError;
use sotto_onion::directory::DirectoryError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AppError {
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "another sotto{} is using {}; stop it or use another --home",
        .pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        .home.display()
    )]
    Busy { home: PathBuf, pid: Option<u32> },
    #[error("cannot lock {}: {source}", .path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make the home directory {}: {source}", .path.display())]
    MakeHome {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading the network file {}: {source}", .path.display())]
    ReadNetworkFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid network file: {source}", .path.display())]
    InvalidNetworkFile {
        path: PathBuf,
        source: DirectoryError,
    },
    #[error("resolving {}: {source}", .path.display())]
    ResolveNetworkFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {}: {source}", .path.display())]
    RememberNetworkFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "which network? Pass --network FILE (the file `sotto localnet` prints) once; it is \
         remembered in {}",
        .home.display()
    )]
    WhichNetwork { home: PathBuf },
    #[error(
        "the network file is not signed by the --authority given ({trusted}): it is not that \
         network's file"
    )]
    OtherNetwork { trusted: String },
    #[error("a message or file id needs at least 8 hex digits")]
    ShortMessageId,
    #[error("no message with id {prefix}… in the conversation with {contact}")]
    NoSuchMessage { prefix: String, contact: String },
    #[error("no file with id {0}… on this device (see `sotto files`)")]
    NoSuchFile(String),
    #[error("several messages have ids starting with {prefix}; give more digits")]
    AmbiguousMessageId { prefix: String },
    #[error("the file {0}… is being transferred already")]
    Transferring(String),
    #[error("cannot make {}: {source}", .path.display())]
    FilesDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("where to? Give the path to write the file to")]
    NoFilesDir,
    /// The device's loop is gone (it ended, or panicked).
    #[error("the client stopped")]
    Stopped,
}
