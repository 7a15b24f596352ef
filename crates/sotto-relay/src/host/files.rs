//! Files: chunks stored once and read by every recipient, in any order and as often as they
//! need (a resumed download reads again). A file reserves its declared chunk count when it is
//! created, so a host that accepted a file never runs out of room halfway through its upload;
//! it is deleted when as many distinct receipts came as it has recipients, or at its TTL.

use ed25519_dalek::VerifyingKey;
use rand::{CryptoRng, RngCore};
use sotto_proto::{Command, ErrorCode, Id, ResponseBody, SignedRequest};

use super::commands::{capability_object, clamp, save_capabilities, verified, Ctx};
use super::records::{chunk_key, decode, save, FileRecord, Role};
use super::verify::SignatureCheck;
use super::{Authority, Limit, StatsDelta};
use crate::store::{StoreError, Table, Txn};

type Outcome = (ResponseBody, Option<Id>);

const KEY_END: [u8; Id::LEN + 1] = [0xff; Id::LEN + 1];
/// Files a sweep run looks at.
const FILES_PER_RUN: usize = 512;

pub(crate) struct NewFile<'a> {
    pub ttl_secs: u32,
    pub recipients: u16,
    pub chunks: u32,
    pub writer_key: &'a VerifyingKey,
    pub reader_key: &'a VerifyingKey,
}

/// Chunks the stored files reserve together (counted once when the host opens).
pub(crate) fn reserved(txn: &dyn Txn) -> Result<u64, StoreError> {
    let mut total = 0u64;
    let mut from = Vec::new();
    loop {
        let slice = txn.range(Table::Files, &from, &KEY_END, FILES_PER_RUN)?;
        for (_, value) in &slice {
            if let Ok(record) = postcard::from_bytes::<FileRecord>(value) {
                total += u64::from(record.chunks);
            }
        }
        match slice.last() {
            Some((key, _)) if slice.len() == FILES_PER_RUN => {
                from = key.clone();
                from.push(0);
            }
            _ => return Ok(total),
        }
    }
}

/// Finds the file a chunk command names and checks its signature: the uploader's key for
/// `put_chunk` and `delete_file`, the recipients' for `get_chunk` and `file_done`. An unknown
/// id costs the same two lookups and one verification and gets the same `None` (AUTH).
pub(crate) fn authorize<R>(
    ctx: &mut Ctx<'_, R>,
    signed: &SignedRequest,
    decoy_key: &VerifyingKey,
    signatures: &mut dyn SignatureCheck,
) -> Result<Option<Authority>, StoreError> {
    let cap = signed.request.target;
    let needed = match signed.request.command {
        Command::PutChunk { .. } | Command::DeleteFile => Role::FileWriter,
        _ => Role::FileReader,
    };
    let found = capability_object(ctx.txn, &cap, needed, Table::Files)?
        .map(|(file, bytes)| decode::<FileRecord>(&bytes, "file").map(|record| (file, record)))
        .transpose()?;
    let signer = found.as_ref().map(|(_, record)| match needed {
        Role::FileWriter => record.writer_key,
        _ => record.reader_key,
    });
    Ok(
        match (found, verified(signed, signer, decoy_key, signatures)) {
            (Some((file, record)), Some(signer)) => Some(Authority::File {
                signer,
                file,
                record: Box::new(record),
            }),
            _ => None,
        },
    )
}

pub(crate) fn create<R: RngCore + CryptoRng>(
    ctx: &mut Ctx<'_, R>,
    new: NewFile<'_>,
) -> Result<Outcome, StoreError> {
    let config = ctx.config;
    if new.chunks == 0
        || new.chunks > config.max_file_chunks
        || new.recipients > config.max_file_recipients
    {
        return Ok((ResponseBody::Error(ErrorCode::TooLarge), None));
    }
    if ctx.holds().reserved_chunks + u64::from(new.chunks) > config.max_held_chunks {
        return Ok(ctx.refuse(Limit::HeldChunks));
    }
    let (file, write_id, read_id) = (
        Id::random(ctx.rng),
        Id::random(ctx.rng),
        Id::random(ctx.rng),
    );
    let ttl = clamp(
        new.ttl_secs,
        config.file_default_ttl_secs,
        config.file_max_ttl_secs,
    );
    let record = FileRecord {
        expires_at: ctx.now + u64::from(ttl),
        chunks: new.chunks,
        recipients: new.recipients.max(1),
        write_id: *write_id.as_bytes(),
        writer_key: new.writer_key.to_bytes(),
        read_id: *read_id.as_bytes(),
        reader_key: new.reader_key.to_bytes(),
        receipts: Vec::new(),
    };
    save(ctx.txn, Table::Files, file.as_bytes(), &record)?;
    save_capabilities(
        ctx.txn,
        &file,
        [(write_id, Role::FileWriter), (read_id, Role::FileReader)],
    )?;
    ctx.delta.files += 1;
    ctx.delta.reserved_chunks += i64::from(new.chunks);
    Ok((ResponseBody::Created { write_id, read_id }, None))
}

