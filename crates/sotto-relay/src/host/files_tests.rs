//! The host's file rules: chunks stored once and read by many, deleted after every
//! recipient's receipt or at the TTL, and bounded per file and per host.

use ed25519_dalek::SigningKey;
use sotto_proto::{Command, ErrorCode, Id, ResponseBody, MAX_CHUNK_LEN};

use super::tests::{Bench, T0};
use super::HostConfig;
use crate::store::{Store, Table};

struct File {
    write_id: Id,
    writer: SigningKey,
    read_id: Id,
    reader: SigningKey,
}

const NO_TARGET: Id = Id::from_bytes([0; Id::LEN]);

fn create(
    b: &mut Bench,
    chunks: u32,
    recipients: u16,
    ttl_secs: u32,
) -> Result<File, ResponseBody> {
    let (writer, reader) = (b.key(), b.key());
    let command = Command::CreateFile {
        ttl_secs,
        recipients,
        chunks,
        writer_key: writer.verifying_key(),
        reader_key: reader.verifying_key(),
    };
    match b.send(command, NO_TARGET, &reader) {
        ResponseBody::Created { write_id, read_id } => Ok(File {
            write_id,
            writer,
            read_id,
            reader,
        }),
        other => Err(other),
    }
}

fn put(b: &mut Bench, file: &File, index: u32, data: &[u8]) -> ResponseBody {
    let command = Command::PutChunk {
        index,
        data: data.to_vec(),
    };
    b.send(command, file.write_id, &file.writer.clone())
}

fn get(b: &mut Bench, file: &File, index: u32) -> ResponseBody {
    b.send(
        Command::GetChunk { index },
        file.read_id,
        &file.reader.clone(),
    )
}

fn done(b: &mut Bench, file: &File, receipt: u8) -> ResponseBody {
    let command = Command::FileDone {
        receipt: [receipt; 16],
    };
    b.send(command, file.read_id, &file.reader.clone())
}

fn error(code: ErrorCode) -> ResponseBody {
    ResponseBody::Error(code)
}

fn chunk(index: u32, data: &[u8]) -> ResponseBody {
    ResponseBody::Chunk {
        index,
        data: data.to_vec(),
    }
}

/// Every value in the host's store, to look for what it must not hold.
fn stored(b: &mut Bench) -> Vec<Vec<u8>> {
    let mut values = Vec::new();
    let txn = b.host.store.begin().unwrap();
    for table in Table::ALL {
        for (key, value) in txn.range(table, &[], &[0xff; 64], usize::MAX).unwrap() {
            values.push(key);
            values.push(value);
        }
    }
    values
}

#[test]
fn many_readers_read_one_upload_in_any_order_until_every_receipt() {
    let mut b = Bench::new();
    let file = create(&mut b, 3, 5, 0).unwrap();
    let full = vec![7u8; MAX_CHUNK_LEN];
    for index in [2, 0, 1] {
        assert_eq!(put(&mut b, &file, index, &full), ResponseBody::Done);
    }
    assert_eq!(b.host.stats().chunks, 3);
    // Five recipients read every chunk, each in its own order, some twice (a resume).
    for reader in 0..5u8 {
        for index in [1, 2, 0, 2] {
            assert_eq!(get(&mut b, &file, index), chunk(index, &full));
        }
        assert_eq!(done(&mut b, &file, reader), ResponseBody::Done);
        // A retried receipt (same receipt, new request) counts once.
        assert_eq!(
            done(&mut b, &file, reader),
            if reader < 4 {
                ResponseBody::Done
            } else {
                error(ErrorCode::Auth)
            }
        );
        let left = if reader < 4 { 3 } else { 0 };
        assert_eq!(b.host.stats().chunks, left, "after receipt {reader}");
    }
    assert_eq!(get(&mut b, &file, 0), error(ErrorCode::Auth));
    assert_eq!(b.host.stats().files, 0);
    assert_eq!(b.host.stats().reserved_chunks, 0);
    // Once the replay memory of its requests is gone too, nothing of the file is left.
    b.now += sotto_proto::REPLAY_WINDOW_SECS + 1;
    b.host.sweep(b.now).unwrap();
    assert!(stored(&mut b).is_empty(), "the file left something behind");
}

#[test]
fn a_missing_chunk_and_an_index_beyond_the_file_are_told_apart() {
    let mut b = Bench::new();
    let file = create(&mut b, 2, 1, 0).unwrap();
    assert_eq!(get(&mut b, &file, 1), error(ErrorCode::NoChunk));
    assert_eq!(get(&mut b, &file, 2), error(ErrorCode::TooLarge));
    assert_eq!(put(&mut b, &file, 2, b"x"), error(ErrorCode::TooLarge));
    // An upload resumed after a crash stores a chunk again: it replaces, it does not add.
    assert_eq!(put(&mut b, &file, 1, b"first"), ResponseBody::Done);
    assert_eq!(put(&mut b, &file, 1, b"again"), ResponseBody::Done);
    assert_eq!(get(&mut b, &file, 1), chunk(1, b"again"));
    assert_eq!(b.host.stats().chunks, 1);
}

