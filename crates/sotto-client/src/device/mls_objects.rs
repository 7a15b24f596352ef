//! MLS messages too big for one mailbox message travel as file objects (`files::object`):
//! a Welcome for its one joiner (`welcome_files`), and a commit to a group for every reader of
//! the group mailbox, which then holds, at the commit's place in the host's order, only the
//! record naming the object (`MlsObject`, docs/protocol.md §20.7). A reader meeting such a
//! record fetches the object before it applies anything later, so the commit applies at its
//! place; the record's digest makes every reader apply the very same commit.

use ed25519_dalek::SigningKey;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sotto_proto::file_offer::{ChunkHost, FileKind, FileOffer};
use sotto_proto::mls_object::MlsObject;
use sotto_proto::Message;

use super::files::file_error;
use super::link::CONVERSATION_TTL_SECS;
use super::{Device, Network};
use crate::conversation::apply::digest;
use crate::conversation::{encoding, ConversationError};
use crate::files::{fetch_object, put_object, FileError, FileKey, FileRead, StoredObject};
use crate::group::commit::pending_readers;
use crate::store::{now_ms, Conversation};
use crate::ClientError;
use crate::ReadCap;

impl<N: Network> Device<N> {
    /// Stores `bytes` as a file object on a host this device picks, for `readers`, and
    /// returns the offer naming it.
    pub(super) async fn put_mls_object(
        &mut self,
        bytes: &[u8],
        readers: u16,
        ttl_secs: u32,
    ) -> Result<FileOffer, ConversationError> {
        let host = self.choose_host()?;
        let client = self.host(host).await?;
        let stored = put_object(&client, bytes, readers, ttl_secs)
            .await
            .map_err(file_error)?;
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        Ok(FileOffer {
            id,
            sent_at_ms: now_ms(),
            kind: FileKind::File,
            name: String::new(),
            size: stored.size,
            key: *stored.key.as_bytes(),
            digest: stored.digest,
            hosts: vec![ChunkHost {
                host,
                read_id: stored.read.id,
                read_key: stored.read.key.to_bytes(),
            }],
            caption: String::new(),
            media: None,
        })
    }

    /// Fetches the object `offer` names and checks it against the offer's digest; `reader`
    /// is the capability this device reads the message's conversation with.
    pub(super) async fn fetch_mls_object(
        &mut self,
        offer: &FileOffer,
        reader: &ReadCap,
    ) -> Result<Vec<u8>, FileError> {
        let [host] = offer.hosts.as_slice() else {
            return Err(FileError::Internal(
                "a large MLS message spread over several hosts".into(),
            ));
        };
        let client = self.host(host.host).await.map_err(|error| match error {
            ConversationError::Network(error) => FileError::Network(error),
            other => FileError::Internal(other.to_string()),
        })?;
        let stored = StoredObject {
            key: FileKey::from_bytes(offer.key),
            read: FileRead {
                id: host.read_id,
                key: SigningKey::from_bytes(&host.read_key),
            },
            digest: offer.digest,
            size: offer.size,
        };
        fetch_object(&client, &stored, receipt(reader, offer)).await
    }

    /// Writes this device's commit `wire`, too big for one message, as a file object every
    /// reader of the group mailbox reads (its members, and those the commit adds, whose
    /// readers came first) and the record naming it in the mailbox. The outcome is the
    /// commit's own, as if written whole (see `wrote`).
    pub(super) async fn write_large_commit(
        &mut self,
        conversation: &Conversation,
        wire: &[u8],
    ) -> Result<(), ConversationError> {
        let readers = pending_readers(&self.store, conversation)?;
        let stored = self
            .put_mls_object(wire, readers, CONVERSATION_TTL_SECS)
            .await
            .and_then(|offer| {
                let record = MlsObject {
                    offer: offer.clone(),
                }
                .encode()
                .map_err(encoding("the record of a large commit"))?;
                Ok((offer, record))
            });
        let (offer, record) = match stored {
            Ok(stored) => stored,
            Err(error) => {
                self.store.take_outbox(conversation.number, &digest(wire))?;
                return Err(error);
            }
        };
        let client = self.host(conversation.host).await?;
        let listening = self.listening.listens_to(&conversation.read.id);
        let written = client
            .write_own(
                &conversation.write,
                &conversation.read,
                None,
                listening,
                &record,
            )
            .await;
        let applied_here = written.as_ref().is_ok_and(|w| w.acknowledged);
        self.wrote(conversation, wire, written)?;
        if applied_here {
            // This device applied its commit as written and never reads the record: it says
            // so now, so that the host can let the object go once the others read it.
            self.object_read(&offer, &conversation.read).await?;
        }
        Ok(())
    }

    /// Tells the host of `offer`'s object that this reader has it.
    async fn object_read(
        &mut self,
        offer: &FileOffer,
        reader: &ReadCap,
    ) -> Result<(), ConversationError> {
        let receipt = receipt(reader, offer);
        for host in &offer.hosts {
            let read = FileRead {
                id: host.read_id,
                key: SigningKey::from_bytes(&host.read_key),
            };
            self.host(host.host)
                .await?
                .file_done(&read, receipt)
                .await?;
        }
        Ok(())
    }

    /// Puts in place of each record naming a large MLS message in `messages` the message
    /// itself, fetched and checked. A record whose object cannot be had (gone, altered, not
    /// matching its digest) stays, and is rejected where it stands (`apply`); the network
    /// failing is returned, so nothing from that record on is applied or acknowledged.
    pub(super) async fn resolve_mls_objects(
        &mut self,
        conversation: &Conversation,
        messages: &mut [Message],
    ) -> Result<(), ConversationError> {
        for message in messages.iter_mut() {
            if !MlsObject::is_one(&message.body) {
                continue;
            }
            let Ok(record) = MlsObject::decode(&message.body) else {
                continue;
            };
            match self
                .fetch_mls_object(&record.offer, &conversation.read)
                .await
            {
                Ok(wire) => message.body = wire,
                Err(FileError::Network(error)) if !matches!(error, ClientError::Host(_)) => {
                    return Err(ConversationError::Network(error));
                }
                Err(error) => {
                    tracing::debug!(%error, "a large MLS message could not be had");
                }
            }
        }
        Ok(())
    }
}

/// This reader's receipt for the object `offer` names: the same on every fetch (and for the
/// committer's own), another for every reader, and from a secret of the reader's, so it links
/// nothing to the reader's capability.
fn receipt(reader: &ReadCap, offer: &FileOffer) -> [u8; 16] {
    let mut hash = Sha256::new();
    hash.update(b"sotto object receipt v1");
    hash.update(reader.key.to_bytes());
    hash.update(offer.digest);
    for host in &offer.hosts {
        hash.update(host.read_id.as_bytes());
    }
    let mut receipt = [0u8; 16];
    receipt.copy_from_slice(&hash.finalize()[..16]);
    receipt
}
