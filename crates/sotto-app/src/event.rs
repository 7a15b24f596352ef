//! What the device tells its front ends as it happens.

use std::path::PathBuf;

use sotto_proto::conversation::MessageId;

use crate::command::MessageView;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// A new message from a contact (it is then marked shown).
    Message(MessageView),
    /// Receipts came back for `count` messages sent to `contact`.
    Delivered { contact: String, count: usize },
    /// Someone used one of this device's links and is now the contact `contact`.
    Connected { contact: String },
    /// A message in the conversation with `contact` did not verify and was skipped.
    Rejected { contact: String, reason: String },
    /// `contact` removed this device from their conversation.
    Removed { contact: String },
    /// `contact` edited or deleted their message `id`, or reacted to one: read it again.
    Changed { contact: String, id: MessageId },
    /// `contact` set the conversation's disappearing timer (0: messages stay).
    Timer { contact: String, seconds: u32 },
    /// The device got subscribed to all its mailboxes, or lost the network.
    Connection(ConnectionState),
    /// A file was offered: the message (also told as [`AppEvent::Message`]) that carries it.
    Offer(MessageView),
    /// A transfer moved on: `done` of `total` bytes are at the hosts (sending) or here.
    /// Told at most a few times a second per file.
    FileProgress {
        id: MessageId,
        contact: String,
        outgoing: bool,
        done: u64,
        total: u64,
    },
    /// A file is sent (uploaded and offered), or fetched, checked and at `path`.
    FileDone {
        id: MessageId,
        contact: String,
        outgoing: bool,
        path: PathBuf,
    },
    /// A transfer stopped for `reason`; started again, it goes on where it stopped.
    FileFailed {
        id: MessageId,
        contact: String,
        outgoing: bool,
        reason: String,
    },
    /// This device joined the group `group`.
    JoinedGroup { group: String },
    /// `member` is in the group `group` now, added by this device.
    AddedToGroup { group: String, member: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Subscribed to every mailbox; messages are pushed as they arrive.
    Online,
    /// The network cannot be reached, for `reason`; the device keeps trying.
    Offline { reason: String },
}

impl ConnectionState {
    /// Whether `self` and `other` are the same state, whatever the reasons: a front end hears
    /// of a change, not of every failed retry.
    pub(crate) fn same_as(&self, other: &ConnectionState) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl From<sotto_client::Event> for AppEvent {
    fn from(event: sotto_client::Event) -> Self {
        use sotto_client::Event;
        match event {
            Event::Connected { alias } => AppEvent::Connected { contact: alias },
            Event::Delivered { alias, count } => AppEvent::Delivered {
                contact: alias,
                count,
            },
            Event::Rejected { alias, reason } => AppEvent::Rejected {
                contact: alias,
                reason,
            },
            Event::Removed { alias } => AppEvent::Removed { contact: alias },
            Event::Changed { alias, id } => AppEvent::Changed { contact: alias, id },
            Event::Timer { alias, seconds } => AppEvent::Timer {
                contact: alias,
                seconds,
            },
            Event::JoinedGroup { alias } => AppEvent::JoinedGroup { group: alias },
            Event::AddedToGroup { alias, member } => AppEvent::AddedToGroup {
                group: alias,
                member,
            },
        }
    }
}

pub(crate) fn app_events(happened: Vec<sotto_client::Event>) -> Vec<AppEvent> {
    happened.into_iter().map(AppEvent::from).collect()
}
