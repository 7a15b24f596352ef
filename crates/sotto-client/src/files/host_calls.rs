//! The file commands (docs/protocol.md §18) as calls of the mailbox client.

use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;
use sotto_proto::{Command, Id, ResponseBody};

use crate::mailbox::{unexpected, ClientError, MailboxClient};
use crate::transport::Transport;

const NO_TARGET: Id = Id::from_bytes([0; Id::LEN]);

/// The right to store a file's chunks at one host.
#[derive(Clone)]
pub struct FileWrite {
    pub id: Id,
    pub key: SigningKey,
}

/// The right to read a file's chunks at one host; every recipient holds the same.
#[derive(Clone)]
pub struct FileRead {
    pub id: Id,
    pub key: SigningKey,
}

sotto_proto::redacted_debug!(FileWrite, FileRead);

pub struct NewFile {
    pub write: FileWrite,
    pub read: FileRead,
}

impl<T: Transport> MailboxClient<T> {
    /// Makes a file of `chunks` chunks at this host, deleted once `recipients` said they have
    /// it, or after `ttl_secs` (0: the host's default).
    pub async fn create_file(
        &self,
        chunks: u32,
        recipients: u16,
        ttl_secs: u32,
    ) -> Result<NewFile, ClientError> {
        let writer = SigningKey::generate(&mut OsRng);
        let reader = SigningKey::generate(&mut OsRng);
        let command = Command::CreateFile {
            ttl_secs,
            recipients,
            chunks,
            writer_key: writer.verifying_key(),
            reader_key: reader.verifying_key(),
        };
        match self.call(command, NO_TARGET, &reader).await? {
            ResponseBody::Created { write_id, read_id } => Ok(NewFile {
                write: FileWrite {
                    id: write_id,
                    key: writer,
                },
                read: FileRead {
                    id: read_id,
                    key: reader,
                },
            }),
            other => Err(unexpected(other)),
        }
    }

    pub async fn put_chunk(
        &self,
        file: &FileWrite,
        index: u32,
        data: Vec<u8>,
    ) -> Result<(), ClientError> {
        match self
            .call(Command::PutChunk { index, data }, file.id, &file.key)
            .await?
        {
            ResponseBody::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    pub async fn get_chunk(&self, file: &FileRead, index: u32) -> Result<Vec<u8>, ClientError> {
        match self
            .call(Command::GetChunk { index }, file.id, &file.key)
            .await?
        {
            ResponseBody::Chunk { index: got, data } if got == index => Ok(data),
            ResponseBody::Chunk { .. } => Err(ClientError::Protocol(
                "the host answered with another chunk".into(),
            )),
            other => Err(unexpected(other)),
        }
    }

    /// Tells the host this recipient has the file; `receipt` is the same on every retry.
    pub async fn file_done(&self, file: &FileRead, receipt: [u8; 16]) -> Result<(), ClientError> {
        match self
            .call(Command::FileDone { receipt }, file.id, &file.key)
            .await?
        {
            ResponseBody::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    pub async fn delete_file(&self, file: &FileWrite) -> Result<(), ClientError> {
        match self.call(Command::DeleteFile, file.id, &file.key).await? {
            ResponseBody::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}
