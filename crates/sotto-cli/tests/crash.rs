//! A relay killed with SIGKILL mid-stream loses no write it answered, and duplicates none.

use std::path::Path;
use std::time::Duration;

use rand::Rng;
use sotto_client::{MailboxClient, MailboxOptions};
use sotto_proto::{ErrorCode, MailboxKind};
use sotto_testnet::{RelayOptions, TestRelay};

const MESSAGES: u32 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answered_write_survives_kill_9_exactly_once_in_order() {
    let mut relay = TestRelay::start(
        Path::new(env!("CARGO_BIN_EXE_sotto")),
        RelayOptions::default(),
    );
    let client = std::sync::Arc::new(relay.client().await);
    let options = MailboxOptions {
        quota: 1024,
        ..MailboxOptions::new(MailboxKind::Conversation)
    };
    let m = client.create(options).await.unwrap();
    // Quota 1024 < 2000: when the mailbox is full the writer waits for the reader, as a real
    // writer would (a QUOTA answer wrote nothing, so trying again is a new request).
    let writer = {
        let (client, write) = (client.clone(), m.write.clone());
        tokio::spawn(async move {
            let mut answered = Vec::new();
            for i in 0..MESSAGES {
                let seq = loop {
                    match client.write(&write, &i.to_be_bytes()).await {
                        Ok(seq) => break seq,
                        Err(error) if error.code() == Some(ErrorCode::Quota) => {
                            tokio::time::sleep(Duration::from_millis(20)).await
                        }
                        Err(error) => panic!("write not answered: {error}"),
                    }
                };
                answered.push((i, seq));
            }
            answered
        })
    };

    let kill_after = Duration::from_millis(rand::thread_rng().gen_range(100..1500));
    tokio::time::sleep(kill_after).await;
    let restarted = tokio::task::spawn_blocking(move || {
        relay.kill();
        relay.restart("info");
        relay
    })
    .await
    .unwrap();

    let mut delivered: Vec<(u64, u32)> = Vec::new();
    let reader = MailboxClient::new(
        sotto_client::DirectTransport::connect(restarted.address())
            .await
            .unwrap(),
    );
    loop {
        let batch = reader.fetch(&m.read).await.unwrap();
        if let Some(last) = batch.last() {
            reader.ack(&m.read, last.seq).await.unwrap();
        }
        delivered.extend(batch.iter().map(|m| {
            let body: [u8; 4] = m.body.as_slice().try_into().expect("4-byte body");
            (m.seq, u32::from_be_bytes(body))
        }));
        if batch.is_empty() && writer.is_finished() {
            break;
        }
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let answered = writer.await.unwrap();
    assert_eq!(answered.len(), MESSAGES as usize);
    let bodies: Vec<u32> = delivered.iter().map(|(_, body)| *body).collect();
    assert_eq!(
        bodies,
        (0..MESSAGES).collect::<Vec<_>>(),
        "each message once, in order (killed after {kill_after:?})"
    );
    assert!(
        delivered.windows(2).all(|w| w[0].0 < w[1].0),
        "sequence numbers increase"
    );
    let seqs: Vec<u64> = answered.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(
        seqs,
        delivered.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        "answers match deliveries"
    );
    drop(restarted);
}
