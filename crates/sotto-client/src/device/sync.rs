//! Catching up: answers to links, then every conversation's mailbox, in the host's order.

use std::time::Duration;

use sotto_proto::conversation::MessageId;
use sotto_proto::ErrorCode;

use super::Device;
use crate::conversation::apply::{apply, Applied};
use crate::conversation::{ConversationError, Event};
use crate::ClientError;

/// How long a push waiter pauses after its client failed, before it tries again.
const WAITER_BACKOFF: Duration = Duration::from_secs(1);

impl Device {
    /// Applies everything waiting for this device. New texts land in the store (see
    /// `Store::take_unshown`); the rest is returned as events.
    pub async fn sync(&mut self) -> Result<Vec<Event>, ConversationError> {
        let mut events = Vec::new();
        self.accept_answers(&mut events).await?;
        for conversation in self.store.conversations()? {
            match self
                .sync_conversation(conversation.number, &mut events)
                .await
            {
                Ok(()) => self.update_if_due(conversation.number).await?,
                // One conversation's mailbox gone must not stop all the others.
                Err(error) if error.is_gone() => events.push(Event::Rejected {
                    alias: conversation.alias,
                    reason: "its mailbox is gone from its host (unused for too long?)".into(),
                }),
                Err(error) => return Err(error),
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

    /// Waits up to `timeout` for anything to arrive for this device, without polling (see
    /// [`listen`](Self::listen)). Call [`sync`](Self::sync) afterwards.
    pub async fn wait(&mut self, timeout: Duration) -> Result<bool, ConversationError> {
        Ok(self.listen().await?.next(timeout).await)
    }

    /// Subscribes to every mailbox this device reads, so that what arrives from now on is
    /// pushed to it; the [`Listener`] says when something did.
    pub async fn listen(&mut self) -> Result<Listener, ConversationError> {
        let mut reads = Vec::new();
        for invitation in self.store.invitations()? {
            reads.push((invitation.request_host, invitation.request));
        }
        for conversation in self.store.conversations()? {
            reads.push((conversation.host, conversation.read));
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let mut listener = Listener {
            receiver,
            waiters: tokio::task::JoinSet::new(),
            waiting: false,
        };
        let mut waiting_on = std::collections::HashSet::new();
        for (host, read) in reads {
            let client = self.host(host).await?;
            match client.subscribe(&read).await {
                Ok(waiting) => listener.waiting |= !waiting.is_empty(),
                // `sync` reports a mailbox that is gone; the others are still worth hearing.
                Err(ClientError::Host(ErrorCode::Auth)) => continue,
                Err(error) => return Err(error.into()),
            }
            let sender = sender.clone();
            // One waiter per host: its client hands out the pushes of all its subscriptions.
            // A failure signals too, so that the listener's owner finds out on a sync; the
            // waiter keeps going (the client renews its subscriptions on the next try).
            if waiting_on.insert(host) {
                listener.waiters.spawn(async move {
                    loop {
                        let failed = client.next_push().await.is_err();
                        if sender.send(()).await.is_err() {
                            return;
                        }
                        if failed {
                            tokio::time::sleep(WAITER_BACKOFF).await;
                        }
                    }
                });
            }
        }
        Ok(listener)
    }
}

/// Subscriptions of a device, signalling each push (dropping it stops listening).
pub struct Listener {
    receiver: tokio::sync::mpsc::Receiver<()>,
    waiters: tokio::task::JoinSet<()>,
    /// Something was already waiting when the subscriptions were made.
    waiting: bool,
}

impl Listener {
    /// Whether anything arrived (or already waited) within `timeout`. Pushes that arrive
    /// together may be signalled once: sync after each. With nothing to listen to, it waits
    /// the whole `timeout` (never returning at once, which would spin its caller).
    pub async fn next(&mut self, timeout: Duration) -> bool {
        if std::mem::take(&mut self.waiting) {
            return true;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
            Ok(Some(())) => true,
            Ok(None) => {
                tokio::time::sleep_until(deadline).await;
                false
            }
            Err(_) => false,
        }
    }
}
