//! Catching up: answers to links, then every conversation's mailbox, in the host's order.

use std::time::Duration;

use sotto_proto::conversation::MessageId;

use super::Device;
use crate::conversation::apply::{apply, Applied};
use crate::conversation::{ConversationError, Event};

impl Device {
    /// Applies everything waiting for this device. New texts land in the store (see
    /// `Store::take_unshown`); the rest is returned as events.
    pub async fn sync(&mut self) -> Result<Vec<Event>, ConversationError> {
        let mut events = Vec::new();
        self.accept_answers(&mut events).await?;
        for conversation in self.store.conversations()? {
            self.sync_conversation(conversation.number, &mut events)
                .await?;
            self.update_if_due(conversation.number).await?;
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
        let mut resend = Vec::new();
        let mut received: Vec<MessageId> = Vec::new();
        let mut delivered = 0;
        loop {
            let messages = client.fetch(&conversation.read).await?;
            let Some(last) = messages.last().map(|m| m.seq) else {
                break;
            };
            // Reload per batch: `applied_seq` guards against applying twice.
            let current = self.store.conversation_by_number(number)?;
            for message in &messages {
                match apply(&self.store, &current, message)? {
                    Applied::Text { id, .. } => received.push(id),
                    Applied::Receipt { count } => delivered += count,
                    Applied::Resend(content) => resend.push(content),
                    Applied::Rejected(reason) => events.push(Event::Rejected {
                        alias: current.alias.clone(),
                        reason,
                    }),
                    Applied::Removed => {
                        events.push(Event::Removed {
                            alias: current.alias.clone(),
                        });
                        return Ok(());
                    }
                    Applied::Again | Applied::Commit | Applied::Confirmed | Applied::Stale => {}
                }
            }
            client.ack(&conversation.read, last).await?;
        }
        if delivered > 0 {
            events.push(Event::Delivered {
                alias: conversation.alias.clone(),
                count: delivered,
            });
        }
        for content in resend {
            self.write_content(&conversation, content, |_| Ok(()))
                .await?;
        }
        if !received.is_empty() {
            self.send_receipts(&conversation, &received).await?;
        }
        Ok(())
    }

    /// Waits up to `timeout` for anything to arrive for this device, without polling: it
    /// subscribes to every mailbox it reads and returns at the first push (or at once if
    /// something already waits). Call [`sync`](Self::sync) afterwards.
    pub async fn wait(&mut self, timeout: Duration) -> Result<bool, ConversationError> {
        let mut reads = Vec::new();
        for invitation in self.store.invitations()? {
            reads.push((invitation.request_host, invitation.request));
        }
        for conversation in self.store.conversations()? {
            reads.push((conversation.host, conversation.read));
        }
        let (sender, mut receiver) = tokio::sync::mpsc::channel(1);
        let mut waiters = tokio::task::JoinSet::new();
        let mut waiting_on = std::collections::HashSet::new();
        for (host, read) in reads {
            let client = self.host(host).await?;
            if !client.subscribe(&read).await?.is_empty() {
                return Ok(true);
            }
            let sender = sender.clone();
            // One waiter per host: its client hands out the pushes of all its subscriptions.
            if waiting_on.insert(host) {
                waiters.spawn(async move {
                    if client.next_push().await.is_ok() {
                        let _ = sender.send(()).await;
                    }
                });
            }
        }
        drop(sender);
        let arrived = tokio::time::timeout(timeout, receiver.recv()).await;
        waiters.abort_all();
        Ok(matches!(arrived, Ok(Some(()))))
    }
}
