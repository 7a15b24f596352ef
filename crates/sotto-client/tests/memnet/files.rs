//! Files on the in-memory network: one upload spread over several hosts, read back whole,
//! resumed after a stop on either side, refused when a host alters it, read by many, and gone
//! from the hosts once every recipient has it.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sotto_client::files::{self, ChunkSet, FileError, FileKey, Share};
use sotto_client::{ConversationError, FileToSend, MailboxClient, Network};
use sotto_proto::file_offer::{FileKind, CHUNK_PLAINTEXT_LEN};
use sotto_proto::Fingerprint;

use crate::faults::Faults;
use crate::network::MemoryNetwork;
use crate::people::connected;

const MIB: usize = 1 << 20;

/// A file of `size` bytes drawn from `seed`, written a piece at a time.
fn make_file(path: &Path, size: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut file = std::fs::File::create(path).unwrap();
    let mut piece = vec![0u8; MIB];
    let mut left = size;
    while left > 0 {
        let n = left.min(MIB);
        rng.fill_bytes(&mut piece[..n]);
        file.write_all(&piece[..n]).unwrap();
        left -= n;
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    std::fs::read(a).unwrap() == std::fs::read(b).unwrap()
}

fn send(path: &Path) -> FileToSend<'_> {
    FileToSend {
        path,
        kind: FileKind::File,
        caption: "here it is",
        limit: sotto_client::DEFAULT_MAX_FILE_SIZE,
    }
}

fn relays(network: &MemoryNetwork, count: usize) -> Vec<Fingerprint> {
    (0..count).map(|index| network.relay(index)).collect()
}

