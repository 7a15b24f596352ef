//! A full or failing disk: the host refuses what it cannot store, keeps what it acknowledged,
//! serves again when the disk does, and says so when its store cannot be used at all.

use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_proto::{Command, ErrorCode, Id, MailboxKind, Response, ResponseBody};

use super::tests::T0;
use super::{Host, HostConfig, Limit};
use crate::store::failing::{FailingStore, Failure};

fn host(failure: &Failure) -> Host<FailingStore> {
    Host::open(FailingStore::new(failure.clone()), HostConfig::default()).unwrap()
}

struct Client {
    writer: ed25519_dalek::SigningKey,
    reader: ed25519_dalek::SigningKey,
    write_id: Id,
    read_id: Id,
}

fn request(command: Command, target: Id, key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    sotto_proto::Request {
        command,
        nonce: rand::random(),
        timestamp: T0,
        target,
    }
    .seal(key)
    .unwrap()
}

fn run(
    host: &mut Host<FailingStore>,
    frame: &[u8],
    rng: &mut StdRng,
) -> (ResponseBody, Option<Limit>) {
    let outcome = host.handle_batch(&[frame.to_vec()], T0, rng);
    let handled = &outcome.handled[0];
    (Response::open(&handled.frame).unwrap().body, handled.limit)
}

fn create(host: &mut Host<FailingStore>, rng: &mut StdRng) -> Client {
    let (writer, reader) = (
        ed25519_dalek::SigningKey::generate(rng),
        ed25519_dalek::SigningKey::generate(rng),
    );
    let command = Command::Create {
        kind: MailboxKind::Conversation,
        ttl_secs: 0,
        quota: 0,
        writer_key: writer.verifying_key(),
        reader_key: reader.verifying_key(),
        voucher: None,
    };
    let frame = request(command, Id::from_bytes([0; Id::LEN]), &reader);
    let (ResponseBody::Created { write_id, read_id }, _) = run(host, &frame, rng) else {
        panic!("created");
    };
    Client {
        writer,
        reader,
        write_id,
        read_id,
    }
}

#[test]
fn a_full_disk_refuses_writes_loses_nothing_and_serves_again() {
    let (failure, mut rng) = (Failure::default(), StdRng::seed_from_u64(3));
    let mut host = host(&failure);
    let client = create(&mut host, &mut rng);
    let write = |body: &[u8]| {
        request(
            Command::Write {
                body: body.to_vec(),
            },
            client.write_id,
            &client.writer,
        )
    };
    assert_eq!(
        run(&mut host, &write(b"a"), &mut rng).0,
        ResponseBody::Written { seq: 1 }
    );

    failure.set(Failure::NO_SPACE);
    let second = write(b"b");
    assert_eq!(
        run(&mut host, &second, &mut rng),
        (ResponseBody::Error(ErrorCode::Full), Some(Limit::DiskFull))
    );
    assert!(host.usable(), "a full disk is no reason to stop");
    assert_eq!(host.stats().messages, 1);

    failure.set(Failure::NONE);
    assert_eq!(
        run(&mut host, &second, &mut rng).0,
        ResponseBody::Written { seq: 2 },
        "the refused frame runs once there is space"
    );
    let fetch = request(Command::Fetch, client.read_id, &client.reader);
    let ResponseBody::Messages(messages) = run(&mut host, &fetch, &mut rng).0 else {
        panic!("fetched");
    };
    let bodies: Vec<&[u8]> = messages.iter().map(|m| m.body.as_slice()).collect();
    assert_eq!(bodies, [b"a".as_slice(), b"b"]);
}

#[test]
fn a_store_that_cannot_be_reopened_makes_the_host_unusable() {
    let (failure, mut rng) = (Failure::default(), StdRng::seed_from_u64(4));
    let mut host = host(&failure);
    let client = create(&mut host, &mut rng);
    failure.set(Failure::BROKEN);
    let fetch = request(Command::Fetch, client.read_id, &client.reader);
    assert_eq!(
        run(&mut host, &fetch, &mut rng).0,
        ResponseBody::Error(ErrorCode::Internal)
    );
    assert!(!host.usable());
}
