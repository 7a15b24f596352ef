//! Every mailbox command through the client library against a real `sotto relay run` process.

use std::path::Path;
use std::time::Duration;

use sotto_client::{
    ClientError, DirectTransport, MailboxClient, MailboxOptions, NewMailbox, ReadCap,
};
use sotto_proto::{ErrorCode, Id, MailboxKind};
use sotto_testnet::{http_get, RelayOptions, TestRelay};

fn relay() -> TestRelay {
    TestRelay::start(
        Path::new(env!("CARGO_BIN_EXE_sotto")),
        RelayOptions::default(),
    )
}

type Client = MailboxClient<DirectTransport>;

async fn conversation(client: &Client) -> NewMailbox {
    client
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await
        .expect("create")
}

async fn bodies(client: &Client, read: &ReadCap) -> Vec<Vec<u8>> {
    client
        .fetch(read)
        .await
        .expect("fetch")
        .into_iter()
        .map(|m| m.body)
        .collect()
}

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> Option<ErrorCode> {
    result.err().and_then(|e| e.code())
}

fn gauge(relay: &TestRelay, name: &str) -> u64 {
    let page = http_get(relay.metrics_url().expect("metrics")).expect("metrics page");
    page.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from metrics:\n{page}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_is_kept_and_acks_delete_for_every_reader() {
    let relay = relay();
    let client = relay.client().await;
    let m = conversation(&client).await;
    let second = client.add_reader(&m.read).await.expect("add reader");
    for i in 0..20u8 {
        assert_eq!(
            client.write(&m.write, &[i]).await.unwrap(),
            u64::from(i) + 1
        );
    }
    let expected: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i]).collect();
    assert_eq!(bodies(&client, &m.read).await, expected);
    assert_eq!(bodies(&client, &second).await, expected);

    client.ack(&m.read, 20).await.unwrap();
    assert_eq!(
        gauge(&relay, "sotto_messages_stored"),
        20,
        "the second reader still holds them"
    );
    client.ack(&second, 10).await.unwrap();
    assert_eq!(gauge(&relay, "sotto_messages_stored"), 10);
    assert_eq!(bodies(&client, &second).await, expected[10..].to_vec());
    client.remove_reader(&m.read, second.id).await.unwrap();
    assert_eq!(
        gauge(&relay, "sotto_messages_stored"),
        0,
        "removing the reader released its messages"
    );
    assert_eq!(code(client.fetch(&second).await), Some(ErrorCode::Auth));

    client.delete(&m.read).await.unwrap();
    assert_eq!(gauge(&relay, "sotto_mailboxes"), 0);
    assert_eq!(
        code(client.write(&m.write, b"gone").await),
        Some(ErrorCode::Auth)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_get_pushes_without_asking() {
    let relay = relay();
    let reader = relay.client().await;
    let writer = relay.client().await;
    let m = conversation(&reader).await;
    writer.write(&m.write, b"before").await.unwrap();
    let waiting = reader.subscribe(&m.read).await.unwrap();
    assert_eq!(waiting.len(), 1);
    for text in [b"one", b"two"] {
        writer.write(&m.write, text).await.unwrap();
    }
    let mut pushed = Vec::new();
    while pushed.len() < 2 {
        let push = tokio::time::timeout(Duration::from_secs(10), reader.next_push())
            .await
            .expect("a push within 10 s")
            .unwrap();
        assert_eq!(push.read_id, m.read.id);
        pushed.push(push.message);
    }
    pushed.sort_by_key(|m| m.seq);
    assert_eq!(pushed[0].body, b"one");
    assert_eq!(pushed[1].body, b"two");
    assert!(pushed[0].seq < pushed[1].seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_refuses_writes_until_acknowledged() {
    let relay = relay();
    let client = relay.client().await;
    let options = MailboxOptions {
        quota: 5,
        ..MailboxOptions::new(MailboxKind::ContactAddress)
    };
    let m = client.create(options).await.unwrap();
    for _ in 0..5 {
        client.write(&m.write, b"x").await.unwrap();
    }
    assert_eq!(
        code(client.write(&m.write, b"x").await),
        Some(ErrorCode::Quota)
    );
    client.ack(&m.read, 1).await.unwrap();
    assert_eq!(client.write(&m.write, b"x").await.unwrap(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_mailboxes_and_links_expire() {
    let relay = relay();
    let client = relay.client().await;
    let options = MailboxOptions {
        ttl_secs: 2,
        ..MailboxOptions::new(MailboxKind::File)
    };
    let m = client.create(options).await.unwrap();
    client.write(&m.write, b"short-lived").await.unwrap();
    let (link, _) = client.put_link(2, b"link data").await.unwrap();
    assert_eq!(client.get_link(&link).await.unwrap(), b"link data");
    assert_eq!(bodies(&client, &m.read).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(code(client.fetch(&m.read).await), Some(ErrorCode::Auth));
    assert_eq!(code(client.get_link(&link).await), Some(ErrorCode::Auth));
    assert_eq!(
        gauge(&relay, "sotto_messages_stored"),
        0,
        "the sweep removed them"
    );
    assert_eq!(gauge(&relay, "sotto_mailboxes"), 0);
    assert_eq!(gauge(&relay, "sotto_links"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_mailbox_closes_after_one_write() {
    let relay = relay();
    let client = relay.client().await;
    let m = client
        .create(MailboxOptions::new(MailboxKind::OneTimeRequest))
        .await
        .unwrap();
    client.write(&m.write, b"welcome").await.unwrap();
    assert_eq!(
        code(client.write(&m.write, b"again").await),
        Some(ErrorCode::Auth)
    );
    let messages = client.fetch(&m.read).await.unwrap();
    assert_eq!(messages.len(), 1);
    client.ack(&m.read, messages[0].seq).await.unwrap();
    assert_eq!(code(client.fetch(&m.read).await), Some(ErrorCode::Auth));
    assert_eq!(gauge(&relay, "sotto_mailboxes"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_and_unknown_ids_get_the_same_auth() {
    let relay = relay();
    let client = relay.client().await;
    let m = conversation(&client).await;
    let other = conversation(&client).await;
    let wrong_key = sotto_client::ReadCap {
        key: other.read.key.clone(),
        ..m.read.clone()
    };
    let unknown_id = sotto_client::ReadCap {
        id: Id::from_bytes([7; Id::LEN]),
        ..m.read.clone()
    };
    assert_eq!(code(client.fetch(&wrong_key).await), Some(ErrorCode::Auth));
    assert_eq!(code(client.fetch(&unknown_id).await), Some(ErrorCode::Auth));
    let writer_as_reader = sotto_client::ReadCap {
        id: m.write.id,
        key: m.write.key.clone(),
        content: m.write.content.clone(),
    };
    assert_eq!(
        code(client.fetch(&writer_as_reader).await),
        Some(ErrorCode::Auth)
    );
    let (_, link_cap) = client.put_link(0, b"x").await.unwrap();
    let forged = sotto_client::LinkCap {
        key: other.read.key.clone(),
        ..link_cap.clone()
    };
    assert_eq!(
        code(client.delete_link(&forged).await),
        Some(ErrorCode::Auth)
    );
    client.delete_link(&link_cap).await.unwrap();
    let page = http_get(relay.metrics_url().unwrap()).unwrap();
    assert!(
        page.contains("sotto_errors_total{kind=\"auth\"} 4"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_and_a_restart_keeps_everything() {
    let mut relay = relay();
    let client = relay.client().await;
    let m = conversation(&client).await;
    client
        .write(&m.write, b"kept across restarts")
        .await
        .unwrap();
    let status = relay.stop().expect("relay was running");
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        relay.log()
    );
    assert!(relay.log().contains("stopped"));
    relay.restart("info");
    let client = relay.client().await;
    assert_eq!(
        bodies(&client, &m.read).await,
        vec![b"kept across restarts".to_vec()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_with_another_fingerprint_is_refused_at_once() {
    let relay = relay();
    let mut impostor = relay.address().clone();
    impostor.fingerprint = sotto_proto::Fingerprint::of_key(&[9; 32]);
    let started = std::time::Instant::now();
    let refused = DirectTransport::connect(&impostor).await;
    assert!(
        matches!(refused, Err(sotto_client::TransportError::Handshake(_))),
        "{:?}",
        refused.err()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no retrying a failed pin"
    );
    assert!(DirectTransport::connect(relay.address()).await.is_ok());
}
