//! Relays run as operators run them, each its own process: initialised one by one, the network
//! file assembled by the authority from their descriptors and its stake ledger, and kept current
//! by `sotto network assemble --watch` as the relays rotate their onion keys.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sotto_client::{MailboxClient, MailboxOptions, OnionTransport};
use sotto_onion::directory::{Directory, NetworkFile};
use sotto_proto::{MailboxKind, RelayAddress};
use sotto_testnet::{ledger_of_equals, RelayProcess};

/// Short, so that the test sees keys rotate.
const EPOCH_SECS: u64 = 3;
const RELAYS: usize = 5;

fn sotto(args: &[&str], paths: &[&Path]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .args(args)
        .args(paths)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "sotto {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn read(network: &Path) -> Directory {
    NetworkFile::parse(&std::fs::read_to_string(network).unwrap()).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The network file once `done` holds of it, within 20 seconds.
fn wait_for(network: &Path, done: impl Fn(&Directory) -> bool, what: &str) -> Directory {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let current = read(network);
        if done(&current) {
            return current;
        }
        assert!(Instant::now() < deadline, "waited too long for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A mailbox written and read back through the onion path of `directory`.
async fn works(directory: &Directory) {
    let relays = directory.relays();
    let transport = OnionTransport::connect(
        directory.clone(),
        *relays[0].fingerprint(),
        *relays[relays.len() - 1].fingerprint(),
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    let client = MailboxClient::new(transport);
    let mailbox = client
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await
        .unwrap();
    client.write(&mailbox.write, b"hello").await.unwrap();
    assert_eq!(client.fetch(&mailbox.read).await.unwrap()[0].body, b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separately_run_relays_make_a_network_that_follows_their_keys_and_liveness() {
    let root = std::env::temp_dir().join(format!("sotto-separate-{:016x}", rand::random::<u64>()));
    let dirs: Vec<PathBuf> = (0..RELAYS)
        .map(|i| root.join(format!("relay-{i}")))
        .collect();
    let epoch = EPOCH_SECS.to_string();
    // One more relay than the ledger stakes: it describes itself like the others.
    let unstaked = root.join("unstaked");
    let mut addresses = Vec::new();
    for dir in dirs.iter().chain([&unstaked]) {
        let address = sotto(
            &["relay", "init", "--listen", "127.0.0.1:0", "--data"],
            &[dir],
        );
        let entry = sotto(
            &["relay", "descriptor", "--epoch-secs", &epoch, "--data"],
            &[dir],
        );
        assert!(entry.contains("[[relay]]") && entry.contains("next_onion_key"));
        addresses.push(address);
    }
    let key = root.join("authority.key");
    let made = sotto(&["network", "authority", "--key"], &[&key]);
    assert!(
        made.starts_with("authority ") && made.contains("(new)"),
        "{made}"
    );
    let authority = made.split_whitespace().nth(1).unwrap().to_owned();
    // Each staked relay its own operator (a path needs four); all on 127.0.0.1.
    let ledger_file = root.join("stake.toml");
    std::fs::write(&ledger_file, ledger_of_equals(&addresses[..RELAYS])).unwrap();

    let network = root.join("network.toml");
    let mut assembler = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .args(["network", "assemble", "--watch", "--probe-every", "1"])
        .args(["--down-after", "3", "--ledger"])
        .arg(&ledger_file)
        .arg("--authority")
        .arg(&key)
        .arg("--out")
        .arg(&network)
        .args(dirs.iter().chain([&unstaked]))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut written = BufReader::new(assembler.stdout.take().unwrap()).lines();
    let first = written.next().unwrap().unwrap();
    assert!(first.starts_with("network written"), "{first}");
    let left_out = written.next().unwrap().unwrap();
    assert_eq!(
        left_out,
        format!(
            "left out {}: no stake in the ledger",
            addresses[RELAYS]
                .parse::<RelayAddress>()
                .unwrap()
                .fingerprint
        )
    );
    let binary = Path::new(env!("CARGO_BIN_EXE_sotto"));
    let start = |i: usize| {
        let log = root.join(format!("relay-{i}.log"));
        RelayProcess::start(binary, &dirs[i], &network, &log)
    };
    let mut relays: Vec<RelayProcess> = (0..RELAYS).map(start).collect();

    let before = read(&network);
    assert_eq!(before.relays().len(), RELAYS);
    assert_eq!(
        hex::encode(before.signers()[0].as_bytes()),
        authority,
        "signed by the authority's key"
    );
    works(&before).await;

    // Two epochs later, the keys the file started with are all retired; the relays' new ones
    // must be in the file, and a client that reads it now gets through.
    let turned = before.current_epoch(now()) + 2;
    let deadline = Instant::now() + Duration::from_secs(4 * EPOCH_SECS + 10);
    let after = loop {
        let current = read(&network);
        if current.current_epoch(now()) >= turned
            && current
                .relays()
                .iter()
                .all(|r| r.descriptor.onion_key.epoch == current.current_epoch(now()))
        {
            break current;
        }
        assert!(
            Instant::now() < deadline,
            "the network file did not follow the relays' rotation"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (old, new) in before.relays().iter().zip(after.relays()) {
        assert_eq!(old.address(), new.address());
        assert_ne!(
            old.descriptor.onion_key.public_key,
            new.descriptor.onion_key.public_key
        );
    }
    works(&after).await;

    // A relay that stops answering leaves the file once it has failed the probes for 3 s, and
    // comes back when it answers again.
    let gone = *after.relays()[2].fingerprint();
    relays[2].kill();
    let without = wait_for(
        &network,
        |d| d.relay(&gone).is_none(),
        "the dead relay to leave",
    );
    assert_eq!(without.relays().len(), RELAYS - 1);
    works(&without).await;
    relays[2] = start(2);
    wait_for(
        &network,
        |d| d.relay(&gone).is_some(),
        "the relay to come back",
    );

    let _ = assembler.kill();
    let _ = assembler.wait();
    drop(relays);
    std::fs::remove_dir_all(&root).unwrap();
}
