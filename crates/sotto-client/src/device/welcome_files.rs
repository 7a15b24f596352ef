//! Welcomes too big for one message (a group's ratchet tree grows with every member): the
//! adder stores the Welcome as a file object its joiner alone reads and sends the offer for
//! it (Content kind 16); the joiner's device keeps that offer until it has fetched the
//! Welcome, checked it against the offer's digest, and joined.

use sotto_proto::conversation::Content;

use super::files::file_error;
use super::sync::report;
use super::{Device, Network};
use crate::conversation::apply::Applied;
use crate::conversation::{ConversationError, Event};
use crate::files::FileError;
use crate::group::invitation;
use crate::store::StoreError;
use crate::ClientError;

impl<N: Network> Device<N> {
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
            let welcome = match self.fetch_mls_object(&offer, &conversation.read).await {
                Ok(welcome) => welcome,
                Err(FileError::Network(error)) if !matches!(error, ClientError::Host(_)) => {
                    report(
                        conversation.alias,
                        ConversationError::Network(error),
                        events,
                    )?;
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
}
