//! Authorization and execution of each mailbox command inside a batch's transaction.

use ed25519_dalek::VerifyingKey;
use rand::{CryptoRng, RngCore};
use sotto_proto::{
    Command, ErrorCode, Id, MailboxKind, Message, ResponseBody, SignedRequest, MAX_MESSAGE_LEN,
};

use super::records::{
    decode_message, encode_message, load, message_key, save, verifying_key, CapabilityRecord,
    LinkRecord, MailboxRecord, ReaderRecord, Role,
};
use super::verify::SignatureCheck;
use super::{files, Appended, Authority, HostConfig, HostStats, Limit, StatsDelta, VoucherPolicy};
use crate::store::{Removed, StoreError, Table, Txn};

/// An idle mailbox's lifetime is refreshed by reads at most this often, so reads rarely write.
const ACTIVITY_GRANULARITY_SECS: u64 = 60;
/// Looked up when a capability is unknown, so that costs what a known one costs.
pub(crate) const DECOY_MAILBOX: [u8; Id::LEN] = [0; Id::LEN];

pub(crate) struct Ctx<'a, R> {
    pub txn: &'a mut dyn Txn,
    pub now: u64,
    pub config: &'a HostConfig,
    pub vouchers: &'a VoucherPolicy,
    /// What the host held before this batch.
    pub holds: HostStats,
    pub rng: &'a mut R,
    pub delta: StatsDelta,
    pub appended: Vec<Appended>,
    pub gone: Vec<Id>,
    /// The mailbox and position of the last write in the frame being run: what an `AckWrite`
    /// of the same frame acknowledges.
    pub group_write: Option<([u8; Id::LEN], u64)>,
    /// The limit the request being run met, if it was refused for want of room.
    pub limit: Option<Limit>,
    /// Bytes of messages the fetches of the frame being run may still answer with: a single
    /// fetch has a whole answer's room, the fetches of a batch share what its other answers
    /// leave (`sotto_proto::batch::message_room`).
    pub room: usize,
}

impl<R> Ctx<'_, R> {
    /// What the host holds with this batch's changes so far.
    pub fn holds(&self) -> HostStats {
        self.holds.with(self.delta)
    }

    /// Whether `bytes` more of messages or link data stay within the disk budget.
    fn has_room_for(&self, bytes: usize) -> bool {
        self.holds().bytes.saturating_add(bytes as u64) <= self.config.disk_budget_bytes
    }

    pub(super) fn refuse(&mut self, limit: Limit) -> Outcome {
        self.limit = Some(limit);
        (ResponseBody::Error(ErrorCode::Full), None)
    }

    fn removed_messages(&mut self, removed: Removed) {
        self.delta.messages -= removed.entries as i64;
        self.delta.bytes -= removed.bytes as i64;
    }
}

type Outcome = (ResponseBody, Option<Id>);

/// Finds what the request acts on and checks its signature. `None` means AUTH: an unknown id and
/// a bad signature both cost one lookup and one verification and get the same answer.
pub(crate) fn authorize<R>(
    ctx: &mut Ctx<'_, R>,
    signed: &SignedRequest,
    decoy_key: &VerifyingKey,
    signatures: &mut dyn SignatureCheck,
) -> Result<Option<Authority>, StoreError> {
    let request = &signed.request;
    match &request.command {
        Command::Create {
            reader_key: key, ..
        }
        | Command::CreateFile {
            reader_key: key, ..
        }
        | Command::PutLink { owner_key: key, .. }
        | Command::Issue {
            device_key: key, ..
        } => Ok(signatures.check(signed, key).then(|| Authority::NewObject {
            key: key.to_bytes(),
        })),
        Command::GetLink => {
            let record: Option<LinkRecord> =
                load(ctx.txn, Table::Links, request.target.as_bytes(), "link")?;
            Ok(record
                .filter(|link| link.expires_at > ctx.now)
                .map(|record| Authority::Link {
                    id: request.target,
                    record,
                }))
        }
        Command::DeleteLink => {
            let record: Option<LinkRecord> =
                load(ctx.txn, Table::Links, request.target.as_bytes(), "link")?;
            let record = record.filter(|link| link.expires_at > ctx.now);
            let key = record
                .as_ref()
                .and_then(|link| verifying_key(&link.owner_key));
            let valid = signatures.check(signed, key.as_ref().unwrap_or(decoy_key));
            Ok(record
                .filter(|_| valid && key.is_some())
                .map(|record| Authority::Link {
                    id: request.target,
                    record,
                }))
        }
        Command::PutChunk { .. }
        | Command::GetChunk { .. }
        | Command::FileDone { .. }
        | Command::DeleteFile => files::authorize(ctx, signed, decoy_key, signatures),
        _ => authorize_capability(ctx, signed, decoy_key, signatures),
    }
}

