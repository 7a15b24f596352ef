//! Files taken back: a sender's cancel deletes the chunks at every host and a recipient is
//! told the file is gone; an upload whose file went away is deleted at its hosts on resume
//! instead of waiting there for its TTL.

use sotto_client::files::FileError;
use sotto_client::store::FileState;
use sotto_client::{ConversationError, FileToSend};
use sotto_proto::conversation::MessageId;
use sotto_proto::file_offer::{FileKind, CHUNK_PLAINTEXT_LEN};

use crate::faults::Faults;
use crate::network::MemoryNetwork;
use crate::people::{connected, Person};

fn send(path: &std::path::Path) -> FileToSend<'_> {
    FileToSend {
        path,
        kind: FileKind::File,
        caption: "",
        limit: sotto_client::DEFAULT_MAX_FILE_SIZE,
    }
}

fn files_held(network: &MemoryNetwork, relays: usize) -> u64 {
    (0..relays)
        .map(|index| network.host_stats(&network.relay(index)).files)
        .sum()
}

fn state(person: &Person, id: &MessageId) -> FileState {
    let files = person.device.records().files().unwrap();
    files.iter().find(|file| file.id == *id).unwrap().state
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_file_is_gone_from_its_hosts_and_its_recipient_is_told_so() {
    let network = MemoryNetwork::new(5, 38, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    let source = alice.path("taken-back.bin");
    std::fs::write(&source, vec![3u8; 20 * CHUNK_PLAINTEXT_LEN]).unwrap();
    let id = alice
        .device
        .send_file("Bob", send(&source), &mut |_, _| true)
        .await
        .unwrap();
    bob.sync().await;
    assert!(files_held(&network, 5) > 0);

    alice.device.cancel_file(&id).await.unwrap();
    assert_eq!(files_held(&network, 5), 0);
    assert_eq!(state(&alice, &id), FileState::Cancelled);
    // Cancelling again finds nothing left to delete, and is no error.
    alice.device.cancel_file(&id).await.unwrap();

    let error = bob
        .device
        .download(&id, &bob.path("late.bin"), &mut |_, _| true)
        .await
        .unwrap_err();
    let ConversationError::File(error) = error else {
        panic!("not a file error: {error}");
    };
    assert!(matches!(*error, FileError::Expired), "{error}");
    assert!(error.to_string().contains("gone from its hosts"), "{error}");
    // Only the sender cancels.
    assert!(bob.device.cancel_file(&id).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn an_upload_whose_file_went_away_is_deleted_at_its_hosts_on_resume() {
    let network = MemoryNetwork::new(5, 39, Faults::default());
    let (mut alice, _bob) = connected(&network).await;
    let source = alice.path("gone.bin");
    std::fs::write(&source, vec![4u8; 200 * CHUNK_PLAINTEXT_LEN]).unwrap();
    // Stopped after its first checkpoint: its hosts hold part of it.
    alice
        .device
        .send_file("Bob", send(&source), &mut |_, _| false)
        .await
        .unwrap_err();
    assert!(files_held(&network, 5) > 0);
    std::fs::remove_file(&source).unwrap();
    alice.restart(&network);

    let resumed = alice.device.resume_uploads(&mut |_, _| true).await.unwrap();
    assert!(resumed.is_empty());
    assert_eq!(files_held(&network, 5), 0, "the orphan's chunks stayed");
    let files = alice.device.records().files().unwrap();
    assert_eq!(files[0].state, FileState::Cancelled);
    // Later sends are not held up by it.
    let next = alice.path("next.bin");
    std::fs::write(&next, b"hello").unwrap();
    alice
        .device
        .send_file("Bob", send(&next), &mut |_, _| true)
        .await
        .unwrap();
}
