//! Writing to a conversation: texts and the regular self-update (receipts and resends:
//! `write_back`).

use rand::RngCore;
use sotto_proto::conversation::{Content, MessageId, MAX_TEXT_LEN};

use super::{Device, Network};
use crate::conversation::change::Change;
use crate::conversation::seal::{drop_pending_commit, seal, seal_self_update, update_pending};
use crate::conversation::text::text_contents;
use crate::conversation::{encoding, ConversationError};
use crate::store::{now_ms, Conversation, Store, StoreError};

/// A device commits a self-update after this many texts (sent or received) in a conversation,
/// so a stolen state stops decrypting soon after (post-compromise security), also on a device
/// that only reads.
pub const SELF_UPDATE_EVERY: u32 = 50;
/// How many times `send` reads the mailbox waiting for its self-update to come back.
const UPDATE_ROUNDS: usize = 20;

impl<N: Network> Device<N> {
    /// Sends a text, replying to `reply_to` if given. Returns its id.
    pub async fn send(
        &mut self,
        alias: &str,
        text: &str,
        reply_to: Option<MessageId>,
    ) -> Result<MessageId, ConversationError> {
        if text.len() > MAX_TEXT_LEN {
            return Err(ConversationError::Encode {
                what: "the text",
                source: sotto_proto::DecodeError::TooLong {
                    what: "text",
                    len: text.len(),
                    max: MAX_TEXT_LEN,
                },
            });
        }
        let number = self.conversation_number(alias)?;
        self.catch_up_to_write(number).await?;
        self.may_send(number)?;
        self.update_if_due(number).await?;
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let sent_at_ms = now_ms();
        let contents = text_contents(id, sent_at_ms, reply_to, text)?;
        let last = contents.len() - 1;
        for (index, content) in contents.into_iter().enumerate() {
            let conversation = self.store.conversation_by_number(number)?;
            // The text is recorded with its last part: until then it is not sent.
            let record = |store: &Store| {
                if index < last {
                    return Ok(());
                }
                store.add_message(number, &id, true, text, reply_to.as_ref(), sent_at_ms)?;
                store.count_message_since_update(number)
            };
            self.write_content(&conversation, content, record).await?;
        }
        Ok(id)
    }

    /// Changes message `target` of the conversation with `alias`, for both sides: edits or
    /// deletes one of this device's messages, or reacts to either side's.
    pub async fn change(
        &mut self,
        alias: &str,
        target: MessageId,
        change: Change,
    ) -> Result<(), ConversationError> {
        let number = self.conversation_number(alias)?;
        match self.store.sent_here(number, &target)? {
            None => return Err(ConversationError::UnknownMessage),
            Some(false) if change.senders_only() => return Err(ConversationError::NotYourMessage),
            Some(_) => {}
        }
        let content = change
            .content(target)
            .encode()
            .map_err(encoding("the change"))?;
        self.catch_up_to_write(number).await?;
        self.may_send(number)?;
        let conversation = self.store.conversation_by_number(number)?;
        let record = |store: &Store| change.record(store, number, &target, true).map(|_| ());
        self.write_content(&conversation, content, record).await
    }

    /// Sets the disappearing timer of the conversation with `alias`, for both sides: messages
    /// stored from then on go `seconds` later (0: they stay).
    pub async fn set_timer(&mut self, alias: &str, seconds: u32) -> Result<(), ConversationError> {
        let number = self.conversation_number(alias)?;
        let content = Content::Timer { seconds }
            .encode()
            .map_err(encoding("the timer"))?;
        self.catch_up_to_write(number).await?;
        let conversation = self.store.conversation_by_number(number)?;
        let record = |store: &Store| store.set_timer(number, seconds);
        self.write_content(&conversation, content, record).await
    }

    /// Deletes the messages whose disappearing time came; returns how many.
    pub fn forget_expired(&self) -> Result<usize, ConversationError> {
        Ok(self.store.forget_expired(now_ms())?)
    }

