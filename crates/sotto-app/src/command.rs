//! What a front end asks of the device, and what it gets back.

use std::path::PathBuf;

use sotto_client::store::{FileSummary, MessageFile, StoredMessage};
use sotto_client::{Change, Contact, GroupMember, GroupSummary};
use sotto_proto::conversation::MessageId;
use sotto_proto::group::Role;
use sotto_proto::LinkUri;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Make a one-time link. Reply: [`Reply::Link`].
    Invite,
    /// Answer a link; `alias` is what to call the contact here (default: their name, made
    /// unique). Reply: [`Reply::Connected`].
    Connect { link: String, alias: Option<String> },
    /// Reply: [`Reply::Contacts`].
    Contacts,
    /// Reply: [`Reply::Sent`].
    Send {
        contact: String,
        text: String,
        /// The id of the message this one answers, in hex, or a unique prefix of at least 8
        /// digits (as people type it).
        reply_to: Option<String>,
    },
    /// Changes message `message` (a hex id or a unique prefix of at least 8 digits) of the
    /// conversation with `contact` for both sides: an edit or deletion of one of this
    /// device's messages, or a reaction to either side's. Reply: [`Reply::Changed`].
    Change {
        contact: String,
        message: String,
        change: Change,
    },
    /// Sets the disappearing timer of the conversation with `contact`, for both sides:
    /// messages stored from then on go `seconds` later (0: they stay). Reply:
    /// [`Reply::TimerSet`].
    SetTimer { contact: String, seconds: u32 },
    /// Messages not shown yet (of `contact`, or of everyone), marked shown now.
    /// Reply: [`Reply::Messages`].
    Read { contact: Option<String> },
    /// A conversation, both ways, oldest first. Reply: [`Reply::Messages`].
    Messages { contact: String },
    /// As `Messages`, the last `limit` only if given, refusing a contact that does not exist,
    /// and with this device's own name. Reply: [`Reply::History`].
    History {
        contact: String,
        limit: Option<usize>,
    },
    /// Every file sent or offered. Reply: [`Reply::Files`].
    Files,
    /// Sends the file at `path` (on this machine) to `contact` with `caption`. A long-lived
    /// loop replies once the transfer is recorded and its hosts reached, and tells its
    /// progress and end as events ([`AppEvent::FileProgress`](crate::AppEvent::FileProgress),
    /// `FileDone`, `FileFailed`); a one-shot `App::call` replies when it is offered.
    /// Reply: [`Reply::Transfer`].
    SendFile {
        contact: String,
        path: PathBuf,
        caption: String,
    },
    /// Fetches the offered file whose id starts with `file` (at least 8 hex digits) into
    /// `out`, or, without one, into the files directory (`App::set_files_dir`). Started again
    /// after a stop, it goes on where it stopped. Runs as `SendFile` does.
    /// Reply: [`Reply::Transfer`].
    Download { file: String, out: Option<PathBuf> },
    /// Found a group named `name`, this device its owner. Reply: [`Reply::GroupCreated`].
    CreateGroup { name: String },
    /// Invite contacts into a group with `role`; each joins once its device answered and
    /// this one committed the answer (when it next reads). Reply: [`Reply::GroupChanged`].
    AddToGroup {
        group: String,
        contacts: Vec<String>,
        role: Role,
    },
    /// Remove the member named `member`. Reply: [`Reply::GroupChanged`].
    RemoveFromGroup { group: String, member: String },
    /// Give the member named `member` a role. Reply: [`Reply::GroupChanged`].
    SetGroupRole {
        group: String,
        member: String,
        role: Role,
    },
    /// Leave a group: this device stops reading it and forgets it. Reply:
    /// [`Reply::GroupChanged`].
    LeaveGroup { group: String },
    /// Delete a group for everyone (its owner). Reply: [`Reply::GroupChanged`].
    DeleteGroup { group: String },
    /// Reply: [`Reply::Groups`].
    Groups,
    /// Reply: [`Reply::GroupMembers`].
    GroupMembers { group: String },
}

impl Command {
    /// Whether running it may give the device mailboxes to subscribe.
    pub(crate) fn adds_mailboxes(&self) -> bool {
        matches!(
            self,
            Command::Invite | Command::Connect { .. } | Command::CreateGroup { .. }
        )
    }
}

/// Not `Debug`: a link carries the key that answers it.
#[derive(Clone)]
pub enum Reply {
    Link(LinkUri),
    /// The new contact's alias.
    Connected {
        alias: String,
    },
    Contacts {
        contacts: Vec<Contact>,
        /// Links of this device not answered yet.
        pending_links: usize,
    },
    Sent {
        id: MessageId,
    },
    /// The changed message's full id.
    Changed {
        id: MessageId,
    },
    TimerSet,
    Messages(Vec<MessageView>),
    History(History),
    Files(Vec<FileSummary>),
    /// A file transfer started (or, one-shot, done): the file's id and where the file is.
    Transfer {
        id: MessageId,
        path: PathBuf,
    },
    GroupCreated {
        alias: String,
    },
    GroupChanged,
    Groups(Vec<GroupSummary>),
    GroupMembers(Vec<GroupMember>),
}

/// A conversation as `history` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// This device's display name, for its own messages.
    pub me: String,
    /// Oldest first.
    pub messages: Vec<MessageView>,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    /// The conversation's contact (the sender, unless `outgoing`); in a group, the sender's
    /// name in the group (the group's alias for this device's own messages).
    pub contact: String,
    /// The group's alias, for a message of a group.
    pub group: Option<String>,
    pub text: String,
    pub id: MessageId,
    /// Unix milliseconds, by the sender's clock.
    pub sent_at_ms: u64,
    pub reply_to: Option<MessageId>,
    /// Sent by this device.
    pub outgoing: bool,
    /// For an outgoing message: its receipt came back.
    pub delivered: bool,
    /// Its sender changed its text.
    pub edited: bool,
    /// Its sender took it back for everyone; `text` is empty.
    pub deleted: bool,
    /// This device's reaction and the other side's.
    pub my_reaction: Option<String>,
    pub their_reaction: Option<String>,
    /// The file the message offers (its text is then the caption).
    pub file: Option<MessageFile>,
}

impl From<StoredMessage> for MessageView {
    fn from(m: StoredMessage) -> Self {
        let (contact, group) = match (m.group, m.sender) {
            (true, Some(sender)) => (sender, Some(m.conversation)),
            (true, None) => (m.conversation.clone(), Some(m.conversation)),
            (false, _) => (m.conversation, None),
        };
        Self {
            contact,
            group,
            text: m.text,
            id: m.id,
            sent_at_ms: m.sent_at_ms,
            reply_to: m.reply_to,
            outgoing: m.outgoing,
            delivered: m.delivered,
            edited: m.edited,
            deleted: m.deleted,
            my_reaction: m.my_reaction,
            their_reaction: m.their_reaction,
            file: m.file,
        }
    }
}

pub(crate) fn views(messages: Vec<StoredMessage>) -> Vec<MessageView> {
    messages.into_iter().map(MessageView::from).collect()
}
