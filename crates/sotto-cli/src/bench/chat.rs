//! `sotto bench chat`: what one text costs two people chatting through a real network, beside
//! the onion round trip measured in the same run. Both devices run in this process, each as
//! a running client does: subscribed once, applying pushes as they arrive.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use sotto_client::{init, Arrival, Arrivals, Device, Event, PacketCount, Unlock};
use sotto_onion::directory::Directory;

use super::{quantile, round_trips};
use crate::arrivals::apply;

/// Texts sent before the clock starts: the first uses of paths and hosts cost extra.
const WARM_UP: usize = 5;
/// Onion round trips timed for the reference.
const REFERENCE_REQUESTS: usize = 200;
/// How long to keep applying pushes after the last text, for what it set off.
const QUIET: Duration = Duration::from_millis(500);
/// How long anything may take to arrive before the run is called failed.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Chat {
    pub messages: usize,
    pub conversations: usize,
    pub pause: Duration,
}

/// The homes of one run, removed when it ends, whatever way it ends.
struct Homes(PathBuf);

impl Drop for Homes {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn device(homes: &Homes, name: &str, directory: &Directory) -> anyhow::Result<Device> {
    let home = homes.0.join(name.to_lowercase().replace(' ', "-"));
    init(&home, name, &Unlock::KeyFile)?;
    Ok(Device::open(&home, &Unlock::KeyFile, directory.clone())?)
}

pub async fn run(network: &Path, chat: Chat) -> anyhow::Result<()> {
    anyhow::ensure!(
        chat.messages > 0 && chat.conversations > 0,
        "--messages and --conversations must be positive"
    );
    let directory = crate::network::load(network)?;
    let homes = Homes(
        std::env::temp_dir().join(format!("sotto-bench-chat-{:016x}", rand::random::<u64>())),
    );
    let mut alice = device(&homes, "Alice", &directory)?;
    let mut bob = device(&homes, "Bob", &directory)?;
    let link = alice.invite().await?.to_string();
    bob.connect(&link, Some("Alice")).await?;
    alice.sync().await?;
    others(&homes, &directory, &mut bob, chat.conversations - 1).await?;
    alice.listen().await?;
    bob.listen().await?;
    let host = alice
        .store()
        .conversation("Bob")?
        .context("the conversation just made")?
        .host;
    let reference = round_trips(
        directory.clone(),
        alice.gateway(),
        host,
        REFERENCE_REQUESTS,
        chat.pause,
    );
    let mut reference = reference.await?;
    reference.sort();

    let mut people = [Person::new(alice, "Alice")?, Person::new(bob, "Bob")?];
    let mut latencies = Vec::with_capacity(chat.messages);
    let mut at_start = [PacketCount::default(); 2];
    for n in 0..WARM_UP + chat.messages {
        if n == WARM_UP {
            at_start = people.each_ref().map(|p| p.device.packets());
        }
        tokio::time::sleep(chat.pause).await;
        let sent = Instant::now();
        people[0]
            .device
            .send("Bob", &format!("text {n}"), None)
            .await?;
        let (mut arrived, mut delivered) = (None, false);
        while arrived.is_none() || !delivered {
            let (who, batch) = next_batch(&mut people, None).await?;
            let applied = apply(&mut people[who].device, batch).await?;
            if who == 1 && !applied.texts.is_empty() {
                arrived = Some(applied.at);
            }
            delivered |= who == 0
                && applied
                    .events
                    .iter()
                    .any(|event| matches!(event, Event::Delivered { .. }));
        }
        if let Some(at) = arrived.filter(|_| n >= WARM_UP) {
            latencies.push(at.duration_since(sent));
        }
    }
    // Whatever the last text still set off (acknowledgements of receipts) is counted too.
    let quiet = tokio::time::Instant::now() + QUIET;
    while let Ok((who, batch)) = next_batch(&mut people, Some(quiet)).await {
        apply(&mut people[who].device, batch).await?;
    }
    let [alice, bob] = people.each_ref().map(|p| p.device.packets());
    latencies.sort();
    report(
        &chat,
        &reference,
        &latencies,
        [alice.since(at_start[0]), bob.since(at_start[1])],
    );
    Ok(())
}

/// A device with its pushes, applied as they arrive.
struct Person {
    device: Device,
    arrivals: Arrivals,
}

impl Person {
    fn new(mut device: Device, name: &str) -> anyhow::Result<Self> {
        let arrivals = device
            .arrivals()
            .with_context(|| format!("{name}'s pushes"))?;
        Ok(Self { device, arrivals })
    }
}

/// Whose pushes came first, and what came; an error once `until` (or the arrival timeout)
/// passes with nothing.
async fn next_batch(
    people: &mut [Person; 2],
    until: Option<tokio::time::Instant>,
) -> anyhow::Result<(usize, Vec<Arrival>)> {
    let deadline = until.unwrap_or_else(|| tokio::time::Instant::now() + ARRIVAL_TIMEOUT);
    let [alice, bob] = people;
    let (who, batch) = tokio::select! {
        batch = bob.arrivals.recv_all() => (1, batch),
        batch = alice.arrivals.recv_all() => (0, batch),
        () = tokio::time::sleep_until(deadline) => anyhow::bail!("nothing arrived in time"),
    };
    Ok((who, batch.context("a device stopped listening")?))
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn report(chat: &Chat, reference: &[Duration], latencies: &[Duration], packets: [PacketCount; 2]) {
    let round_trip = quantile(reference, 0.5);
    let p50 = quantile(latencies, 0.5);
    let per = |count: PacketCount| count.total() as f64 / chat.messages as f64;
    let [alice, bob] = packets;
    println!(
        "onion round trip p50 {:.2} ms ({} requests)",
        millis(round_trip),
        reference.len()
    );
    println!(
        "send -> receiver's message event: p50 {:.2} ms ({:.2}x the round trip), p99 {:.2} ms ({} texts, receiver with {} conversation(s))",
        millis(p50),
        p50.as_secs_f64() / round_trip.as_secs_f64().max(1e-9),
        millis(quantile(latencies, 0.99)),
        latencies.len(),
        chat.conversations,
    );
    println!(
        "Sphinx packets per text with its receipt: sender's link {:.2} ({} out, {} in), receiver's link {:.2} ({} out, {} in), both {:.2}",
        per(alice),
        alice.sent,
        alice.received,
        per(bob),
        bob.sent,
        bob.received,
        per(alice + bob),
    );
}

/// Gives `bob` `count` more conversations, each with a contact of its own on one other
/// device, so the receiving device has many mailboxes as a real one does.
async fn others(
    homes: &Homes,
    directory: &Directory,
    bob: &mut Device,
    count: usize,
) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let mut crowd = device(homes, "Crowd", directory)?;
    for n in 0..count {
        let link = bob.invite().await?.to_string();
        crowd
            .connect(&link, Some(&format!("Bob {n}")))
            .await
            .with_context(|| format!("conversation {} of {count}", n + 1))?;
    }
    bob.sync().await?;
    Ok(())
}
