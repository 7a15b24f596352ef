//! What every sotto front end runs on (`sotto serve`, `sotto chat`, the one-shot commands): a
//! person's [`Home`] and its lock, and the device behind typed [`Command`]s and a stream of
//! [`AppEvent`]s. One-shot commands open an [`App`] and call it; long-lived front ends start
//! its loop and share an [`AppHandle`].

mod app;
mod command;
mod device_loop;
mod error;
mod event;
mod execute;
mod files;
mod handle;
mod home;
mod init;
mod lock;
mod look_back;
mod network_file;
mod rekey;
mod transfers;

pub use app::App;
pub use command::{Command, History, MessageView, Reply};
pub use error::AppError;
pub use event::{AppEvent, ConnectionState};
pub use files::{bytes_done, default_files_dir, local_name};
pub use handle::AppHandle;
pub use home::Home;
pub use init::init;
pub use lock::HomeLock;
pub use look_back::look_back;
pub use network_file::read_network_file;
pub use rekey::change_unlock;
pub use sotto_client::files::ChunkSet;
pub use sotto_client::store::{
    DownloadSettings, FileState, FileSummary, MessageFile, DEFAULT_AUTO_DOWNLOAD_MAX,
};
pub use sotto_client::{Change, Contact, GroupMember, GroupSummary, Unlock, DEFAULT_MAX_FILE_SIZE};
pub use sotto_proto::conversation::MessageId;
pub use sotto_proto::group::Role;
pub use sotto_proto::LinkUri;

#[cfg(test)]
mod tests;