fn authorize_capability<R>(
    ctx: &mut Ctx<'_, R>,
    signed: &SignedRequest,
    decoy_key: &VerifyingKey,
    signatures: &mut dyn SignatureCheck,
) -> Result<Option<Authority>, StoreError> {
    let cap = signed.request.target;
    let needed = match signed.request.command {
        Command::Write { .. } => Role::Writer,
        _ => Role::Reader,
    };
    let found = capability_object(ctx.txn, &cap, needed, Table::Mailboxes)?
        .map(|(mailbox, bytes)| MailboxRecord::decode(&bytes).map(|record| (mailbox, record)))
        .transpose()?;
    let signer = found.as_ref().and_then(|(_, mailbox)| match needed {
        Role::Writer => Some(mailbox.writer_key),
        _ => Some(mailbox.reader(&cap)?.key),
    });
    Ok(
        match (found, verified(signed, signer, decoy_key, signatures)) {
            (Some((mailbox, record)), Some(signer)) => Some(Authority::Mailbox {
                cap,
                signer,
                mailbox,
                record: Box::new(record),
            }),
            _ => None,
        },
    )
}

/// An object's id and its stored bytes.
type Stored = ([u8; Id::LEN], Vec<u8>);

/// The id and stored bytes of the object (mailbox or file, kept in `table`) that capability
/// `cap` acts on with role `needed`. A capability that is unknown or of another role costs the
/// same two lookups, the second of a decoy, so the answer's timing tells nothing.
pub(super) fn capability_object(
    txn: &dyn Txn,
    cap: &Id,
    needed: Role,
    table: Table,
) -> Result<Option<Stored>, StoreError> {
    let capability: Option<CapabilityRecord> =
        load(txn, Table::Capabilities, cap.as_bytes(), "capability")?;
    Ok(match capability.filter(|c| c.role == needed) {
        Some(c) => txn.get(table, &c.mailbox)?.map(|bytes| (c.mailbox, bytes)),
        None => {
            txn.get(table, &DECOY_MAILBOX)?;
            None
        }
    })
}

/// `signer` if the request's signature verifies under it. Exactly one verification runs
/// either way (against the decoy key when there is no usable signer), so every AUTH costs the
/// same work.
pub(super) fn verified(
    signed: &SignedRequest,
    signer: Option<[u8; 32]>,
    decoy_key: &VerifyingKey,
    signatures: &mut dyn SignatureCheck,
) -> Option<[u8; 32]> {
    let key = signer.as_ref().and_then(verifying_key);
    let valid = signatures.check(signed, key.as_ref().unwrap_or(decoy_key));
    signer.filter(|_| valid && key.is_some())
}

