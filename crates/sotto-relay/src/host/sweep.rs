//! Expiry: idle mailboxes, messages past their TTL, links past theirs, and nonces older than the
//! replay window. Each run looks at one slice of mailboxes and links and remembers where it
//! stopped, so a sweep never holds the store for long however much it holds.

use sotto_proto::{Id, REPLAY_WINDOW_SECS};

use super::commands::{remove_mailbox, remove_messages};
use super::records::{message_key, save, LinkRecord, MailboxRecord};
use super::StatsDelta;
use crate::store::{Removed, StoreError, Table, Txn};

const MAILBOXES_PER_RUN: usize = 512;
const LINKS_PER_RUN: usize = 512;
const MESSAGES_PER_MAILBOX: usize = 256;
const KEY_END: [u8; Id::LEN + 1] = [0xff; Id::LEN + 1];

/// Where the next run continues.
#[derive(Debug, Clone, Default)]
pub(crate) struct Position {
    mailboxes: Vec<u8>,
    links: Vec<u8>,
    files: Vec<u8>,
}

/// What one run did.
pub(crate) struct Swept {
    pub delta: StatsDelta,
    pub next: Position,
    /// Read ids of the mailboxes that went.
    pub gone: Vec<Id>,
}

impl Swept {
    fn removed_messages(&mut self, removed: Removed) {
        self.delta.messages -= removed.entries as i64;
        self.delta.bytes -= removed.bytes as i64;
    }
}

pub(crate) fn run(txn: &mut dyn Txn, now: u64, from: &Position) -> Result<Swept, StoreError> {
    let mut swept = Swept {
        delta: StatsDelta::default(),
        next: Position::default(),
        gone: Vec::new(),
    };
    let cutoff = now.saturating_sub(REPLAY_WINDOW_SECS);
    let forgotten = txn.remove_range(Table::Nonces, &[0u8; 8], &cutoff.to_be_bytes())?;
    swept.delta.remembered -= forgotten.entries as i64;
    swept.next.mailboxes = sweep_mailboxes(txn, now, &from.mailboxes, &mut swept)?;
    swept.next.links = sweep_links(txn, now, &from.links, &mut swept.delta)?;
    swept.next.files = super::files::sweep(txn, now, &from.files, &mut swept.delta)?;
    Ok(swept)
}

/// The key after `key`, to continue a scan; empty (start over) when the slice was the last.
fn next_position(last: Option<&Vec<u8>>, full: bool) -> Vec<u8> {
    match last {
        Some(key) if full => {
            let mut next = key.clone();
            next.push(0);
            next
        }
        _ => Vec::new(),
    }
}

fn sweep_mailboxes(
    txn: &mut dyn Txn,
    now: u64,
    from: &[u8],
    swept: &mut Swept,
) -> Result<Vec<u8>, StoreError> {
    let slice = txn.range(Table::Mailboxes, from, &KEY_END, MAILBOXES_PER_RUN)?;
    for (key, value) in &slice {
        let Ok(id) = <[u8; Id::LEN]>::try_from(key.as_slice()) else {
            tracing::error!("removing a mailbox record stored under a malformed key");
            txn.remove(Table::Mailboxes, key)?;
            swept.delta.mailboxes -= 1;
            continue;
        };
        let Ok(mut record) = MailboxRecord::decode(value) else {
            // No command can use it (each would answer INTERNAL), and skipping it would find
            // it again on every run: its messages go with it. Its capabilities cannot be found
            // without the record; they answer AUTH like any unknown id.
            tracing::error!("removing a corrupt mailbox record and its messages");
            let removed = remove_messages(txn, &id)?;
            swept.removed_messages(removed);
            txn.remove(Table::Mailboxes, &id)?;
            swept.delta.mailboxes -= 1;
            continue;
        };
        if record.is_expired(now) {
            let removed = remove_mailbox(txn, &id, &record)?;
            swept.removed_messages(removed);
            swept.delta.mailboxes -= 1;
            swept
                .gone
                .extend(record.readers.iter().map(|r| Id::from_bytes(r.read_id)));
            continue;
        }
        if let Some(last_expired) = expired_prefix(txn, &id, &record, now)? {
            let removed = txn.remove_range(
                Table::Messages,
                &message_key(&id, record.first_seq),
                &message_key(&id, last_expired + 1),
            )?;
            swept.removed_messages(removed);
            record.first_seq = last_expired + 1;
            save(txn, Table::Mailboxes, &id, &record)?;
        }
    }
    Ok(next_position(
        slice.last().map(|(k, _)| k),
        slice.len() == MAILBOXES_PER_RUN,
    ))
}

/// The highest sequence number of the run of oldest messages whose TTL has ended. Reads
/// lazily and stops at the first message still alive, so a run copies no message body.
fn expired_prefix(
    txn: &dyn Txn,
    id: &[u8; Id::LEN],
    record: &MailboxRecord,
    now: u64,
) -> Result<Option<u64>, StoreError> {
    let mut last_expired = None;
    let mut looked_at = 0;
    txn.scan(
        Table::Messages,
        &message_key(id, record.first_seq),
        &message_key(id, record.next_seq),
        &mut |key, value| {
            let Some(seq) = key
                .get(Id::LEN..)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
            else {
                return false;
            };
            match value.first_chunk::<8>().map(|t| u64::from_be_bytes(*t)) {
                Some(written_at) if !record.message_expired(written_at, now) => return false,
                Some(_) => {}
                // Unreadable for every reader anyway; removing it keeps expiry moving.
                None => tracing::error!("removing a corrupt message"),
            }
            last_expired = Some(seq);
            looked_at += 1;
            looked_at < MESSAGES_PER_MAILBOX
        },
    )?;
    Ok(last_expired)
}

fn sweep_links(
    txn: &mut dyn Txn,
    now: u64,
    from: &[u8],
    delta: &mut StatsDelta,
) -> Result<Vec<u8>, StoreError> {
    let slice = txn.range(Table::Links, from, &KEY_END, LINKS_PER_RUN)?;
    for (key, value) in &slice {
        let expired =
            postcard::from_bytes::<LinkRecord>(value).map_or(true, |link| link.expires_at <= now);
        if expired {
            let removed = txn.remove(Table::Links, key)?;
            delta.links -= removed.entries as i64;
            delta.bytes -= removed.bytes as i64;
        }
    }
    Ok(next_position(
        slice.last().map(|(k, _)| k),
        slice.len() == LINKS_PER_RUN,
    ))
}
