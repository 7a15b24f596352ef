//! Load tools for conversations: many conversations on one device, and the time from
//! `connect` to the first message through a real network.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use sotto_client::conversation::apply::apply;
use sotto_client::conversation::local::pair;
use sotto_client::conversation::seal::seal;
use sotto_client::store::{Store, StoreKey};
use sotto_client::{init, Device, Unlock};
use sotto_proto::conversation::Content;
use sotto_proto::Message;

use super::quantile;

/// Peak resident memory of this process, from /proc (Linux), in bytes.
pub(super) fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub(super) fn text(n: usize) -> anyhow::Result<Vec<u8>> {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(n as u64).to_be_bytes());
    Ok(Content::Text {
        id,
        sent_at_ms: 0,
        reply_to: None,
        text: format!("message {n}"),
    }
    .encode()?)
}

fn message(seq: u64, body: Vec<u8>) -> Message {
    Message {
        seq,
        written_at: 0,
        body,
    }
}

/// One device with `count` conversations (the peers live in a second store), one message
/// received in each; then the device's store alone reopened and one more message applied in
/// every conversation. Reports the store's size and the device's peak memory.
pub fn many(count: usize, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let device_file = dir.join("device.db");
    let peers_file = dir.join("peers.db");
    // A WAL left by an earlier run would be replayed into the new files, under another key.
    for name in ["device.db", "peers.db"] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("{name}{suffix}")));
        }
    }
    // Encrypted as a device's store is, so the figures include SQLCipher's cost.
    let key = StoreKey::Raw(rand::random::<[u8; 32]>().into());
    let started = Instant::now();
    let mut second = Vec::with_capacity(count);
    {
        let device = Store::open(&device_file, &key)?;
        let peers = Store::open(&peers_file, &key)?;
        for n in 0..count {
            let alias = format!("contact {n}");
            let (_, at_peer) = pair(&device, &peers, &alias, &format!("device {n}"))?;
            let from = peers.conversation_by_number(at_peer)?;
            let wire = seal(&peers, &from, text(n)?, |_| Ok(()))?;
            let to = device
                .conversation(&alias)?
                .context("the conversation just made")?;
            apply(&device, &to, &message(1, wire))?;
            second.push((alias, seal(&peers, &from, text(count + n)?, |_| Ok(()))?));
        }
    }
    let setup = started.elapsed();
    let size = std::fs::metadata(&device_file)?.len()
        + std::fs::metadata(dir.join("device.db-wal")).map_or(0, |m| m.len());
    // From here on the process is the device alone, as a client would run: restart the peak.
    let measured = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let device = Store::open(&device_file, &key)?;
    let started = Instant::now();
    for (alias, wire) in second {
        let conversation = device.conversation(&alias)?.context("a conversation")?;
        apply(&device, &conversation, &message(2, wire))?;
    }
    let pass = started.elapsed();
    let rss = peak_rss().filter(|_| measured).map_or_else(
        || "unknown (no /proc/self/clear_refs)".to_string(),
        |rss| format!("{:.1} MB", rss as f64 / 1e6),
    );
    println!(
        "{count} conversations: made in {:.1} s; reopened, one more message into each in \
         {:.2} s ({:.2} ms per conversation); device store {:.1} MB; device peak RSS {rss}",
        setup.as_secs_f64(),
        pass.as_secs_f64(),
        pass.as_secs_f64() * 1e3 / count.max(1) as f64,
        size as f64 / 1e6,
    );
    Ok(())
}

/// Two fresh devices on the network in `network`, `rounds` times: Alice invites, then the
/// clock runs from Bob's `connect` until Alice has Bob's first message.
pub async fn connect(network: &Path, rounds: usize, dir: &Path) -> anyhow::Result<()> {
    let directory = crate::network::load(network)?;
    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let home = |who: &str| dir.join(format!("{who}-{round}"));
        init(&home("alice"), "Alice", &Unlock::KeyFile)?;
        init(&home("bob"), "Bob", &Unlock::KeyFile)?;
        let mut alice = Device::open(&home("alice"), &Unlock::KeyFile, directory.clone())?;
        let mut bob = Device::open(&home("bob"), &Unlock::KeyFile, directory.clone())?;
        let link = alice.invite().await?.to_string();
        let started = Instant::now();
        let alias = bob.connect(&link, None).await?;
        bob.send(&alias, "hello", None).await?;
        loop {
            alice.sync().await?;
            if !alice.records().take_unshown(None)?.is_empty() {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "the first message did not arrive within 30 s"
            );
            alice.wait(Duration::from_secs(5)).await?;
        }
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "{rounds} connects: from `connect` to the first message received, p50 {:.1} ms, \
         max {:.1} ms",
        quantile(&times, 0.5).as_secs_f64() * 1e3,
        quantile(&times, 1.0).as_secs_f64() * 1e3,
    );
    Ok(())
}