pub(crate) fn execute<R: RngCore + CryptoRng>(
    ctx: &mut Ctx<'_, R>,
    command: &Command,
    authority: Authority,
) -> Result<Outcome, StoreError> {
    match (command, authority) {
        (
            Command::Create {
                kind,
                ttl_secs,
                quota,
                writer_key,
                reader_key,
                voucher,
            },
            Authority::NewObject { .. },
        ) => match ctx.vouchers.spend(ctx.txn, voucher.as_ref())? {
            Some(refused) => Ok((ResponseBody::Error(refused), None)),
            None => create(ctx, *kind, *ttl_secs, *quota, writer_key, reader_key),
        },
        (
            Command::PutLink {
                ttl_secs,
                owner_key,
                data,
                voucher,
            },
            Authority::NewObject { .. },
        ) => match ctx.vouchers.spend(ctx.txn, voucher.as_ref())? {
            Some(refused) => Ok((ResponseBody::Error(refused), None)),
            None => put_link(ctx, *ttl_secs, owner_key, data),
        },
        (Command::Issue { epoch, blinded, .. }, Authority::NewObject { key }) => Ok((
            match ctx
                .vouchers
                .issue(ctx.txn, ctx.now, &key, *epoch, blinded)?
            {
                Ok(signatures) => ResponseBody::Issued(signatures),
                Err(refused) => ResponseBody::Error(refused),
            },
            None,
        )),
        (
            Command::CreateFile {
                ttl_secs,
                recipients,
                chunks,
                writer_key,
                reader_key,
            },
            Authority::NewObject { .. },
        ) => files::create(
            ctx,
            files::NewFile {
                ttl_secs: *ttl_secs,
                recipients: *recipients,
                chunks: *chunks,
                writer_key,
                reader_key,
            },
        ),
        (command, Authority::File { file, record, .. }) => {
            files::execute(ctx, command, file, *record)
        }
        (Command::GetLink, Authority::Link { record, .. }) => {
            Ok((ResponseBody::LinkData(record.data), None))
        }
        (Command::DeleteLink, Authority::Link { id, .. }) => {
            let removed = ctx.txn.remove(Table::Links, id.as_bytes())?;
            ctx.delta.links -= removed.entries as i64;
            ctx.delta.bytes -= removed.bytes as i64;
            Ok((ResponseBody::Done, None))
        }
        (
            command,
            Authority::Mailbox {
                cap,
                mailbox,
                record,
                ..
            },
        ) => {
            let mut open = OpenMailbox {
                id: mailbox,
                record: *record,
            };
            mailbox_command(ctx, command, cap, &mut open)
        }
        _ => Ok((ResponseBody::Error(ErrorCode::Auth), None)),
    }
}

struct OpenMailbox {
    id: [u8; Id::LEN],
    record: MailboxRecord,
}

fn mailbox_command<R: RngCore + CryptoRng>(
    ctx: &mut Ctx<'_, R>,
    command: &Command,
    cap: Id,
    mailbox: &mut OpenMailbox,
) -> Result<Outcome, StoreError> {
    if mailbox.record.is_expired(ctx.now) {
        // The sweep has not reached it yet; it is already gone for clients.
        return Ok((ResponseBody::Error(ErrorCode::Auth), None));
    }
    match command {
        Command::Write { body } => write(ctx, mailbox, body),
        // A subscribe answers as a fetch does, in the room its frame leaves it.
        Command::Subscribe => Ok((fetch(ctx, mailbox, &cap)?, Some(cap))),
        Command::Fetch => Ok((fetch(ctx, mailbox, &cap)?, None)),
        Command::Ack { seq } => ack(ctx, mailbox, &cap, *seq),
        Command::AckWrite => ack_write(ctx, mailbox, &cap),
        Command::AddReader { reader_key } => add_reader(ctx, mailbox, reader_key),
        Command::RemoveReader { read_id } => remove_reader(ctx, mailbox, read_id),
        Command::Delete => {
            delete_mailbox(ctx, mailbox)?;
            Ok((ResponseBody::Done, None))
        }
        _ => Ok((ResponseBody::Error(ErrorCode::Auth), None)),
    }
}

pub(crate) fn clamp<T: Ord + Copy + Default>(asked: T, default: T, max: T) -> T {
    if asked == T::default() {
        default
    } else {
        asked.min(max)
    }
}

