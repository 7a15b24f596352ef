//! A download onto a disk that fills up stops cleanly, says so, keeps what it checkpointed,
//! and goes on from there once there is room.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sotto_client::files::{self, ChunkSet, ChunkTarget, FileError, FileKey, Share};
use sotto_client::{MailboxClient, Network};
use sotto_proto::file_offer::CHUNK_PLAINTEXT_LEN;

use crate::faults::Faults;
use crate::network::MemoryNetwork;

/// A file on a disk with room for `room` more bytes.
struct FillingDisk {
    file: File,
    room: AtomicUsize,
}

impl ChunkTarget for FillingDisk {
    fn set_len(&self, size: u64) -> std::io::Result<()> {
        // Sparse: a new length takes no room.
        self.file.set_len(size)
    }

    fn write_all_at(&self, bytes: &[u8], offset: u64) -> std::io::Result<()> {
        let left = self.room.load(Ordering::SeqCst);
        if left < bytes.len() {
            return Err(ErrorKind::StorageFull.into());
        }
        self.room.store(left - bytes.len(), Ordering::SeqCst);
        FileExt::write_all_at(&self.file, bytes, offset)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }
}

#[tokio::test(start_paused = true)]
async fn a_download_onto_a_full_disk_stops_says_so_and_goes_on_later() {
    let mut network = MemoryNetwork::new(3, 37, Faults::default());
    let directory = network.directory();
    let (entry, host) = (network.relay(0), network.relay(1));
    let dir = std::env::temp_dir().join(format!("sotto-full-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("source.bin");
    let count = 200u32;
    let size = (count as usize - 1) * CHUNK_PLAINTEXT_LEN + 5;
    let plain: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&source, &plain).unwrap();

    let transport = network.connect(&directory, entry, host).await.unwrap();
    let client = Arc::new(MailboxClient::new(transport));
    let new = client.create_file(count, 1, 0).await.unwrap();
    let key = FileKey::random();
    let write = [Share {
        client: client.clone(),
        cap: new.write,
    }];
    let mut done = ChunkSet::empty(count);
    files::upload(&write, &key, &source, size as u64, &mut done, &mut |_| {
        Ok(())
    })
    .await
    .unwrap();
    let read = [Share {
        client,
        cap: new.read,
    }];

    let out = dir.join("out.bin");
    let disk = FillingDisk {
        file: File::options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&out)
            .unwrap(),
        room: AtomicUsize::new(150 * CHUNK_PLAINTEXT_LEN),
    };
    let mut saved = ChunkSet::empty(count);
    let mut done = ChunkSet::empty(count);
    let error = files::download_into(
        &read,
        &key,
        &disk,
        &out,
        size as u64,
        &mut done,
        &mut |set| {
            saved = set.clone();
            Ok(())
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(error, FileError::DiskFull { .. }), "{error}");
    assert!(error.to_string().contains("disk is full"), "{error}");
    // What was checkpointed is on disk; the transfer goes on from there.
    assert!(
        saved.done() >= 64 && !saved.is_complete(),
        "{}",
        saved.done()
    );
    let mut done = saved.clone();
    files::download(&read, &key, &out, size as u64, &mut done, &mut |_| Ok(()))
        .await
        .unwrap();
    assert!(done.is_complete());
    assert_eq!(std::fs::read(&out).unwrap(), plain);
    std::fs::remove_dir_all(&dir).unwrap();
}
