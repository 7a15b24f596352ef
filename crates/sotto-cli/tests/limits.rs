//! A relay's limits, against a real `sotto relay run` process: met with a plain, typed answer,
//! counted in its metrics, and changed without a restart by editing `relay.toml` and sending
//! SIGHUP.

use std::path::Path;
use std::time::{Duration, Instant};

use sotto_client::{MailboxOptions, NewMailbox};
use sotto_proto::{ErrorCode, MailboxKind};
use sotto_testnet::{http_get, RelayOptions, TestRelay};

/// Sets one `[limits]` setting in the relay's `relay.toml`, replacing its default.
fn set_limit(relay: &TestRelay, default: &str, setting: &str) {
    let config = relay.data_dir().join("relay.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(default), "{text}");
    std::fs::write(&config, text.replace(default, setting)).unwrap();
}

fn counter(relay: &TestRelay, line: &str) -> u64 {
    let page = http_get(relay.metrics_url().expect("metrics")).expect("metrics page");
    page.lines()
        .find_map(|l| l.strip_prefix(line))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line} missing from metrics:\n{page}"))
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_reloaded_on_sighup_refuse_with_full_and_are_counted() {
    let relay = TestRelay::start(
        Path::new(env!("CARGO_BIN_EXE_sotto")),
        RelayOptions::default(),
    );
    let client = relay.client().await;
    let options = MailboxOptions::new(MailboxKind::Conversation);
    let _first: NewMailbox = client.create(options).await.expect("create");

    let config = relay.data_dir().join("relay.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("max_mailboxes = 1000000"), "{text}");
    std::fs::write(
        &config,
        text.replace("max_mailboxes = 1000000", "max_mailboxes = 1"),
    )
    .unwrap();
    let pid = relay.pid().expect("running").to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());

    let deadline = Instant::now() + Duration::from_secs(10);
    let refusal = loop {
        match client.create(options).await {
            Err(error) => break error,
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Ok(_) => panic!("the new limit never applied:\n{}", relay.log()),
        }
    };
    assert_eq!(refusal.code(), Some(ErrorCode::Full));
    assert!(
        refusal
            .to_string()
            .contains("holds as much as its operator allows"),
        "a plain message: {refusal}"
    );
    assert_eq!(
        counter(&relay, "sotto_limit_refusals_total{limit=\"mailboxes\"} "),
        1
    );
    assert!(counter(&relay, "sotto_mailboxes ") >= 1);
    assert!(relay.log().contains("limits reloaded"), "{}", relay.log());
}

/// A relay at its disk budget refuses writes with FULL, loses none it acknowledged (across a
/// `kill -9` too), and takes writes again once its reader acknowledged what filled it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_at_its_disk_budget_refuses_writes_and_loses_nothing() {
    let mut relay = TestRelay::start(
        Path::new(env!("CARGO_BIN_EXE_sotto")),
        RelayOptions::default(),
    );
    // Room for six of the largest messages: a mailbox, then about eight of 10 kB.
    set_limit(
        &relay,
        "disk_budget_bytes = 8589934592",
        "disk_budget_bytes = 85488",
    );
    relay.restart("info");
    let client = relay.client().await;
    let mailbox = client
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await
        .expect("create");
    let mut written = Vec::new();
    let refusal = loop {
        let body = vec![written.len() as u8; 10_000];
        match client.write(&mailbox.write, &body).await {
            Ok(seq) => written.push((seq, body)),
            Err(error) => break error,
        }
        assert!(written.len() < 20, "the budget never applied");
    };
    assert_eq!(refusal.code(), Some(ErrorCode::Full), "{refusal}");
    assert!(written.len() >= 5, "only {} writes fit", written.len());
    assert_eq!(
        counter(
            &relay,
            "sotto_limit_refusals_total{limit=\"disk_budget_bytes\"} "
        ),
        1
    );

    relay.restart("info");
    let client = relay.client().await;
    let mut kept = Vec::new();
    loop {
        let messages = client.fetch(&mailbox.read).await.expect("fetch");
        let Some(last) = messages.last().map(|m| m.seq) else {
            break;
        };
        kept.extend(messages.into_iter().map(|m| (m.seq, m.body)));
        client.ack(&mailbox.read, last).await.expect("ack");
    }
    assert_eq!(
        kept, written,
        "every acknowledged write is there, once, in order"
    );
    assert!(client.write(&mailbox.write, b"room again").await.is_ok());
}