fn create<R: RngCore + CryptoRng>(
    ctx: &mut Ctx<'_, R>,
    kind: MailboxKind,
    ttl_secs: u32,
    quota: u16,
    writer_key: &VerifyingKey,
    reader_key: &VerifyingKey,
) -> Result<Outcome, StoreError> {
    if ctx.holds().mailboxes >= ctx.config.max_mailboxes {
        return Ok(ctx.refuse(Limit::Mailboxes));
    }
    if !ctx.has_room_for(message_key(&DECOY_MAILBOX, 0).len() + 8 + MAX_MESSAGE_LEN) {
        // A mailbox that could not take one message is no use to its creator.
        return Ok(ctx.refuse(Limit::DiskBudget));
    }
    let (mailbox, write_id, read_id) = (
        Id::random(ctx.rng),
        Id::random(ctx.rng),
        Id::random(ctx.rng),
    );
    let record = MailboxRecord {
        kind: kind.code(),
        ttl_secs: clamp(
            ttl_secs,
            ctx.config.default_ttl_secs,
            ctx.config.max_ttl_secs,
        ),
        quota: clamp(quota, ctx.config.default_quota, ctx.config.max_quota),
        write_id: *write_id.as_bytes(),
        writer_key: writer_key.to_bytes(),
        readers: vec![ReaderRecord {
            read_id: *read_id.as_bytes(),
            key: reader_key.to_bytes(),
            cursor: 0,
        }],
        next_seq: 1,
        first_seq: 1,
        last_active: ctx.now,
        closed: false,
    };
    save(ctx.txn, Table::Mailboxes, mailbox.as_bytes(), &record)?;
    save_capabilities(
        ctx.txn,
        &mailbox,
        [(write_id, Role::Writer), (read_id, Role::Reader)],
    )?;
    ctx.delta.mailboxes += 1;
    Ok((ResponseBody::Created { write_id, read_id }, None))
}

/// Records what each new capability of `object` (a mailbox or a file) may do.
pub(super) fn save_capabilities(
    txn: &mut dyn Txn,
    object: &Id,
    capabilities: [(Id, Role); 2],
) -> Result<(), StoreError> {
    for (cap, role) in capabilities {
        let capability = CapabilityRecord {
            mailbox: *object.as_bytes(),
            role,
        };
        save(txn, Table::Capabilities, cap.as_bytes(), &capability)?;
    }
    Ok(())
}

fn write<R>(
    ctx: &mut Ctx<'_, R>,
    mailbox: &mut OpenMailbox,
    body: &[u8],
) -> Result<Outcome, StoreError> {
    let record = &mut mailbox.record;
    if record.closed {
        return Ok((ResponseBody::Error(ErrorCode::Auth), None));
    }
    if record.max_unacknowledged() >= u64::from(record.quota) {
        return Ok((ResponseBody::Error(ErrorCode::Quota), None));
    }
    let seq = record.next_seq;
    let (key, value) = (message_key(&mailbox.id, seq), encode_message(ctx.now, body));
    if !ctx.has_room_for(key.len() + value.len()) {
        return Ok(ctx.refuse(Limit::DiskBudget));
    }
    ctx.txn.put(Table::Messages, &key, &value)?;
    ctx.delta.bytes += (key.len() + value.len()) as i64;
    record.next_seq += 1;
    record.last_active = ctx.now;
    record.closed = record.kind() == MailboxKind::OneTimeRequest;
    save(ctx.txn, Table::Mailboxes, &mailbox.id, record)?;
    ctx.delta.messages += 1;
    ctx.group_write = Some((mailbox.id, seq));
    ctx.appended.push(Appended {
        read_ids: record
            .readers
            .iter()
            .map(|r| Id::from_bytes(r.read_id))
            .collect(),
        message: Message {
            seq,
            written_at: ctx.now,
            body: body.to_vec(),
        },
    });
    Ok((ResponseBody::Written { seq }, None))
}

/// The reader's waiting messages, oldest first, as many as the frame has room for
/// (`Ctx::room`, which they use up); `MoreWaiting` if some are left for another fetch.
fn fetch<R>(
    ctx: &mut Ctx<'_, R>,
    mailbox: &mut OpenMailbox,
    cap: &Id,
) -> Result<ResponseBody, StoreError> {
    let record = &mailbox.record;
    let Some(reader) = record.reader(cap) else {
        return Ok(ResponseBody::Error(ErrorCode::Auth));
    };
    let from = (reader.cursor + 1).max(record.first_seq);
    let mut messages = Vec::new();
    let mut room = ctx.room;
    let mut more = false;
    let mut corrupt = None;
    // Read lazily and only until the answer's room is full: expired messages the sweep has
    // not removed yet are passed over without being copied.
    ctx.txn.scan(
        Table::Messages,
        &message_key(&mailbox.id, from),
        &message_key(&mailbox.id, record.next_seq),
        &mut |key, value| {
            let written_at = value
                .first_chunk::<8>()
                .map_or(0, |time| u64::from_be_bytes(*time));
            if record.message_expired(written_at, ctx.now) {
                return true;
            }
            match decode_message(key, value) {
                Ok(message) if message.encoded_len() <= room => {
                    room -= message.encoded_len();
                    messages.push(message);
                    true
                }
                Ok(_) => {
                    more = true;
                    false
                }
                Err(error) => {
                    corrupt = Some(error);
                    false
                }
            }
        },
    )?;
    ctx.room = room;
    if let Some(error) = corrupt {
        return Err(error);
    }
    if ctx.now >= mailbox.record.last_active + ACTIVITY_GRANULARITY_SECS {
        mailbox.record.last_active = ctx.now;
        save(ctx.txn, Table::Mailboxes, &mailbox.id, &mailbox.record)?;
    }
    Ok(if more {
        ResponseBody::MoreWaiting(messages)
    } else {
        ResponseBody::Messages(messages)
    })
}

