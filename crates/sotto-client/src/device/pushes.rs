//! Pushes applied as they arrive. Every mailbox the device reads is subscribed once; each
//! host's pushes come out of one waiter task, in order per mailbox, and the device applies
//! each message where it lands. Only a gap in a mailbox's sequence fetches, and only that
//! mailbox (`MailboxClient::next_push`), so what one incoming message costs does not depend on
//! how many conversations the device has.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use sotto_proto::mls_object::MlsObject;
use sotto_proto::{ErrorCode, Fingerprint, Id, Message, Push};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::sync::{mailbox_gone, report, Outcome};
use super::write_back::Run;
use super::{Device, Network};
use crate::capability::ReadCap;
use crate::conversation::{ConversationError, Event};
use crate::store::{self, Conversation};
use crate::ClientError;

/// How long a push waiter pauses after its client failed, before it tries again.
const WAITER_BACKOFF: Duration = Duration::from_secs(1);
/// Arrivals queued for the device; a waiter that finds the queue full waits (and so does its
/// host's pushes, which the host keeps until acknowledged).
const ARRIVALS: usize = 256;

/// A mailbox to subscribe, with the alias of its conversation (none for a link's request
/// mailbox).
type ToListen = (ReadCap, Option<String>);

/// One push (or a failure to receive pushes) from one of the device's hosts.
pub struct Arrival {
    host: Fingerprint,
    push: Result<Push, ClientError>,
}

/// Where a device's pushes arrive; taken by a loop that waits on other things too (see
/// [`Device::arrivals`]).
pub struct Arrivals(mpsc::Receiver<Arrival>);

impl Arrivals {
    /// The next arrival; `None` only if the device is gone.
    pub async fn recv(&mut self) -> Option<Arrival> {
        self.0.recv().await
    }

    /// The next arrival and whatever else already came with it, to apply together.
    pub async fn recv_all(&mut self) -> Option<Vec<Arrival>> {
        let mut batch = vec![self.0.recv().await?];
        while let Ok(more) = self.0.try_recv() {
            batch.push(more);
        }
        Some(batch)
    }
}

/// A device's subscriptions and the tasks that wait for their pushes.
pub(super) struct Listening {
    sender: mpsc::Sender<Arrival>,
    receiver: Option<Arrivals>,
    waiters: JoinSet<()>,
    /// Hosts with a waiter.
    hosts: HashSet<Fingerprint>,
    /// Mailboxes subscribed, by read id.
    reads: HashSet<Id>,
    /// Whether the store may hold a mailbox not subscribed yet: `listen` reads the store only
    /// then, so a loop can call it on every turn.
    added: bool,
    /// What pushes applied that no caller has taken yet (see `Device::sync`).
    pub(super) events: Vec<Event>,
}

impl Listening {
    pub(super) fn new() -> Self {
        let (sender, receiver) = mpsc::channel(ARRIVALS);
        Self {
            sender,
            receiver: Some(Arrivals(receiver)),
            waiters: JoinSet::new(),
            hosts: HashSet::new(),
            reads: HashSet::new(),
            added: true,
            events: Vec::new(),
        }
    }

    /// Whether the mailbox `read` reads is subscribed, so what arrives there is pushed.
    pub(super) fn listens_to(&self, read: &Id) -> bool {
        self.reads.contains(read)
    }

    /// Forgets every subscription: its connections are gone (a new network file), so the
    /// next `listen` makes them again on the new ones.
    pub(super) fn reset(&mut self) {
        self.waiters.abort_all();
        self.hosts.clear();
        self.reads.clear();
        self.added = true;
    }

    /// A link or conversation was stored: the next `listen` subscribes its mailbox.
    pub(super) fn mailbox_added(&mut self) {
        self.added = true;
    }
}

