//! Changes to a message already sent: its sender's edit or deletion for everyone, and either
//! side's reaction (`Content` kinds 8 to 10).

use sotto_proto::conversation::{Content, MessageId};

use crate::store::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The message now reads this.
    Edit(String),
    /// The message is taken back, for everyone.
    Delete,
    /// A reaction (one emoji), or none to take one back.
    React(String),
}

impl Change {
    pub(crate) fn content(&self, target: MessageId) -> Content {
        match self {
            Change::Edit(text) => Content::Edit {
                target,
                text: text.clone(),
            },
            Change::Delete => Content::Delete { target },
            Change::React(emoji) => Content::Reaction {
                target,
                emoji: emoji.clone(),
            },
        }
    }

    /// Whether only the message's sender may make this change.
    pub(crate) fn senders_only(&self) -> bool {
        !matches!(self, Change::React(_))
    }

    /// Records the change made by this device (`mine`) or the other side; false when its
    /// message is not there, or (for an edit or a deletion) was not sent by the changer.
    pub(crate) fn record(
        &self,
        store: &Store,
        conversation: i64,
        target: &MessageId,
        mine: bool,
    ) -> Result<bool, StoreError> {
        match self {
            Change::Edit(text) => store.edit_message(conversation, target, mine, text),
            Change::Delete => store.delete_message(conversation, target, mine),
            Change::React(emoji) => store.set_reaction(conversation, target, mine, emoji),
        }
    }
}
