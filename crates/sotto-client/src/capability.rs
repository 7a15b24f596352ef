//! The capabilities a client holds: an id on a host and the key that signs its commands.

use ed25519_dalek::SigningKey;
use sotto_proto::conversation::MailboxGrant;
use sotto_proto::Id;

use crate::content::{ContentKey, LinkKey};

/// The right to write to a mailbox.
#[derive(Clone)]
pub struct WriteCap {
    pub id: Id,
    pub key: SigningKey,
    /// Seals what is written; shared by the mailbox's writers and readers, never the host.
    pub content: ContentKey,
}

impl WriteCap {
    /// This capability as it travels to another writer, with its mailbox's `host`.
    pub fn grant(&self, host: &sotto_proto::Fingerprint) -> MailboxGrant {
        MailboxGrant {
            host: *host,
            write_id: self.id,
            write_key: self.key.to_bytes(),
            content_key: *self.content.as_bytes(),
            content_binding: *self.content.binding(),
        }
    }

    pub fn from_grant(grant: &MailboxGrant) -> Self {
        Self {
            id: grant.write_id,
            key: SigningKey::from_bytes(&grant.write_key),
            content: ContentKey::from_parts(grant.content_key, grant.content_binding),
        }
    }
}

/// One reader's right to read, acknowledge and manage a mailbox.
#[derive(Clone)]
pub struct ReadCap {
    pub id: Id,
    pub key: SigningKey,
    pub content: ContentKey,
}

/// A link to stored data: the id finds it and the content key, which the host never sees,
/// opens it. Whoever has both can read it.
#[derive(Clone)]
pub struct Link {
    pub id: Id,
    pub content: LinkKey,
}

/// The right to delete a link's data before its TTL.
#[derive(Clone)]
pub struct LinkCap {
    pub id: Id,
    pub key: SigningKey,
}

/// Both sides of a mailbox just created.
#[derive(Clone)]
pub struct NewMailbox {
    pub write: WriteCap,
    pub read: ReadCap,
}

// Capabilities hold secret keys: their `Debug` shows neither id nor key.
sotto_proto::redacted_debug!(WriteCap, ReadCap, Link, LinkCap, NewMailbox);
