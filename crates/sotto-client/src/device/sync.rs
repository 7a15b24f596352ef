//! Catching up by fetching: answers to links, then every conversation's mailbox, in the host's
//! order. A long-lived device does this once, then applies pushes as they arrive
//! (`pushes.rs`); one-shot commands that run without listening use it.

use sotto_proto::{Fingerprint, Message};

use super::write_back::Run;
use super::{Device, Network};
use crate::catch_up::ToFetch;
use crate::conversation::apply::{apply, Applied};
use crate::conversation::{ConversationError, Event};
use crate::store::Conversation;

/// What applying a run of one conversation's messages asks the device to do next.
#[derive(Default)]
pub(super) struct Outcome {
    /// This device's messages that crossed a commit: encoded content to seal again.
    pub resend: Vec<Vec<u8>>,
    /// Receipts received for this device's messages.
    pub delivered: usize,
    /// The last position applied (or skipped), to acknowledge.
    pub last: Option<u64>,
    /// The conversation ended for this device: nothing more to read.
    pub ended: bool,
    /// A contact answered this device's invitation into a group: commit it.
    pub group_answered: bool,
    /// This device joined a group: its mailbox is to be read and subscribed.
    pub joined_group: bool,
    /// A Welcome into a group came as a file object: fetch it and join.
    pub welcome_file: bool,
    /// A pushed run stopped at the record of a large MLS message: read the mailbox again,
    /// fetching the message, from there.
    pub fetch_objects: bool,
    /// A member asked to leave a group: remove it, if this device may.
    pub leave_asked: bool,
}

impl<N: Network> Device<N> {
    /// Applies everything waiting for this device, and returns what happened besides new
    /// messages (which land in the store, see `Store::take_unshown`), including what pushes
    /// applied since the last call. One conversation's failure is reported as its event and
    /// does not keep the others from being read. The mailboxes of one host are read together
    /// (`catch_up`), so this costs packets per host, not per conversation.
    pub async fn sync(&mut self) -> Result<Vec<Event>, ConversationError> {
        let mut events = std::mem::take(&mut self.listening.events);
        self.accept_answers(&mut events).await?;
        let mut by_host: Vec<(Fingerprint, Vec<i64>)> = Vec::new();
        for conversation in self.store.conversations()? {
            if conversation.removed {
                continue;
            }
            match by_host
                .iter_mut()
                .find(|(host, _)| *host == conversation.host)
            {
                Some((_, numbers)) => numbers.push(conversation.number),
                None => by_host.push((conversation.host, vec![conversation.number])),
            }
        }
        let mut read: Vec<i64> = by_host.iter().flat_map(|(_, n)| n.clone()).collect();
        for (host, numbers) in by_host {
            for number in self.catch_up(host, numbers, &mut events).await? {
                self.update_if_due(number).await?;
            }
        }
        self.join_from_welcome_files(&mut events).await?;
        // Groups joined while reading (their Welcome came in a conversation) are read too.
        let joined: Vec<i64> = self
            .store
            .conversations()?
            .into_iter()
            .filter(|c| c.group && !c.removed && !read.contains(&c.number))
            .map(|c| c.number)
            .collect();
        for number in joined {
            self.listening.mailbox_added();
            self.sync_conversation(number, &mut events).await?;
            read.push(number);
        }
        self.complete_group_adds(&mut events).await?;
        self.remove_leavers(&mut events).await?;
        Ok(events)
    }

    /// Reads one conversation's mailbox to its end (see `catch_up`).
    pub(super) async fn sync_conversation(
        &mut self,
        number: i64,
        events: &mut Vec<Event>,
    ) -> Result<(), ConversationError> {
        let host = self.store.conversation_by_number(number)?.host;
        self.catch_up(host, vec![number], events).await?;
        Ok(())
    }