#[test]
fn capabilities_keep_their_roles() {
    let mut b = Bench::new();
    let file = create(&mut b, 1, 1, 0).unwrap();
    let stranger = b.key();
    let reader = file.reader.clone();
    let writer = file.writer.clone();
    // Recipients cannot write or delete; the uploader's write id cannot read; strangers nothing.
    let as_reader = Command::PutChunk {
        index: 0,
        data: vec![1],
    };
    assert_eq!(
        b.send(as_reader.clone(), file.read_id, &reader),
        error(ErrorCode::Auth)
    );
    assert_eq!(
        b.send(as_reader, file.write_id, &reader),
        error(ErrorCode::Auth)
    );
    assert_eq!(
        b.send(Command::DeleteFile, file.read_id, &reader),
        error(ErrorCode::Auth)
    );
    let read = Command::GetChunk { index: 0 };
    assert_eq!(
        b.send(read.clone(), file.write_id, &writer),
        error(ErrorCode::Auth)
    );
    assert_eq!(
        b.send(read.clone(), file.read_id, &stranger),
        error(ErrorCode::Auth)
    );
    // Mailbox commands do not reach a file, nor file commands a mailbox.
    assert_eq!(
        b.send(Command::Fetch, file.read_id, &reader),
        error(ErrorCode::Auth)
    );
    assert_eq!(
        b.send(Command::Write { body: vec![1] }, file.write_id, &writer),
        error(ErrorCode::Auth)
    );
    assert_eq!(
        b.send(Command::DeleteFile, file.write_id, &writer),
        ResponseBody::Done
    );
    assert_eq!(b.send(read, file.read_id, &reader), error(ErrorCode::Auth));
    assert_eq!(b.host.stats().files, 0);
}

#[test]
fn files_expire_at_their_ttl_and_the_sweep_removes_them() {
    let mut b = Bench::new();
    let default = create(&mut b, 1, 1, 0).unwrap();
    let short = create(&mut b, 1, 1, 60).unwrap();
    let long = create(&mut b, 1, 1, u32::MAX).unwrap();
    for file in [&default, &short, &long] {
        assert_eq!(put(&mut b, file, 0, b"c"), ResponseBody::Done);
    }
    b.now = T0 + 60;
    assert_eq!(get(&mut b, &short, 0), error(ErrorCode::Auth));
    assert_eq!(get(&mut b, &default, 0), chunk(0, b"c"));
    b.host.sweep(b.now).unwrap();
    assert_eq!(b.host.stats().files, 2);
    // 48 hours by default; a longer ask is capped at the host's 7 days.
    b.now = T0 + 48 * 3600;
    assert_eq!(get(&mut b, &default, 0), error(ErrorCode::Auth));
    assert_eq!(get(&mut b, &long, 0), chunk(0, b"c"));
    b.now = T0 + 7 * 24 * 3600;
    b.host.sweep(b.now).unwrap();
    assert_eq!(b.host.stats().files, 0);
    assert_eq!(b.host.stats().chunks, 0);
    assert_eq!(b.host.stats().reserved_chunks, 0);
}

#[test]
fn files_are_bounded_per_file_and_per_host() {
    let config = HostConfig {
        max_file_chunks: 10,
        max_file_recipients: 4,
        max_held_chunks: 15,
        ..HostConfig::default()
    };
    let mut b = Bench::with(config);
    assert_eq!(
        create(&mut b, 11, 1, 0).err(),
        Some(error(ErrorCode::TooLarge))
    );
    assert_eq!(
        create(&mut b, 0, 1, 0).err(),
        Some(error(ErrorCode::TooLarge))
    );
    assert_eq!(
        create(&mut b, 1, 5, 0).err(),
        Some(error(ErrorCode::TooLarge))
    );
    let first = create(&mut b, 10, 4, 0).unwrap();
    // The reservation counts, not what is stored yet.
    assert_eq!(create(&mut b, 6, 1, 0).err(), Some(error(ErrorCode::Full)));
    let second = create(&mut b, 5, 1, 0).unwrap();
    assert_eq!(create(&mut b, 1, 1, 0).err(), Some(error(ErrorCode::Full)));
    assert_eq!(
        b.send(Command::DeleteFile, first.write_id, &first.writer.clone()),
        ResponseBody::Done
    );
    assert!(create(&mut b, 10, 1, 0).is_ok());
    assert_eq!(done(&mut b, &second, 1), ResponseBody::Done);
    assert_eq!(b.host.stats().reserved_chunks, 10);
}

#[test]
fn reservations_are_counted_again_when_the_host_opens() {
    let mut b = Bench::new();
    create(&mut b, 7, 1, 0).unwrap();
    create(&mut b, 5, 1, 0).unwrap();
    let store = std::mem::take(&mut b.host.store);
    let host = super::Host::open(store, HostConfig::default()).unwrap();
    assert_eq!(host.stats().reserved_chunks, 12);
    assert_eq!(host.stats().files, 2);
}