impl<N: Network> Device<N> {
    /// Subscribes to every mailbox this device reads and is not subscribed to yet, so that
    /// what arrives from now on is pushed to it (and what waits already comes first). Cheap to
    /// call again: unless a mailbox was added since, it does nothing, and only new mailboxes
    /// cost a request.
    pub async fn listen(&mut self) -> Result<(), ConversationError> {
        if !self.listening.added {
            return Ok(());
        }
        let mut reads = Vec::new();
        for invitation in self.store.invitations()? {
            reads.push((invitation.request_host, invitation.request, None));
        }
        for conversation in self.store.conversations()? {
            if !conversation.removed {
                reads.push((
                    conversation.host,
                    conversation.read,
                    Some(conversation.alias),
                ));
            }
        }
        // The mailboxes of one host are subscribed together, sixteen to a frame.
        let mut by_host: Vec<(Fingerprint, Vec<ToListen>)> = Vec::new();
        for (host, read, alias) in reads {
            if self.listening.reads.contains(&read.id) {
                continue;
            }
            match by_host.iter_mut().find(|(h, _)| *h == host) {
                Some((_, reads)) => reads.push((read, alias)),
                None => by_host.push((host, vec![(read, alias)])),
            }
        }
        for (host, reads) in by_host {
            let client = self.host(host).await?;
            let caps: Vec<ReadCap> = reads.iter().map(|(read, _)| read.clone()).collect();
            let listened = client.listen_many(&caps).await?;
            for ((read, alias), listened) in reads.into_iter().zip(listened) {
                match listened {
                    Ok(()) => {}
                    // The mailbox expired or was deleted: said here for a conversation; an
                    // expired link is found by `accept_answers`.
                    Err(ClientError::Host(ErrorCode::Auth)) => {
                        if let Some(alias) = alias {
                            self.listening.events.push(mailbox_gone(alias));
                        }
                    }
                    Err(error) => return Err(error.into()),
                }
                self.listening.reads.insert(read.id);
            }
            if self.listening.hosts.insert(host) {
                let sender = self.listening.sender.clone();
                // One waiter per host: its client hands out the pushes of all its
                // subscriptions, renewing them when their path is lost.
                self.listening.waiters.spawn(async move {
                    loop {
                        let push = client.next_push().await;
                        let failed = push.is_err();
                        if sender.send(Arrival { host, push }).await.is_err() {
                            return;
                        }
                        if failed {
                            tokio::time::sleep(WAITER_BACKOFF).await;
                        }
                    }
                });
            }
        }
        self.listening.added = false;
        Ok(())
    }

    /// Whether the conversation's mailbox is subscribed, so what arrives is pushed.
    pub(super) fn is_listening_to(&self, number: i64) -> Result<bool, ConversationError> {
        let conversation = self.store.conversation_by_number(number)?;
        Ok(self.listening.listens_to(&conversation.read.id))
    }

    /// Hands the arrivals over to a loop that also waits on other things; from then on
    /// [`wait`](Self::wait) cannot see them and that loop passes each to
    /// [`apply_arrivals`](Self::apply_arrivals).
    pub fn arrivals(&mut self) -> Option<Arrivals> {
        self.listening.receiver.take()
    }

    /// Waits up to `timeout` for pushes (subscribing first where needed) and applies what
    /// came, follow-ups included; the events are returned by the next [`sync`](Self::sync) or
    /// [`take_events`](Self::take_events). Says whether anything arrived.
    pub async fn wait(&mut self, timeout: Duration) -> Result<bool, ConversationError> {
        self.listen().await?;
        let Some(mut arrivals) = self.listening.receiver.take() else {
            tokio::time::sleep(timeout).await;
            return Ok(false);
        };
        let batch = tokio::time::timeout(timeout, arrivals.recv_all())
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        self.listening.receiver = Some(arrivals);
        let arrived = !batch.is_empty();
        let (mut events, follow_up) = self.apply_arrivals(batch)?;
        events.extend(self.follow_up(follow_up).await?);
        self.listening.events.extend(events);
        Ok(arrived)
    }