    /// A device listening to the conversation has applied what arrived (and a message that
    /// crosses a commit anyway comes back to be sealed again, see `apply`): it writes at once.
    /// One that is not listening catches up first, or a message sealed in an epoch the other
    /// side already left would wait for its resend until this device next reads, and the
    /// unread would pile up at the host until it refuses writes.
    pub(super) async fn catch_up_to_write(&mut self, number: i64) -> Result<(), ConversationError> {
        if !self.is_listening_to(number)? {
            let mut events = Vec::new();
            self.sync_conversation(number, &mut events).await?;
            self.listening.events.extend(events);
        }
        Ok(())
    }

    pub(super) fn conversation_number(&self, alias: &str) -> Result<i64, ConversationError> {
        let conversation = self
            .store
            .conversation(alias)?
            .ok_or_else(|| ConversationError::UnknownContact(alias.to_string()))?;
        if conversation.removed {
            return Err(ConversationError::RemovedFrom(alias.to_string()));
        }
        Ok(conversation.number)
    }

    /// Seals `content` in the conversation's current epoch and writes it. `record` stores
    /// what goes with it in the same transaction as the outbox entry. If the write fails, the
    /// caller reports the error and nothing claims it was sent (see `wrote`).
    pub(super) async fn write_content(
        &mut self,
        conversation: &Conversation,
        content: Vec<u8>,
        record: impl FnOnce(&Store) -> Result<(), StoreError>,
    ) -> Result<(), ConversationError> {
        let wire = seal(&self.store, conversation, content, record)?;
        self.write_wire(conversation, &wire).await
    }

    /// Writes a sealed message; a device listening to the conversation sends it with its own
    /// acknowledgement in one frame (see `wrote`).
    pub(super) async fn write_wire(
        &mut self,
        conversation: &Conversation,
        wire: &[u8],
    ) -> Result<(), ConversationError> {
        let client = self.host(conversation.host).await?;
        let listening = self.listening.listens_to(&conversation.read.id);
        let written = client
            .write_own(
                &conversation.write,
                &conversation.read,
                None,
                listening,
                wire,
            )
            .await;
        self.wrote(conversation, wire, written)
    }

    /// Commits a self-update if enough texts went by since the last one.
    pub(super) async fn update_if_due(&mut self, number: i64) -> Result<(), ConversationError> {
        if self
            .store
            .conversation_by_number(number)?
            .messages_since_update
            >= SELF_UPDATE_EVERY
        {
            self.self_update(number).await?;
        }
        Ok(())
    }

    /// Commits a new leaf key for this device and waits for the host's order to decide it.
    /// If another member's commit wins the epoch, that one serves the same purpose for now and
    /// this device tries again after its next messages.
    async fn self_update(&mut self, number: i64) -> Result<(), ConversationError> {
        let conversation = self.store.conversation_by_number(number)?;
        let wire = seal_self_update(&self.store, &conversation)?;
        self.write_commit(&conversation, &wire).await
    }

    /// Writes this device's pending commit and waits for the host's order to decide it (won,
    /// or void because another commit came first). A commit that did not reach the host is
    /// dropped.
    pub(super) async fn write_commit(
        &mut self,
        conversation: &Conversation,
        wire: &[u8],
    ) -> Result<(), ConversationError> {
        let number = conversation.number;
        let written = if wire.len() > crate::MAX_PLAINTEXT_LEN {
            self.write_large_commit(conversation, wire).await
        } else {
            self.write_wire(conversation, wire).await
        };
        if let Err(error) = written {
            drop_pending_commit(&self.store, conversation)?;
            return Err(error);
        }
        for _ in 0..UPDATE_ROUNDS {
            // Decided already when the host took it in order (see `wrote`).
            if !update_pending(&self.store, conversation)? {
                return Ok(());
            }
            let mut events = Vec::new();
            self.sync_conversation(number, &mut events).await?;
            self.listening.events.extend(events);
        }
        if !update_pending(&self.store, conversation)? {
            return Ok(());
        }
        Err(ConversationError::Mls {
            context: "a commit",
            detail: "the host did not return it; try again".into(),
        })
    }
}
