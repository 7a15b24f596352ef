//! The limits on what outsiders can make a host keep. Each is set in `relay.toml` `[limits]`,
//! each refusal names the limit it met (for the metrics), and each is answered with a typed
//! error: FULL for what the host holds, BUSY for work in flight.

/// A limit a request can meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Mailboxes on this host (`max_mailboxes`).
    Mailboxes,
    /// Link data blobs on this host (`max_links`).
    Links,
    /// Readers of one mailbox (`max_readers`).
    Readers,
    /// Bytes of messages and link data on this host (`disk_budget_bytes`).
    DiskBudget,
    /// Answers remembered for the replay window (`max_remembered`).
    Remembered,
    /// Readers subscribed for pushes (`max_subscriptions`).
    Subscriptions,
    /// Reply blocks kept for pushes (`max_push_blocks`).
    PushBlocks,
    /// Pushes held for want of a reply block (`max_held_pushes`).
    HeldPushes,
}

impl Limit {
    pub const ALL: [Limit; 8] = [
        Self::Mailboxes,
        Self::Links,
        Self::Readers,
        Self::DiskBudget,
        Self::Remembered,
        Self::Subscriptions,
        Self::PushBlocks,
        Self::HeldPushes,
    ];

    /// The name in metrics, the same as the setting's in `relay.toml` without `max_`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mailboxes => "mailboxes",
            Self::Links => "links",
            Self::Readers => "readers",
            Self::DiskBudget => "disk_budget_bytes",
            Self::Remembered => "remembered",
            Self::Subscriptions => "subscriptions",
            Self::PushBlocks => "push_blocks",
            Self::HeldPushes => "held_pushes",
        }
    }
}
