//! Taking back a file this device sent, and the uploads a crash left that can no longer
//! finish: their chunks are deleted at their hosts rather than left there until their TTL.

use sotto_proto::conversation::MessageId;

use super::files::file_error;
use super::{Device, Network};
use crate::conversation::ConversationError;
use crate::files::{self, FileError};
use crate::store::{FileRow, FileState};

impl<N: Network> Device<N> {
    /// Deletes the chunks of a file this device sent at every host and marks it cancelled:
    /// a recipient that has not fetched it is told it is gone. An upload not finished was
    /// never offered, so nobody learns of it.
    pub async fn cancel_file(&mut self, id: &MessageId) -> Result<(), ConversationError> {
        let row = self
            .store
            .file(id)?
            .ok_or_else(|| file_error(FileError::Unknown(hex::encode(id))))?;
        if !row.outgoing {
            return Err(file_error(FileError::Internal(
                "only its sender can cancel a file; one offered to you is fetched only when \
                 you ask"
                    .into(),
            )));
        }
        self.abandon(&row).await
    }

    /// Whether the upload of `row` can go on: its file is still there, unchanged.
    pub(super) fn can_resume(row: &FileRow) -> bool {
        let Some(path) = &row.path else {
            return false;
        };
        let same_size =
            std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == row.offer.size);
        same_size && files::digest_of(path).is_ok_and(|digest| digest == row.offer.digest)
    }

    /// Deletes the file at its hosts (one already gone counts as deleted) and records it
    /// cancelled.
    pub(super) async fn abandon(&mut self, row: &FileRow) -> Result<(), ConversationError> {
        for (host, write) in row.offer.hosts.iter().zip(&row.writes) {
            let client = self.host(host.host).await?;
            match client.delete_file(write).await {
                Ok(()) | Err(crate::ClientError::Host(sotto_proto::ErrorCode::Auth)) => {}
                Err(error) => return Err(file_error(FileError::Network(error))),
            }
        }
        self.store
            .set_file_state(row.number, FileState::Cancelled, None)?;
        Ok(())
    }
}
