//! Transfers run apart from their device, as `sotto serve`'s loop runs them: started on the
//! device, moved in a task of their own while the device goes on with messages, their
//! checkpoints stored by the device, finished on it.

use std::io::Write;

use sotto_client::files::ChunkSet;
use sotto_client::{FileToSend, Finished};
use sotto_proto::conversation::MessageId;
use sotto_proto::file_offer::{FileKind, CHUNK_PLAINTEXT_LEN};
use tokio::sync::mpsc;

use crate::faults::Faults;
use crate::network::MemoryNetwork;
use crate::people::{connected, settle};

#[tokio::test(start_paused = true)]
async fn a_transfer_runs_in_its_own_task_while_its_device_exchanges_messages() {
    let network = MemoryNetwork::new(4, 41, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    alice.listen().await;
    bob.listen().await;
    let source = alice.path("apart.bin");
    let bytes: Vec<u8> = (0..300 * CHUNK_PLAINTEXT_LEN)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    std::fs::File::create(&source)
        .unwrap()
        .write_all(&bytes)
        .unwrap();

    // Up: the chunks move in a task; the device stores what the task reports.
    let file = FileToSend {
        path: &source,
        kind: FileKind::File,
        caption: "apart",
        limit: sotto_client::DEFAULT_MAX_FILE_SIZE,
    };
    let upload = alice.device.start_upload("Bob", file).await.unwrap();
    let id = upload.id();
    assert!(upload.outgoing());
    let (checkpoints_in, mut checkpoints) = mpsc::unbounded_channel::<(MessageId, ChunkSet)>();
    let task = tokio::spawn(async move {
        let mut progress =
            move |id: &MessageId, done: &ChunkSet| checkpoints_in.send((*id, done.clone())).is_ok();
        upload.run(&mut progress).await
    });
    // Meanwhile the device sends and receives texts.
    alice.send(&bob, "while it uploads").await;
    bob.send(&alice, "and back").await;
    settle(&mut alice, &mut bob).await;
    let finished = task.await.unwrap().unwrap();
    assert_eq!(finished, Finished::Uploaded);
    let mut stored = 0;
    while let Ok((checkpoint, done)) = checkpoints.try_recv() {
        assert_eq!(checkpoint, id);
        alice.device.record_file_progress(&id, &done).unwrap();
        stored += 1;
    }
    assert!(
        stored >= 2,
        "checkpoints every 64 chunks and at the end: {stored}"
    );
    let summary = alice.device.records().files().unwrap();
    assert_eq!(
        (summary[0].chunks_done, summary[0].state.name()),
        (300, "uploading")
    );
    alice.device.finish_upload(&id).await.unwrap();
    settle(&mut alice, &mut bob).await;
    assert!(bob
        .texts(&alice, false)
        .iter()
        .any(|(_, t)| t == "while it uploads"));
    assert!(alice
        .texts(&bob, false)
        .iter()
        .any(|(_, t)| t == "and back"));

    // Down, the same way.
    let out = bob.path("apart-got.bin");
    let download = bob.device.start_download(&id, &out).await.unwrap().unwrap();
    assert!(!download.outgoing());
    let task = tokio::spawn(async move { download.run(&mut |_, _| true).await });
    alice.send(&bob, "during the download").await;
    settle(&mut alice, &mut bob).await;
    let Finished::Downloaded(path) = task.await.unwrap().unwrap() else {
        panic!("a download ends downloaded");
    };
    bob.device.finish_download(&id, &path).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    let summary = bob.device.records().files().unwrap();
    assert_eq!(summary[0].state.name(), "done");
    assert!(bob
        .texts(&alice, false)
        .iter()
        .any(|(_, t)| t == "during the download"));
    // Fetched already: nothing to run.
    assert!(bob
        .device
        .start_download(&id, &out)
        .await
        .unwrap()
        .is_none());
}