pub(crate) fn execute<R>(
    ctx: &mut Ctx<'_, R>,
    command: &Command,
    file: [u8; Id::LEN],
    mut record: FileRecord,
) -> Result<Outcome, StoreError> {
    if record.expires_at <= ctx.now {
        // The sweep has not reached it yet; it is already gone for clients.
        return Ok((ResponseBody::Error(ErrorCode::Auth), None));
    }
    let body = match command {
        Command::PutChunk { index, .. } | Command::GetChunk { index }
            if *index >= record.chunks =>
        {
            ResponseBody::Error(ErrorCode::TooLarge)
        }
        Command::PutChunk { index, data } => {
            let key = chunk_key(&file, *index);
            if ctx.txn.get(Table::Chunks, &key)?.is_none() {
                ctx.delta.chunks += 1;
            }
            ctx.txn.put(Table::Chunks, &key, data)?;
            ResponseBody::Done
        }
        Command::GetChunk { index } => {
            match ctx.txn.get(Table::Chunks, &chunk_key(&file, *index))? {
                Some(data) => ResponseBody::Chunk {
                    index: *index,
                    data,
                },
                None => ResponseBody::Error(ErrorCode::NoChunk),
            }
        }
        Command::FileDone { receipt } => {
            if !record.receipts.contains(receipt) {
                record.receipts.push(*receipt);
            }
            if record.receipts.len() >= usize::from(record.recipients) {
                delete(ctx.txn, &file, &record, &mut ctx.delta)?;
            } else {
                save(ctx.txn, Table::Files, &file, &record)?;
            }
            ResponseBody::Done
        }
        Command::DeleteFile => {
            delete(ctx.txn, &file, &record, &mut ctx.delta)?;
            ResponseBody::Done
        }
        _ => ResponseBody::Error(ErrorCode::Auth),
    };
    Ok((body, None))
}

/// Removes a file with its capabilities and chunks.
fn delete(
    txn: &mut dyn Txn,
    file: &[u8; Id::LEN],
    record: &FileRecord,
    delta: &mut StatsDelta,
) -> Result<(), StoreError> {
    txn.remove(Table::Capabilities, &record.write_id)?;
    txn.remove(Table::Capabilities, &record.read_id)?;
    let removed = txn.remove_range(
        Table::Chunks,
        &chunk_key(file, 0),
        &[file.as_slice(), &[0xff; 5]].concat(),
    )?;
    txn.remove(Table::Files, file)?;
    delta.chunks -= removed.entries as i64;
    delta.files -= 1;
    delta.reserved_chunks -= i64::from(record.chunks);
    Ok(())
}

/// Deletes the files of the next slice whose TTL has ended; returns where to continue.
pub(crate) fn sweep(
    txn: &mut dyn Txn,
    now: u64,
    from: &[u8],
    delta: &mut StatsDelta,
) -> Result<Vec<u8>, StoreError> {
    let slice = txn.range(Table::Files, from, &KEY_END, FILES_PER_RUN)?;
    for (key, value) in &slice {
        let Ok(file) = <[u8; Id::LEN]>::try_from(key.as_slice()) else {
            continue;
        };
        match postcard::from_bytes::<FileRecord>(value) {
            Ok(record) if record.expires_at <= now => delete(txn, &file, &record, delta)?,
            Ok(_) => {}
            Err(_) => tracing::error!("skipping a corrupt file record during expiry"),
        }
    }
    Ok(match slice.last() {
        Some((key, _)) if slice.len() == FILES_PER_RUN => {
            let mut next = key.clone();
            next.push(0);
            next
        }
        _ => Vec::new(),
    })
}
