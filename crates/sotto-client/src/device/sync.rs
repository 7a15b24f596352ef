//! Catching up by fetching: answers to links, then every conversation's mailbox, in the host's
//! order. A long-lived device does this once, then applies pushes as they arrive
//! (`pushes.rs`); one-shot commands that run without listening use it.

use sotto_proto::conversation::MessageId;
use sotto_proto::Message;

use super::{Device, Network};
use crate::conversation::apply::{apply, Applied};
use crate::conversation::{ConversationError, Event};
use crate::store::Conversation;

/// What applying a run of one conversation's messages asks the device to do next.
#[derive(Default)]
pub(super) struct Outcome {
    /// Texts received: their sender wants receipts.
    pub received: Vec<MessageId>,
    /// This device's messages that crossed a commit: encoded content to seal again.
    pub resend: Vec<Vec<u8>>,
    /// Receipts received for this device's messages.
    pub delivered: usize,
    /// The last position applied (or skipped), to acknowledge.
    pub last: Option<u64>,
    /// The conversation ended for this device: nothing more to read.
    pub ended: bool,
}

impl<N: Network> Device<N> {
    /// Applies everything waiting for this device, and returns what happened besides new
    /// messages (which land in the store, see `Store::take_unshown`), including what pushes
    /// applied since the last call. One conversation's failure is reported as its event and
    /// does not keep the others from being read.
    pub async fn sync(&mut self) -> Result<Vec<Event>, ConversationError> {
        let mut events = std::mem::take(&mut self.listening.events);
        self.accept_answers(&mut events).await?;
        for conversation in self.store.conversations()? {
            if conversation.removed {
                continue;
            }
            let alias = conversation.alias.clone();
            match self
                .sync_conversation(conversation.number, &mut events)
                .await
            {
                Ok(()) => self.update_if_due(conversation.number).await?,
                Err(error) if error.is_gone() => events.push(mailbox_gone(alias)),
                // The network failing is everyone's problem: say so rather than reporting it
                // once per conversation.
                Err(error @ ConversationError::Network(_)) => return Err(error),
                Err(error) => events.push(Event::Rejected {
                    alias,
                    reason: error.to_string(),
                }),
            }
        }
        Ok(events)
    }

    /// Reads one conversation's mailbox to its end: applies each message, acknowledges them,
    /// then sends what the order asks for (resends of crossed messages, receipts for texts).
    pub(super) async fn sync_conversation(
        &mut self,
        number: i64,
        events: &mut Vec<Event>,
    ) -> Result<(), ConversationError> {
        let conversation = self.store.conversation_by_number(number)?;
        let client = self.host(conversation.host).await?;
        let mut outcome = Outcome::default();
        loop {
            let messages = client.fetch(&conversation.read).await?;
            // Reload per batch: `applied_seq` guards against applying twice.
            let current = self.store.conversation_by_number(number)?;
            if !advances(current.applied_seq, &messages) {
                // Empty, or a host serving again what was applied and acknowledged: reading on
                // would never end.
                break;
            }
            let last = outcome.last;
            self.apply_run(&current, &messages, &mut outcome, events)?;
            if let Some(last) = outcome.last.filter(|seq| Some(*seq) != last) {
                // What the acknowledgement deletes at the host must be safe here first.
                self.store.make_durable()?;
                client.ack(&conversation.read, last).await?;
            }
            if outcome.ended {
                return Ok(());
            }
        }
        self.after_run(&conversation, outcome, None, events).await
    }

    /// Applies messages of one conversation in order, gathering what to do afterwards.
    pub(super) fn apply_run(
        &self,
        conversation: &Conversation,
        messages: &[Message],
        outcome: &mut Outcome,
        events: &mut Vec<Event>,
    ) -> Result<(), ConversationError> {
        let alias = &conversation.alias;
        for message in messages {
            // Reload per message: the previous one may have moved the epoch or the position.
            let current = self.store.conversation_by_number(conversation.number)?;
            match apply(&self.store, &current, message)? {
                Applied::Text { id, .. } => outcome.received.push(id),
                Applied::Receipt { count } => outcome.delivered += count,
                Applied::Timer { seconds } => events.push(Event::Timer {
                    alias: alias.clone(),
                    seconds,
                }),
                Applied::Changed { target } => events.push(Event::Changed {
                    alias: alias.clone(),
                    id: target,
                }),
                Applied::Resend(content) => outcome.resend.push(content),
                Applied::Rejected(reason) => events.push(Event::Rejected {
                    alias: alias.clone(),
                    reason,
                }),
                Applied::Removed => {
                    events.push(Event::Removed {
                        alias: alias.clone(),
                    });
                    outcome.ended = true;
                }
                Applied::Ended => outcome.ended = true,
                Applied::Again
                | Applied::Commit
                | Applied::Confirmed
                | Applied::Stale
                | Applied::Part => {}
            }
            outcome.last = Some(outcome.last.map_or(message.seq, |l| l.max(message.seq)));
            if outcome.ended {
                break;
            }
        }
        Ok(())
    }

    /// Sends what a run of messages asked for: resends of crossed messages, then receipts.
    /// `ack`, the acknowledgement of the run, rides with the first of them (or goes alone).
    pub(super) async fn after_run(
        &mut self,
        conversation: &Conversation,
        outcome: Outcome,
        mut ack: Option<u64>,
        events: &mut Vec<Event>,
    ) -> Result<(), ConversationError> {
        if outcome.delivered > 0 {
            events.push(Event::Delivered {
                alias: conversation.alias.clone(),
                count: outcome.delivered,
            });
        }
        if !outcome.ended {
            for content in outcome.resend {
                self.write_content(conversation, content, |_| Ok(()), ack.take())
                    .await?;
            }
            if !outcome.received.is_empty() {
                self.send_receipts(conversation, &outcome.received, ack.take())
                    .await?;
            }
        }
        if let Some(seq) = ack {
            let client = self.host(conversation.host).await?;
            client.ack(&conversation.read, seq).await?;
        }
        Ok(())
    }
}

/// What a person hears of a conversation whose mailbox its host no longer has.
pub(super) fn mailbox_gone(alias: String) -> Event {
    Event::Rejected {
        alias,
        reason: "its mailbox is gone from its host (unused for too long?)".into(),
    }
}

/// Whether a fetch brought anything past `applied`: a host that keeps serving the same
/// messages after they were acknowledged must not keep the device reading forever.
fn advances(applied: u64, messages: &[Message]) -> bool {
    messages.iter().any(|m| m.seq > applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seq: u64) -> Message {
        Message {
            seq,
            written_at: 0,
            body: Vec::new(),
        }
    }

    #[test]
    fn a_fetch_that_serves_only_applied_messages_ends_the_reading() {
        assert!(!advances(3, &[]));
        assert!(!advances(3, &[at(2), at(3)]), "served again after the ack");
        assert!(advances(3, &[at(3), at(4)]));
    }
}
