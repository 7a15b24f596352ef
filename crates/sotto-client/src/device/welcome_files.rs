//! Welcomes too big for one message (a group's ratchet tree grows with every member): the
//! adder stores the Welcome as a file object its joiner alone reads and sends the offer for
//! it (Content kind 16); the joiner's device keeps that offer until it has fetched the
//! Welcome, checked it against the offer's digest, and joined.

use ed25519_dalek::SigningKey;
use rand::RngCore;
use sotto_proto::conversation::Content;
use sotto_proto::file_offer::{ChunkHost, FileKind, FileOffer};

use super::files::file_error;
use super::sync::report;
use super::{Device, Network};
use crate::conversation::apply::Applied;
use crate::conversation::{ConversationError, Event};
use crate::files::{fetch_object, put_object, FileError, FileKey, FileRead, StoredObject};
use crate::group::invitation;
use crate::store::{now_ms, StoreError};
use crate::ClientError;

impl<N: Network> Device<N> {
    /// Stores `welcome` at a host for its one joiner, and returns the offer naming it.
    pub(super) async fn put_welcome(
        &mut self,
        welcome: &[u8],
    ) -> Result<FileOffer, ConversationError> {
        let host = self.choose_host()?;
        let client = self.host(host).await?;
        let stored = put_object(&client, welcome, 1)
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
        })
    }

    /// Fetches every Welcome that came as a file object and joins its group. A fetch the
    /// network failed stays for next time; a Welcome that cannot be had or does not join ends
    /// its invitation, said once. Returns whether this device joined a group.
    pub(super) async fn join_from_welcome_files(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Result<bool, ConversationError> {
        let mut joined = false;
        for (contact, encoded) in self.store.group_welcome_files()? {
            let Ok(Content::GroupWelcomeFile {
                invite,
                offer,
                mailbox,
                read_id,
            }) = Content::decode(&encoded)
            else {
                return Err(StoreError::Damaged("a kept welcome by file").into());
            };
            let conversation = self.store.conversation_by_number(contact)?;
            let welcome = match self.fetch_welcome(&offer).await {
                Ok(welcome) => welcome,
                Err(FileError::Network(error)) if !matches!(error, ClientError::Host(_)) => {
                    report(conversation.alias, ConversationError::Network(error), events)?;
                    continue;
                }
                Err(error) => {
                    self.store.take_group_join(&invite, contact)?;
                    report(conversation.alias, file_error(error), events)?;
                    continue;
                }
            };
            let applied = self.store.transaction(|store| {
                invitation::welcomed(store, &conversation, invite, &welcome, &mailbox, read_id)
            });
            match applied {
                Ok(Applied::JoinedGroup { alias }) => {
                    events.push(Event::JoinedGroup { alias });
                    joined = true;
                }
                Ok(_) => {}
                Err(error) => {
                    self.store.take_group_join(&invite, contact)?;
                    report(conversation.alias, error, events)?;
                }
            }
        }
        Ok(joined)
    }

    async fn fetch_welcome(&mut self, offer: &FileOffer) -> Result<Vec<u8>, FileError> {
        let [host] = offer.hosts.as_slice() else {
            return Err(FileError::Internal(
                "a welcome by file spread over several hosts".into(),
            ));
        };
        let client = self
            .host(host.host)
            .await
            .map_err(|error| FileError::Internal(error.to_string()))?;
        let stored = StoredObject {
            key: FileKey::from_bytes(offer.key),
            read: FileRead {
                id: host.read_id,
                key: SigningKey::from_bytes(&host.read_key),
            },
            digest: offer.digest,
            size: offer.size,
        };
        fetch_object(&client, &stored).await
    }
}
