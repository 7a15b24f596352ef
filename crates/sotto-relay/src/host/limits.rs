//! The limits on what outsiders can make a relay keep. Those of the host thread are set in
//! `relay.toml` `[limits]`; each refusal names the limit it met (for the metrics), and a
//! request that meets one is answered with a typed error: FULL for what the host holds, BUSY
//! for work in flight.

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
    /// Reply blocks kept for pushes.
    PushBlocks,
    /// Pushes held for want of a reply block.
    HeldPushes,
    /// The disk holding the store itself: a write failed for want of space.
    DiskFull,
    /// File chunks all files together may reserve on this host (`max_held_chunks`).
    HeldChunks,
}

impl Limit {
    pub const ALL: [Limit; 10] = [
        Self::Mailboxes,
        Self::Links,
        Self::Readers,
        Self::DiskBudget,
        Self::Remembered,
        Self::Subscriptions,
        Self::PushBlocks,
        Self::HeldPushes,
        Self::DiskFull,
        Self::HeldChunks,
    ];

    /// The name in metrics: the setting's in `relay.toml` without `max_`, where there is one.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mailboxes => "mailboxes",
            Self::Links => "links",
            Self::Readers => "readers",
            Self::DiskBudget => "disk_budget_bytes",
            Self::HeldChunks => "held_chunks",
            Self::Remembered => "remembered",
            Self::Subscriptions => "subscriptions",
            Self::PushBlocks => "push_blocks",
            Self::HeldPushes => "held_pushes",
            Self::DiskFull => "disk_full",
        }
    }
}
