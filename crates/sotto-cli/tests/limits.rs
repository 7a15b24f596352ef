//! A relay's limits, against a real `sotto relay run` process: met with a plain, typed answer,
//! counted in its metrics, and changed without a restart by editing `relay.toml` and sending
//! SIGHUP.

use std::path::Path;
use std::time::{Duration, Instant};

use sotto_client::{MailboxOptions, NewMailbox};
use sotto_proto::{ErrorCode, MailboxKind};
use sotto_testnet::{http_get, RelayOptions, TestRelay};

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