fn ack<R>(
    ctx: &mut Ctx<'_, R>,
    mailbox: &mut OpenMailbox,
    cap: &Id,
    seq: u64,
) -> Result<Outcome, StoreError> {
    let last = mailbox.record.last_seq();
    let Some(reader) = mailbox.record.reader_mut(cap) else {
        return Ok((ResponseBody::Error(ErrorCode::Auth), None));
    };
    reader.cursor = reader.cursor.max(seq.min(last));
    mailbox.record.last_active = ctx.now;
    settle(ctx, mailbox)?;
    Ok((ResponseBody::Done, None))
}

/// Acknowledges, for the reader `cap`, the message the same frame's write just appended, if
/// the reader had acknowledged everything before it: its writer has that message already, so
/// it is not pushed back to it. Otherwise earlier messages wait for the reader, and the write
/// reaches it in order like any other.
fn ack_write<R>(
    ctx: &mut Ctx<'_, R>,
    mailbox: &mut OpenMailbox,
    cap: &Id,
) -> Result<Outcome, StoreError> {
    let Some(seq) = ctx
        .group_write
        .filter(|(written, _)| *written == mailbox.id)
        .map(|(_, seq)| seq)
    else {
        return Ok((ResponseBody::Skipped, None));
    };
    let Some(reader) = mailbox.record.reader_mut(cap) else {
        return Ok((ResponseBody::Error(ErrorCode::Auth), None));
    };
    if reader.cursor + 1 != seq {
        return Ok((ResponseBody::Skipped, None));
    }
    reader.cursor = seq;
    mailbox.record.last_active = ctx.now;
    if let Some(appended) = ctx
        .appended
        .iter_mut()
        .rev()
        .find(|a| a.message.seq == seq && a.read_ids.contains(cap))
    {
        appended.read_ids.retain(|id| id != cap);
    }
    settle(ctx, mailbox)?;
    Ok((ResponseBody::Done, None))
}

/// After cursors moved or readers left: deletes what every reader has acknowledged, and the
/// mailbox itself once it has no reader or is a one-time mailbox whose message was read.
fn settle<R>(ctx: &mut Ctx<'_, R>, mailbox: &mut OpenMailbox) -> Result<(), StoreError> {
    let record = &mut mailbox.record;
    let read_by_all = record.min_cursor();
    if record.readers.is_empty() || (record.closed && read_by_all >= record.last_seq()) {
        return delete_mailbox(ctx, mailbox);
    }
    if read_by_all >= record.first_seq {
        let removed = ctx.txn.remove_range(
            Table::Messages,
            &message_key(&mailbox.id, record.first_seq),
            &message_key(&mailbox.id, read_by_all + 1),
        )?;
        record.first_seq = read_by_all + 1;
        ctx.removed_messages(removed);
    }
    save(ctx.txn, Table::Mailboxes, &mailbox.id, &mailbox.record)
}

