//! Expiry: idle mailboxes, messages past their TTL, links past theirs, and nonces older than the
//! replay window. Each run looks at one slice of mailboxes and links and remembers where it
//! stopped, so a sweep never holds the store for long however much it holds.

use sotto_proto::{Id, REPLAY_WINDOW_SECS};

use super::commands::remove_mailbox;
use super::records::{decode_message, message_key, save, LinkRecord, MailboxRecord};
use super::StatsDelta;
use crate::store::{StoreError, Table, Txn};

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

pub(crate) fn run(
    txn: &mut dyn Txn,
    now: u64,
    from: &Position,
) -> Result<(StatsDelta, Position), StoreError> {
    let mut delta = StatsDelta::default();
    let cutoff = now.saturating_sub(REPLAY_WINDOW_SECS);
    txn.remove_range(Table::Nonces, &[0u8; 8], &cutoff.to_be_bytes())?;
    let mailboxes = sweep_mailboxes(txn, now, &from.mailboxes, &mut delta)?;
    let links = sweep_links(txn, now, &from.links, &mut delta)?;
    let files = super::files::sweep(txn, now, &from.files, &mut delta)?;
    Ok((
        delta,
        Position {
            mailboxes,
            links,
            files,
        },
    ))
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
    delta: &mut StatsDelta,
) -> Result<Vec<u8>, StoreError> {
    let slice = txn.range(Table::Mailboxes, from, &KEY_END, MAILBOXES_PER_RUN)?;
    for (key, value) in &slice {
        let (Ok(id), Ok(mut record)) = (
            <[u8; Id::LEN]>::try_from(key.as_slice()),
            postcard::from_bytes::<MailboxRecord>(value),
        ) else {
            tracing::error!("skipping a corrupt mailbox record during expiry");
            continue;
        };
        if record.is_expired(now) {
            delta.messages -= remove_mailbox(txn, &id, &record)? as i64;
            delta.mailboxes -= 1;
            continue;
        }
        let expired = expired_prefix(txn, &id, &record, now)?;
        if let Some(last_expired) = expired {
            delta.messages -= txn.remove_range(
                Table::Messages,
                &message_key(&id, record.first_seq),
                &message_key(&id, last_expired + 1),
            )? as i64;
            record.first_seq = last_expired + 1;
            save(txn, Table::Mailboxes, &id, &record)?;
        }
    }
    Ok(next_position(
        slice.last().map(|(k, _)| k),
        slice.len() == MAILBOXES_PER_RUN,
    ))
}

/// The highest sequence number of the run of oldest messages whose TTL has ended.
fn expired_prefix(
    txn: &dyn Txn,
    id: &[u8; Id::LEN],
    record: &MailboxRecord,
    now: u64,
) -> Result<Option<u64>, StoreError> {
    let oldest = txn.range(
        Table::Messages,
        &message_key(id, record.first_seq),
        &message_key(id, record.next_seq),
        MESSAGES_PER_MAILBOX,
    )?;
    let mut last_expired = None;
    for (key, value) in &oldest {
        match decode_message(key, value) {
            Ok(message) if !record.message_expired(message.written_at, now) => break,
            Ok(message) => last_expired = Some(message.seq),
            Err(error) => {
                // Unreadable for every reader anyway; removing it keeps expiry moving.
                let Some(seq) = key
                    .get(Id::LEN..)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes)
                else {
                    break;
                };
                tracing::error!(%error, "removing a corrupt message");
                last_expired = Some(seq);
            }
        }
    }
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
            txn.remove(Table::Links, key)?;
            delta.links -= 1;
        }
    }
    Ok(next_position(
        slice.last().map(|(k, _)| k),
        slice.len() == LINKS_PER_RUN,
    ))
}
