//! `sotto bench chat`: what one text costs two people chatting through a real network, beside
//! the onion round trip measured in the same run. Both devices run in this process, each as
//! a running client does: subscribed once, applying pushes as they arrive.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use sotto_client::{init, Arrivals, Device, Event, PacketCount, Unlock};
use sotto_onion::directory::Directory;
use tokio::sync::{mpsc, oneshot};

use super::{quantile, round_trips};
use crate::arrivals::{apply, apply_next};

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
pub(super) struct Homes(pub(super) PathBuf);

impl Drop for Homes {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn device(homes: &Homes, name: &str, directory: &Directory) -> anyhow::Result<Device> {
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
    // The reference takes the same path when it can; a gateway never hosts its own client's
    // mailbox (the device enters elsewhere for those), so then any other host.
    let host = Some(host)
        .filter(|host| *host != alice.gateway())
        .or_else(|| {
            directory
                .relays()
                .iter()
                .map(|relay| *relay.fingerprint())
                .find(|relay| *relay != alice.gateway())
        })
        .context("a network of one relay")?;
    let reference = round_trips(
        directory.clone(),
        alice.gateway(),
        host,
        REFERENCE_REQUESTS,
        chat.pause,
    );
    let mut reference = reference.await?;
    reference.sort();

    // The receiver runs on its own, as another person's device would: its pushes are applied
    // the moment they arrive, whatever the sender is doing.
    let (counts, counts_out) = mpsc::channel(1);
    let (texts_in, mut texts) = mpsc::unbounded_channel();
    let receiver = tokio::spawn(receive(Person::new(bob, "Bob")?, counts_out, texts_in));
    let mut alice = Person::new(alice, "Alice")?;
    let mut latencies = Vec::with_capacity(chat.messages);
    let mut at_start = [PacketCount::default(); 2];
    for n in 0..WARM_UP + chat.messages {
        if n == WARM_UP {
            at_start = [alice.device.packets(), count(&counts).await?];
        }
        tokio::time::sleep(chat.pause).await;
        let sent = Instant::now();
        alice.device.send("Bob", &format!("text {n}"), None).await?;
        let arrived = tokio::time::timeout(ARRIVAL_TIMEOUT, texts.recv())
            .await
            .context("a text did not reach the receiver in time")?
            .context("the receiver stopped")?;
        if n >= WARM_UP {
            latencies.push(arrived.duration_since(sent));
        }
        loop {
            let applied = alice.next(None).await?;
            if applied
                .events
                .iter()
                .any(|e| matches!(e, Event::Delivered { .. }))
            {
                break;
            }
        }
    }
    // Whatever the last text still set off (acknowledgements of receipts) is counted too.
    let quiet = tokio::time::Instant::now() + QUIET;
    while alice.next(Some(quiet)).await.is_ok() {}
    let bob = count(&counts).await?;
    drop(counts);
    receiver.await.context("the receiver's task")??;
    latencies.sort();
    report(
        &chat,
        &reference,
        &latencies,
        [
            alice.device.packets().since(at_start[0]),
            bob.since(at_start[1]),
        ],
    );
    Ok(())
}

/// The receiver's packet count, once what it was doing is done.
async fn count(counts: &mpsc::Sender<oneshot::Sender<PacketCount>>) -> anyhow::Result<PacketCount> {
    let (answer, answered) = oneshot::channel();
    counts.send(answer).await.context("the receiver stopped")?;
    answered.await.context("the receiver stopped")
}

/// The receiver's device: applies pushes as they arrive and says when each text landed.
async fn receive(
    mut bob: Person,
    mut counts: mpsc::Receiver<oneshot::Sender<PacketCount>>,
    texts: mpsc::UnboundedSender<Instant>,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            batch = bob.arrivals.recv_all() => {
                let batch = batch.context("the receiver stopped listening")?;
                let applied = apply(&mut bob.device, batch).await?;
                for _ in &applied.texts {
                    let _ = texts.send(applied.at);
                }
            }
            asked = counts.recv() => match asked {
                Some(answer) => {
                    let _ = answer.send(bob.device.packets());
                }
                None => return Ok(()),
            }
        }
    }
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

    /// Applies the next batch of pushes; an error once `until` (or the arrival timeout)
    /// passes with nothing.
    async fn next(
        &mut self,
        until: Option<tokio::time::Instant>,
    ) -> anyhow::Result<crate::arrivals::Applied> {
        let deadline = until.unwrap_or_else(|| tokio::time::Instant::now() + ARRIVAL_TIMEOUT);
        apply_next(&mut self.device, &mut self.arrivals, deadline).await
    }
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