fn file_error(error: ConversationError) -> FileError {
    match error {
        ConversationError::File(error) => *error,
        other => panic!("not a file error: {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_24_mib_file_arrives_intact_from_several_hosts_that_never_see_it_and_then_forget_it() {
    let network = MemoryNetwork::new(5, 31, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    let source = alice.path("big.bin");
    make_file(&source, 24 * MIB, 1);
    let id = alice
        .device
        .send_file("Bob", send(&source), &mut |_, _| true)
        .await
        .unwrap();

    let holding: Vec<Fingerprint> = relays(&network, 5)
        .into_iter()
        .filter(|relay| network.host_stats(relay).files > 0)
        .collect();
    assert!(holding.len() >= 2, "one host holds the whole file");
    let chunks: u64 = holding.iter().map(|r| network.host_stats(r).chunks).sum();
    assert_eq!(chunks, (24 * MIB).div_ceil(CHUNK_PLAINTEXT_LEN) as u64);
    // A curious host: no piece of the file is anywhere in what it stores.
    let plain = std::fs::read(&source).unwrap();
    let samples: Vec<&[u8]> = (0..64).map(|i| &plain[i * 24 * MIB / 64..][..32]).collect();
    for relay in &holding {
        for value in network.stored(relay) {
            for sample in &samples {
                assert!(
                    !value.windows(32).any(|w| w == *sample),
                    "a host holds file bytes in clear"
                );
            }
        }
    }

    bob.sync().await;
    let messages = bob.device.records().messages("Alice").unwrap();
    let offered = messages
        .iter()
        .find(|m| m.id == id)
        .expect("the offer came");
    let file = offered.file.as_ref().expect("as a file message");
    assert_eq!(
        (file.name.as_str(), file.size),
        ("big.bin", 24 * MIB as u64)
    );
    assert_eq!(offered.text, "here it is");

    let out = bob.path("received.bin");
    let written = bob
        .device
        .download(&id, &out, &mut |_, _| true)
        .await
        .unwrap();
    assert_eq!(written, out);
    assert!(same_file(&source, &out), "the file arrived altered");
    let listed = bob.device.records().files().unwrap();
    assert_eq!(listed[0].state.name(), "done");
    assert_eq!(listed[0].chunks_done, listed[0].chunks);

    // Every recipient (one) has it: the hosts deleted it.
    for relay in relays(&network, 5) {
        let stats = network.host_stats(&relay);
        assert_eq!((stats.files, stats.chunks), (0, 0), "a host kept the file");
    }
    // So a second fetch, elsewhere, says the file is gone, and writes nothing.
    let again = bob.path("again.bin");
    let error = bob
        .device
        .download(&id, &again, &mut |_, _| true)
        .await
        .unwrap_err();
    assert!(matches!(file_error(error), FileError::Expired));
    assert!(!again.exists());
}

#[tokio::test(start_paused = true)]
async fn an_upload_and_a_download_go_on_where_a_crash_stopped_them() {
    let network = MemoryNetwork::new(4, 32, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    let source = alice.path("resume.bin");
    let size = 3 * MIB + 5;
    make_file(&source, size, 2);

    // The sender stops after its first checkpoint, then its process is killed.
    let error = alice
        .device
        .send_file("Bob", send(&source), &mut |_, _| false)
        .await
        .unwrap_err();
    assert!(matches!(file_error(error), FileError::Interrupted));
    alice.restart(&network);
    let mut first = None;
    let resumed = alice
        .device
        .resume_uploads(&mut |_, set| {
            first.get_or_insert(set.done());
            true
        })
        .await
        .unwrap();
    assert_eq!(resumed.len(), 1);
    assert!(first.unwrap() >= 128, "the upload started over: {first:?}");
    let id = resumed[0];

    bob.sync().await;
    let out = bob.path("resumed.bin");
    let error = bob
        .device
        .download(&id, &out, &mut |_, _| false)
        .await
        .unwrap_err();
    assert!(matches!(file_error(error), FileError::Interrupted));
    assert!(!out.exists(), "a partial file under the final name");
    bob.restart(&network);
    let mut first = None;
    bob.device
        .download(&id, &out, &mut |_, set| {
            first.get_or_insert(set.done());
            true
        })
        .await
        .unwrap();
    assert!(
        first.unwrap() >= 128,
        "the download started over: {first:?}"
    );
    assert!(same_file(&source, &out));
}

#[tokio::test(start_paused = true)]
async fn a_chunk_a_host_altered_is_refused_never_written_and_fetched_again() {
    let network = MemoryNetwork::new(3, 33, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    let source = alice.path("tamper.bin");
    make_file(&source, 40 * CHUNK_PLAINTEXT_LEN, 3);
    let id = alice
        .device
        .send_file("Bob", send(&source), &mut |_, _| true)
        .await
        .unwrap();
    bob.sync().await;

    let hosts: Vec<Fingerprint> = relays(&network, 3)
        .into_iter()
        .filter(|relay| network.host_stats(relay).files > 0)
        .collect();
    let flip = |chunk: &mut Vec<u8>| chunk[7] ^= 0x40;
    assert!(network.alter_chunks(&hosts[0], flip) > 0);
    let out = bob.path("tampered.bin");
    let error = bob
        .device
        .download(&id, &out, &mut |_, _| true)
        .await
        .unwrap_err();
    assert!(matches!(file_error(error), FileError::Tampered(_)));
    assert!(!out.exists());
    // What was refused is not in the partial file: the altered chunks' places are still zero.
    let part = std::fs::read(bob.path("tampered.bin.part")).unwrap();
    let plain = std::fs::read(&source).unwrap();
    let differs = part
        .chunks(CHUNK_PLAINTEXT_LEN)
        .zip(plain.chunks(CHUNK_PLAINTEXT_LEN))
        .filter(|(got, want)| got != want)
        .inspect(|(got, _)| assert!(got.iter().all(|b| *b == 0), "a refused chunk was written"))
        .count();
    assert!(differs > 0);

    // The host stops altering them: the download goes on and the file is whole.
    network.alter_chunks(&hosts[0], flip);
    bob.device
        .download(&id, &out, &mut |_, _| true)
        .await
        .unwrap();
    assert!(same_file(&source, &out));
}

#[tokio::test(start_paused = true)]
async fn one_upload_reaches_five_readers_and_goes_after_the_fifth() {
    let mut network = MemoryNetwork::new(4, 34, Faults::default());
    let directory = network.directory();
    let (entry, hosts) = (network.relay(0), [network.relay(1), network.relay(2)]);
    let dir = std::env::temp_dir().join(format!("sotto-five-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("shared.bin");
    let size = 100 * CHUNK_PLAINTEXT_LEN + 17;
    make_file(&source, size, 4);
    let count = 101u32;

    let mut writes = Vec::new();
    let mut reads = Vec::new();
    for (share, host) in hosts.iter().enumerate() {
        let transport = network.connect(&directory, entry, *host).await.unwrap();
        let client = Arc::new(MailboxClient::new(transport));
        let new = client
            .create_file(count / 2 + 1 - share as u32, 5, 0)
            .await
            .unwrap();
        reads.push((*host, new.read));
        writes.push(Share {
            client,
            cap: new.write,
        });
    }
    let key = FileKey::random();
    let mut done = ChunkSet::empty(count);
    files::upload(&writes, &key, &source, size as u64, &mut done, &mut |_| {
        Ok(())
    })
    .await
    .unwrap();
    assert!(done.is_complete());
    let uploaded: u64 = hosts.iter().map(|h| network.host_stats(h).chunks).sum();
    assert_eq!(uploaded, u64::from(count));

    for reader in 0..5u8 {
        // Each reader on its own links, as five devices would be.
        let mut shares = Vec::new();
        for (host, read) in &reads {
            let transport = network.connect(&directory, entry, *host).await.unwrap();
            shares.push(Share {
                client: Arc::new(MailboxClient::new(transport)),
                cap: read.clone(),
            });
        }
        let out = dir.join(format!("reader{reader}.bin"));
        let mut done = ChunkSet::empty(count);
        files::download(&shares, &key, &out, size as u64, &mut done, &mut |_| Ok(()))
            .await
            .unwrap();
        assert!(same_file(&source, &out), "reader {reader} got another file");
        for share in &shares {
            share
                .client
                .file_done(&share.cap, [reader; 16])
                .await
                .unwrap();
        }
        let left: u64 = hosts.iter().map(|h| network.host_stats(h).chunks).sum();
        let expected = if reader < 4 { u64::from(count) } else { 0 };
        assert_eq!(left, expected, "after reader {reader}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_missing_file_and_one_over_the_limit_are_refused_before_anything_is_sent() {
    let network = MemoryNetwork::new(3, 35, Faults::default());
    let (mut alice, _bob) = connected(&network).await;
    let missing = alice.path("nowhere.bin");
    let error = alice
        .device
        .send_file("Bob", send(&missing), &mut |_, _| true)
        .await
        .unwrap_err();
    assert!(matches!(file_error(error), FileError::Read { .. }));
    let source = alice.path("big.bin");
    make_file(&source, 1000, 5);
    let over = FileToSend {
        limit: 999,
        ..send(&source)
    };
    let error = alice
        .device
        .send_file("Bob", over, &mut |_, _| true)
        .await
        .unwrap_err();
    let error = file_error(error);
    assert!(matches!(
        error,
        FileError::TooLarge {
            size: 1000,
            limit: 999,
            ..
        }
    ));
    assert!(error.to_string().contains("over the limit"), "{error}");
    for relay in relays(&network, 3) {
        assert_eq!(network.host_stats(&relay).files, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_listening_device_fetches_a_file() {
    let network = MemoryNetwork::new(4, 36, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    bob.listen().await;
    let source = alice.path("listen.bin");
    make_file(&source, 50 * CHUNK_PLAINTEXT_LEN, 6);
    let id = alice
        .device
        .send_file("Bob", send(&source), &mut |_, _| true)
        .await
        .unwrap();
    crate::people::settle(&mut alice, &mut bob).await;
    let out = bob.path("listened.bin");
    let fetched = tokio::time::timeout(
        std::time::Duration::from_secs(300),
        bob.device.download(&id, &out, &mut |_, _| true),
    )
    .await;
    assert!(fetched.expect("within 300 s").is_ok());
    assert!(same_file(&source, &out));
}
