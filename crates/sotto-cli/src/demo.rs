//! `sotto demo`: a network of five relays in this process, two people who connect by a
//! one-time link and exchange a few messages, each shown with the relays it passed (their
//! roles, no keys or ids) and how long it took to arrive. Everything is removed at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use sotto_client::{init, Arrivals, Device, Unlock};
use sotto_proto::Fingerprint;

use crate::arrivals::apply_next;
use crate::localnet::Localnet;

const RELAYS: usize = 5;
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(30);
const SCRIPT: [(bool, &str); 4] = [
    (false, "Hi Alice, it's Bob. Got your link."),
    (
        true,
        "Hi Bob! Nobody else can read this, not even the relays.",
    ),
    (false, "And none of them knows that we are talking?"),
    (
        true,
        "Each saw only its neighbours on the path. Try it yourself: see the README.",
    ),
];

#[derive(Args)]
pub struct DemoArgs {
    /// Keep the network and the two homes in this directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

struct Person {
    name: &'static str,
    device: Device,
    arrivals: Arrivals,
}

/// Relays by their index in the network, so paths read as `relay 3`, not as fingerprints.
struct Names(Vec<Fingerprint>);

impl Names {
    fn of(&self, relay: &Fingerprint) -> String {
        self.0
            .iter()
            .position(|r| r == relay)
            .map_or_else(|| "an unknown relay".into(), |i| format!("relay {i}"))
    }

    /// `relay 2 (gateway) -> relay 4 (mix) -> ...` for a route whose first and last relays
    /// play the given roles.
    fn route(&self, route: &[Fingerprint], first: &str, last: &str) -> String {
        route
            .iter()
            .enumerate()
            .map(|(i, relay)| {
                let role = match i {
                    0 => first,
                    i if i + 1 == route.len() => last,
                    _ => "mix",
                };
                format!("{} ({role})", self.of(relay))
            })
            .collect::<Vec<_>>()
            .join(" -> ")
    }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let (root, temporary) = match args.dir {
        Some(dir) => (dir, false),
        None => (
            std::env::temp_dir().join(format!("sotto-demo-{:016x}", rand::random::<u64>())),
            true,
        ),
    };
    let outcome = demo(&root).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&root);
    }
    outcome
}

async fn demo(root: &Path) -> anyhow::Result<()> {
    println!("Starting a network of {RELAYS} relays on 127.0.0.1 (each is a gateway, mix and mailbox host)...");
    let net = Localnet::start(&root.join("net"), RELAYS, 86_400, None).await?;
    let names = Names(
        net.directory
            .relays()
            .iter()
            .map(|r| *r.fingerprint())
            .collect(),
    );
    let outcome = conversation(root, &net, &names).await;
    net.stop().await;
    outcome?;
    println!("\nDone: the network is stopped and its files removed.");
    Ok(())
}

fn person(root: &Path, net: &Localnet, name: &'static str) -> anyhow::Result<Person> {
    let home = root.join(name.to_lowercase());
    init(&home, name, &Unlock::KeyFile)?;
    let mut device = Device::open(&home, &Unlock::KeyFile, net.directory.clone())?;
    let arrivals = device.arrivals().context("a new device's pushes")?;
    Ok(Person {
        name,
        device,
        arrivals,
    })
}

async fn conversation(root: &Path, net: &Localnet, names: &Names) -> anyhow::Result<()> {
    let mut alice = person(root, net, "Alice")?;
    let mut bob = person(root, net, "Bob")?;
    for p in [&alice, &bob] {
        println!(
            "{} has a device with a display name only; it enters the network at {}.",
            p.name,
            names.of(&p.device.gateway())
        );
    }
    let link = alice.device.invite().await?.to_string();
    println!(
        "\nAlice makes a one-time link and gives it to Bob (in person, by QR code):\n  {link}"
    );
    let started = Instant::now();
    bob.device.connect(&link, None).await?;
    alice.device.sync().await?;
    // Both run as a chat does from here: subscribed, so what arrives is pushed and applied at
    // once, and a text goes out without reading first.
    alice.device.listen().await?;
    bob.device.listen().await?;
    println!(
        "Bob connects with it; they share an MLS group (post-quantum X-Wing) and a mailbox. ({} ms)",
        started.elapsed().as_millis()
    );
    for (from_alice, text) in SCRIPT {
        let (sender, receiver) = if from_alice {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        deliver(sender, receiver, text, names).await?;
    }
    alice.device.sync().await?;
    bob.device.sync().await?;
    let delivered = |p: &Person, peer: &str| -> anyhow::Result<usize> {
        Ok(p.device
            .records()
            .messages(peer)?
            .iter()
            .filter(|m| m.outgoing && m.delivered)
            .count())
    };
    println!(
        "\nDelivery receipts came back for {} of Alice's and {} of Bob's messages.",
        delivered(&alice, "Bob")?,
        delivered(&bob, "Alice")?
    );
    Ok(())
}

/// Sends `text` and waits until the receiver has it, then shows where it went.
async fn deliver(
    sender: &mut Person,
    receiver: &mut Person,
    text: &str,
    names: &Names,
) -> anyhow::Result<()> {
    let started = Instant::now();
    sender.device.send(receiver.name, text, None).await?;
    let deadline = tokio::time::Instant::now() + ARRIVAL_TIMEOUT;
    let (arrived, latency) = loop {
        let applied = apply_next(&mut receiver.device, &mut receiver.arrivals, deadline)
            .await
            .context("the message did not arrive")?;
        if let Some(text) = applied.texts.into_iter().last() {
            break (text, applied.at.duration_since(started));
        }
    };
    println!("\n{} -> {}: {}", sender.name, receiver.name, arrived.text);
    let sent = sender
        .device
        .trace(receiver.name)?
        .context("the sender's path")?;
    println!(
        "  went    {}: {}",
        sender.name,
        names.route(&sent.request, "gateway", "host, stores it sealed")
    );
    let received = receiver
        .device
        .trace(sender.name)?
        .context("the receiver's path")?;
    if received.push.is_empty() {
        println!(
            "  fetched by {} through {}",
            receiver.name,
            names.route(&received.request, "gateway", "host")
        );
    } else {
        println!(
            "  pushed  {}: {} -> {}",
            receiver.name,
            names.route(&received.push, "host", "gateway"),
            receiver.name
        );
    }
    println!(
        "  pushed {:.1} ms after {} pressed send",
        latency.as_secs_f64() * 1e3,
        sender.name
    );
    Ok(())
}