    /// Events that pushes applied by [`wait`](Self::wait) produced, not yet taken.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.listening.events)
    }

    /// Applies pushed messages, each conversation's run in order, and answers to this
    /// device's links (which become conversations). Touches only the store: what it leaves
    /// for the network (acknowledgements, resends, receipts) is returned, to pass to
    /// [`follow_up`](Self::follow_up) once the events are shown, so a person sees a message
    /// as soon as it is applied. A failure of one conversation is reported as its event; a
    /// failure to receive pushes is returned when nothing else came.
    pub fn apply_arrivals(
        &mut self,
        arrivals: Vec<Arrival>,
    ) -> Result<(Vec<Event>, FollowUp), ConversationError> {
        let mut events = Vec::new();
        let mut follow_up = FollowUp::default();
        let mut failure = None;
        let mut runs: BTreeMap<Id, Vec<Message>> = BTreeMap::new();
        for arrival in arrivals {
            match arrival.push {
                Ok(push) => runs.entry(push.read_id).or_default().push(push.message),
                Err(error) => {
                    tracing::debug!(%error, host = %arrival.host, "receiving pushes failed");
                    failure = Some(error);
                }
            }
        }
        for (read_id, messages) in runs {
            if let Some(conversation) = self.store.conversation_by_read_id(&read_id)? {
                let mut outcome = Outcome::default();
                // What comes from the record of a large MLS message on waits for the fetch
                // of the message (`follow_up` reads the mailbox again).
                let resolved = messages
                    .iter()
                    .position(|m| MlsObject::is_one(&m.body))
                    .unwrap_or(messages.len());
                outcome.fetch_objects = resolved < messages.len();
                match self.apply_run(
                    &conversation,
                    &messages[..resolved],
                    &mut outcome,
                    &mut events,
                ) {
                    Ok(()) => follow_up.runs.push((conversation, outcome)),
                    Err(error) => events.push(Event::Rejected {
                        alias: conversation.alias,
                        reason: error.to_string(),
                    }),
                }
                continue;
            }
            let invitation = self
                .store
                .invitations()?
                .into_iter()
                .find(|invitation| invitation.request.id == read_id);
            // Otherwise a conversation or link this device no longer has: nothing to do.
            if let (Some(invitation), Some(answer)) = (invitation, messages.first()) {
                follow_up.connected |= self.take_answer(&invitation, &answer.body, &mut events)?;
                follow_up.spent.push(invitation);
            }
        }
        match failure {
            Some(error) if events.is_empty() && follow_up.is_empty() => Err(error.into()),
            _ => Ok((events, follow_up)),
        }
    }

    /// Does the network work applying pushes left: per conversation, the acknowledgement
    /// (which also tops up the host's reply blocks for later pushes) together with the
    /// resends and receipts; spent links are deleted, and new conversations subscribed.
    pub async fn follow_up(
        &mut self,
        follow_up: FollowUp,
    ) -> Result<Vec<Event>, ConversationError> {
        let mut events = Vec::new();
        let group_answered = follow_up.runs.iter().any(|(_, o)| o.group_answered);
        let welcome_file = follow_up.runs.iter().any(|(_, o)| o.welcome_file);
        let mut joined_group = follow_up.runs.iter().any(|(_, o)| o.joined_group);
        let leave_asked = follow_up.runs.iter().any(|(_, o)| o.leave_asked);
        let fetch_objects: Vec<i64> = follow_up
            .runs
            .iter()
            .filter(|(_, o)| o.fetch_objects)
            .map(|(c, _)| c.number)
            .collect();
        // The acknowledgement of each run rides with its receipts, and the runs of one host
        // ride together.
        let runs = follow_up
            .runs
            .into_iter()
            .map(|(conversation, outcome)| Run {
                ack: outcome.last,
                conversation,
                outcome,
            });
        for (host, runs) in by_host(runs) {
            for number in self.write_back(host, runs, &mut events).await? {
                if let Err(error) = self.update_if_due(number).await {
                    let alias = self.store.conversation_by_number(number)?.alias;
                    report(alias, error, &mut events)?;
                }
            }
        }
        events.extend(self.send_owed_receipts().await?);
        for number in fetch_objects {
            self.sync_conversation(number, &mut events).await?;
        }
        for invitation in &follow_up.spent {
            self.forget_link(invitation).await?;
        }
        if group_answered {
            self.complete_group_adds(&mut events).await?;
        }
        if leave_asked {
            self.remove_leavers(&mut events).await?;
        }
        if welcome_file {
            joined_group |= self.join_from_welcome_files(&mut events).await?;
        }
        if joined_group {
            self.listening.mailbox_added();
        }
        if follow_up.connected || joined_group {
            self.listen().await?;
        }
        Ok(events)
    }

    /// Sends the receipts a failure left owed (`Store::receipts_owed`) in conversations
    /// nothing arrived in since; the others sent theirs with their acknowledgement. A loop
    /// whose follow-up failed calls this once the network is back.
    pub async fn send_owed_receipts(&mut self) -> Result<Vec<Event>, ConversationError> {
        let mut events = Vec::new();
        let mut runs = Vec::new();
        for number in self.store.owing_receipts()? {
            runs.push(Run {
                conversation: self.store.conversation_by_number(number)?,
                outcome: Outcome::default(),
                ack: None,
            });
        }
        for (host, runs) in by_host(runs) {
            self.write_back(host, runs, &mut events).await?;
        }
        Ok(events)
    }
}

/// Runs grouped by the host of their conversation, in the order each host first comes.
fn by_host(runs: impl IntoIterator<Item = Run>) -> Vec<(Fingerprint, Vec<Run>)> {
    let mut hosts: Vec<(Fingerprint, Vec<Run>)> = Vec::new();
    for run in runs {
        let host = run.conversation.host;
        match hosts.iter_mut().find(|(h, _)| *h == host) {
            Some((_, runs)) => runs.push(run),
            None => hosts.push((host, vec![run])),
        }
    }
    hosts
}

/// Network work that applying pushes leaves for afterwards (see [`Device::apply_arrivals`]).
#[derive(Default)]
pub struct FollowUp {
    runs: Vec<(Conversation, Outcome)>,
    spent: Vec<store::Invitation>,
    connected: bool,
}

impl FollowUp {
    fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.spent.is_empty()
    }
}
