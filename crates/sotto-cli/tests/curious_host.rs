//! What a curious relay operator finds: after a conversation and a file, neither the relay's data
//! directory nor its most verbose log holds any plaintext the clients wrote, any client
//! address, or any capability id in the log.

use std::path::Path;
use std::time::Duration;

use rand::distributions::Alphanumeric;
use rand::Rng;
use sotto_client::files::{self, ChunkSet, FileKey, Share};
use sotto_client::{MailboxOptions, Transport};
use sotto_proto::file_offer::CHUNK_PLAINTEXT_LEN;
use sotto_proto::MailboxKind;
use sotto_testnet::scan::{contains, files_under};
use sotto_testnet::{RelayOptions, TestRelay};

fn random_text(rng: &mut impl Rng) -> Vec<u8> {
    let len = rng.gen_range(24..400);
    rng.sample_iter(&Alphanumeric).take(len).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_keeps_no_plaintext_and_no_client_address() {
    let options = RelayOptions {
        log_level: "trace",
        ..RelayOptions::default()
    };
    let mut relay = TestRelay::start(Path::new(env!("CARGO_BIN_EXE_sotto")), options);
    let alice = relay.client().await;
    let bob = relay.client().await;
    let mut rng = rand::thread_rng();
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    let mut ids: Vec<[u8; 24]> = Vec::new();

    let to_alice = alice
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await
        .unwrap();
    let to_bob = bob
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await
        .unwrap();
    for m in [&to_alice, &to_bob] {
        ids.extend([*m.write.id.as_bytes(), *m.read.id.as_bytes()]);
    }
    alice.subscribe(&to_alice.read).await.unwrap();
    for round in 0..40 {
        let (text_a, text_b) = (random_text(&mut rng), random_text(&mut rng));
        bob.write(&to_alice.write, &text_a).await.unwrap();
        alice.write(&to_bob.write, &text_b).await.unwrap();
        let push = tokio::time::timeout(Duration::from_secs(10), alice.next_push())
            .await
            .expect("push")
            .unwrap();
        assert_eq!(push.message.body, text_a);
        // Alice acknowledges everything; Bob leaves the last ten unread, so some stay stored.
        alice.ack(&to_alice.read, push.message.seq).await.unwrap();
        if round < 30 {
            let waiting = bob.fetch(&to_bob.read).await.unwrap();
            bob.ack(&to_bob.read, waiting.last().unwrap().seq)
                .await
                .unwrap();
        }
        secrets.extend([text_a, text_b]);
    }
    let link_text = random_text(&mut rng);
    let (link, _) = alice.put_link(0, &link_text).await.unwrap();
    ids.push(*link.id.as_bytes());
    assert_eq!(bob.get_link(&link).await.unwrap(), link_text);
    secrets.push(link_text);

    // A file of 40 chunks for two recipients, one of whom has fetched it: its chunks stay.
    let uploader = std::sync::Arc::new(relay.client().await);
    let new = uploader.create_file(40, 2, 0).await.unwrap();
    ids.extend([*new.write.id.as_bytes(), *new.read.id.as_bytes()]);
    let dir = relay.data_dir().with_extension("files");
    std::fs::create_dir_all(&dir).unwrap();
    let (source, copy) = (dir.join("sent.bin"), dir.join("got.bin"));
    let plain: Vec<u8> = (0..40 * CHUNK_PLAINTEXT_LEN).map(|_| rng.gen()).collect();
    std::fs::write(&source, &plain).unwrap();
    let key = FileKey::random();
    let write = [Share {
        client: uploader.clone(),
        cap: new.write,
    }];
    let size = plain.len() as u64;
    let mut done = ChunkSet::empty(40);
    files::upload(&write, &key, &source, size, &mut done, &mut |_| Ok(()))
        .await
        .unwrap();
    let read = [Share {
        client: uploader,
        cap: new.read,
    }];
    let mut done = ChunkSet::empty(40);
    files::download(&read, &key, &copy, size, &mut done, &mut |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&copy).unwrap(), plain);
    read[0]
        .client
        .file_done(&read[0].cap, [1; 16])
        .await
        .unwrap();
    secrets.extend(
        plain
            .chunks(CHUNK_PLAINTEXT_LEN)
            .map(|chunk| chunk[..32].to_vec()),
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let mut addresses: Vec<Vec<u8>> = Vec::new();
    for client in [&alice, &bob] {
        let local = client.transport().local_addr().unwrap();
        let port = local.port();
        addresses.push(format!("127.0.0.1:{port}").into_bytes());
        addresses.push(format!(":{port}").into_bytes());
        let mut raw = vec![127, 0, 0, 1];
        raw.extend_from_slice(&port.to_be_bytes());
        addresses.push(raw);
        assert!(client.transport().epoch() == 0);
    }
    relay.stop().expect("relay was running");

    let log = relay.log();
    assert!(
        log.contains("DEBUG") || log.contains("TRACE"),
        "the log was verbose:\n{log}"
    );
    let mut stored = files_under(&relay.data_dir());
    stored.push(("relay log".into(), log.into_bytes()));
    assert!(stored.iter().any(|(name, _)| name.ends_with("relay.redb")));
    for (name, bytes) in &stored {
        for secret in &secrets {
            assert!(!contains(bytes, secret), "{name} holds a plaintext");
        }
        for address in &addresses {
            assert!(!contains(bytes, address), "{name} holds a client address");
        }
    }
    let log = &stored.last().unwrap().1;
    for id in &ids {
        assert!(
            !contains(log, id) && !contains(log, hex::encode(id).as_bytes()),
            "the log names a capability"
        );
    }
}