fn add_reader<R: RngCore + CryptoRng>(
    ctx: &mut Ctx<'_, R>,
    mailbox: &mut OpenMailbox,
    reader_key: &VerifyingKey,
) -> Result<Outcome, StoreError> {
    if mailbox.record.readers.len() >= usize::from(ctx.config.max_readers) {
        return Ok(ctx.refuse(Limit::Readers));
    }
    let read_id = Id::random(ctx.rng);
    // A new reader receives what is written from now on.
    let cursor = mailbox.record.last_seq();
    mailbox.record.readers.push(ReaderRecord {
        read_id: *read_id.as_bytes(),
        key: reader_key.to_bytes(),
        cursor,
    });
    mailbox.record.last_active = ctx.now;
    let capability = CapabilityRecord {
        mailbox: mailbox.id,
        role: Role::Reader,
    };
    save(
        ctx.txn,
        Table::Capabilities,
        read_id.as_bytes(),
        &capability,
    )?;
    save(ctx.txn, Table::Mailboxes, &mailbox.id, &mailbox.record)?;
    Ok((ResponseBody::ReaderAdded { read_id }, None))
}

fn remove_reader<R>(
    ctx: &mut Ctx<'_, R>,
    mailbox: &mut OpenMailbox,
    read_id: &Id,
) -> Result<Outcome, StoreError> {
    let before = mailbox.record.readers.len();
    mailbox
        .record
        .readers
        .retain(|r| &r.read_id != read_id.as_bytes());
    if mailbox.record.readers.len() == before {
        // Not a reader of this mailbox: the same answer as any unknown id.
        return Ok((ResponseBody::Error(ErrorCode::Auth), None));
    }
    ctx.txn.remove(Table::Capabilities, read_id.as_bytes())?;
    ctx.gone.push(*read_id);
    mailbox.record.last_active = ctx.now;
    settle(ctx, mailbox)?;
    Ok((ResponseBody::Done, None))
}

fn delete_mailbox<R>(ctx: &mut Ctx<'_, R>, mailbox: &OpenMailbox) -> Result<(), StoreError> {
    let removed = remove_mailbox(ctx.txn, &mailbox.id, &mailbox.record)?;
    ctx.removed_messages(removed);
    ctx.delta.mailboxes -= 1;
    ctx.gone.extend(
        mailbox
            .record
            .readers
            .iter()
            .map(|r| Id::from_bytes(r.read_id)),
    );
    Ok(())
}

/// Removes a mailbox with its capabilities and messages; returns the messages that went.
pub(crate) fn remove_mailbox(
    txn: &mut dyn Txn,
    id: &[u8; Id::LEN],
    record: &MailboxRecord,
) -> Result<Removed, StoreError> {
    txn.remove(Table::Capabilities, &record.write_id)?;
    for reader in &record.readers {
        txn.remove(Table::Capabilities, &reader.read_id)?;
    }
    let removed = remove_messages(txn, id)?;
    txn.remove(Table::Mailboxes, id)?;
    Ok(removed)
}

/// Removes every message of a mailbox.
pub(crate) fn remove_messages(
    txn: &mut dyn Txn,
    id: &[u8; Id::LEN],
) -> Result<Removed, StoreError> {
    txn.remove_range(
        Table::Messages,
        &message_key(id, 0),
        &message_key(id, u64::MAX),
    )
}

fn put_link<R: RngCore + CryptoRng>(
    ctx: &mut Ctx<'_, R>,
    ttl_secs: u32,
    owner_key: &VerifyingKey,
    data: &[u8],
) -> Result<Outcome, StoreError> {
    if ctx.holds().links >= ctx.config.max_links {
        return Ok(ctx.refuse(Limit::Links));
    }
    let link_id = Id::random(ctx.rng);
    let ttl = clamp(
        ttl_secs,
        ctx.config.default_ttl_secs,
        ctx.config.max_ttl_secs,
    );
    let record = LinkRecord {
        owner_key: owner_key.to_bytes(),
        expires_at: ctx.now + u64::from(ttl),
        data: data.to_vec(),
    };
    let value = postcard::to_allocvec(&record).map_err(|e| StoreError::Backend(e.to_string()))?;
    let bytes = Id::LEN + value.len();
    if !ctx.has_room_for(bytes) {
        return Ok(ctx.refuse(Limit::DiskBudget));
    }
    ctx.txn.put(Table::Links, link_id.as_bytes(), &value)?;
    ctx.delta.links += 1;
    ctx.delta.bytes += bytes as i64;
    Ok((ResponseBody::LinkStored { link_id }, None))
}