    /// Reads the mailboxes of conversations `numbers`, all on `host`, to their end: their
    /// fetches ride together (`MailboxClient::fetch_many`), each message is applied in order,
    /// a mailbox with more waiting is acknowledged and fetched again in the next round, and
    /// then each conversation sends what the order asks for (resends of crossed messages,
    /// receipts for texts) with its last acknowledgement. Returns the conversations read;
    /// the others' failures are their events. Only the network failing is an error.
    async fn catch_up(
        &mut self,
        host: Fingerprint,
        numbers: Vec<i64>,
        events: &mut Vec<Event>,
    ) -> Result<Vec<i64>, ConversationError> {
        let client = self.host(host).await?;
        let mut reading = Vec::with_capacity(numbers.len());
        for number in numbers {
            let conversation = self.store.conversation_by_number(number)?;
            reading.push(Reading {
                acked: None,
                conversation,
                outcome: Outcome::default(),
                ask: None,
                alone: false,
            });
        }
        let mut read = Vec::new();
        while !reading.is_empty() {
            // What an acknowledgement deletes at the host must be safe here first.
            self.store.make_durable()?;
            let asks: Vec<ToFetch> = reading
                .iter()
                .map(|r| ToFetch {
                    read: r.conversation.read.clone(),
                    ack: r.ask,
                    alone: r.alone,
                })
                .collect();
            let answers = client.fetch_many(&asks).await?;
            for (mut r, answer) in std::mem::take(&mut reading).into_iter().zip(answers) {
                if let Some(seq) = r.ask.take() {
                    r.acked = r.acked.max(Some(seq));
                }
                let alias = r.conversation.alias.clone();
                let fetched = match answer {
                    Ok(fetched) => fetched,
                    Err(error) => {
                        let error = ConversationError::from(error);
                        if r.conversation.group && error.is_gone() {
                            // Its reader was taken away: removed (the remover does that once
                            // its commit won), or the group deleted.
                            self.store.mark_removed(r.conversation.number)?;
                            events.push(Event::Removed { alias });
                        } else {
                            report(alias, error, events)?;
                        }
                        continue;
                    }
                };
                // Reload per page: `applied_seq` guards against applying twice.
                let current = self.store.conversation_by_number(r.conversation.number)?;
                let mut messages = fetched.messages;
                // A host serving again what was applied brings nothing to apply.
                if advances(current.applied_seq, &messages) {
                    if current.group {
                        self.resolve_mls_objects(&current, &mut messages).await?;
                    }
                    if let Err(error) = self.apply_run(&current, &messages, &mut r.outcome, events)
                    {
                        report(alias, error, events)?;
                        continue;
                    }
                }
                // Served past what this catch-up acknowledged: something to acknowledge, even
                // if it was all applied before (a crash between applying and acknowledging).
                let served = fetched.served_to.filter(|seq| Some(*seq) > r.acked);
                match (fetched.more && !r.outcome.ended, served) {
                    (true, Some(seq)) => {
                        r.ask = Some(seq);
                        r.alone = false;
                        reading.push(r);
                    }
                    // The batch's room was spent before this fetch: alone it has room.
                    (true, None) if !r.alone => {
                        r.alone = true;
                        reading.push(r);
                    }
                    (true, None) => {
                        tracing::warn!("a host says more waits but serves nothing; stopping");
                        read.push(r);
                    }
                    (false, _) => {
                        r.outcome.last = r.outcome.last.max(served);
                        read.push(r);
                    }
                }
            }
        }
        let runs = read
            .into_iter()
            .map(|r| Run {
                ack: r.outcome.last.filter(|seq| Some(*seq) > r.acked),
                conversation: r.conversation,
                outcome: r.outcome,
            })
            .collect();
        self.write_back(host, runs, events).await
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
                Applied::Receipt { count } => outcome.delivered += count,
                Applied::Timer { seconds } => events.push(Event::Timer {
                    alias: alias.clone(),
                    seconds,
                }),
                Applied::Changed { target } => events.push(Event::Changed {
                    alias: alias.clone(),
                    id: target,
                }),
                Applied::Resend(content) | Applied::Answer(content) => outcome.resend.push(content),
                Applied::GroupAnswered => outcome.group_answered = true,
                Applied::WelcomeFile => outcome.welcome_file = true,
                Applied::LeaveAsked => outcome.leave_asked = true,
                Applied::JoinedGroup { alias } => {
                    events.push(Event::JoinedGroup { alias });
                    outcome.joined_group = true;
                }
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
                Applied::Text { .. }
                | Applied::Again
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
}

/// One conversation being caught up on.
struct Reading {
    conversation: Conversation,
    outcome: Outcome,
    /// The last position this catch-up acknowledged: everything up to it was applied (or
    /// passed: it did not open).
    acked: Option<u64>,
    /// To acknowledge with the next fetch.
    ask: Option<u64>,
    alone: bool,
}

/// Makes one conversation's failure its event; only the network failing, everyone's problem,
/// is returned, rather than reported once per conversation.
pub(super) fn report(
    alias: String,
    error: ConversationError,
    events: &mut Vec<Event>,
) -> Result<(), ConversationError> {
    match error {
        error if error.is_gone() => events.push(mailbox_gone(alias)),
        error @ ConversationError::Network(_) => return Err(error),
        error => events.push(Event::Rejected {
            alias,
            reason: error.to_string(),
        }),
    }
    Ok(())
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
