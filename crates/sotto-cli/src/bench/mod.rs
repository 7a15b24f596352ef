//! `sotto bench`: load tools. `mailbox`: write+ack pairs per second against a running relay;
//! `onion`: round trips through a network; `conversations` and `connect`: see `conversation`;
//! `chat`: two people's devices on a network, see `chat`; `files`: one file between two
//! `sotto` processes, see `files`; `group`: one group's members as devices in this process,
//! see `group`.

mod chat;
mod conversation;
mod files;
mod group;
mod load;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use std::path::{Path, PathBuf};

use sotto_client::{DirectTransport, MailboxClient, MailboxOptions, OnionTransport};
use sotto_proto::{Fingerprint, MailboxKind, RelayAddress};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Each worker owns a mailbox and repeats: write a message, acknowledge it. Reports
    /// completed pairs per second. Run it against a relay you started for the purpose.
    Mailbox {
        /// The relay, as `sotto relay init` printed it.
        #[arg(long, value_name = "ADDRESS")]
        relay: RelayAddress,
        /// Pairs to complete in all.
        #[arg(long, default_value_t = 20_000)]
        pairs: u64,
        /// Workers running at once (each has its own mailbox; all share one connection).
        #[arg(long, default_value_t = 64)]
        concurrency: u64,
        /// Message body size in bytes.
        #[arg(long, default_value_t = 256)]
        size: usize,
    },
    /// Round-trip latency through the onion network: one client writes and acknowledges, one
    /// request at a time, each on gateway -> mix -> mix -> host and back. Reports p50 and p99.
    Onion {
        /// The network file, as `sotto localnet` wrote it.
        #[arg(long, value_name = "FILE")]
        network: PathBuf,
        /// Requests to time.
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        /// Index (in the network file) of the relay to enter at.
        #[arg(long, default_value_t = 0)]
        gateway: usize,
        /// Index of the relay that hosts the mailbox; the last one by default.
        #[arg(long)]
        host: Option<usize>,
        /// Milliseconds to wait between requests, untimed: as a person's requests come, so
        /// the client's work ahead of time (reply blocks, request headers) is done before the
        /// next. 0 sends them back to back, where that work competes with the next request.
        #[arg(long, default_value_t = 0, value_name = "MS")]
        pause: u64,
    },
    /// One device with many conversations, no network: reports the client store's size and
    /// the peak memory while every conversation is used.
    Conversations {
        /// How many conversations.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Where to put the two stores (replaced if there).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Many clients on one gateway at once, in pairs writing to each other's mailbox and
    /// receiving as pushes. Reports errors, write-to-push latency and throughput.
    Load {
        /// The network file, as `sotto localnet` wrote it.
        #[arg(long, value_name = "FILE")]
        network: PathBuf,
        /// Clients (even: they talk in pairs), each with its own connection to the gateway.
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Messages each client writes.
        #[arg(long, default_value_t = 5)]
        messages: usize,
        /// Index (in the network file) of the gateway every client enters at.
        #[arg(long, default_value_t = 0)]
        gateway: usize,
        /// Index of the relay hosting every mailbox.
        #[arg(long, default_value_t = 1)]
        host: usize,
    },
    /// Two people chatting through a network, in this process: the same run's onion round
    /// trip, the time from send to the receiver's message event (p50, p99), and the Sphinx
    /// packets one text and its receipt cost on each person's gateway link.
    Chat {
        /// The network file, as `sotto localnet` wrote it.
        #[arg(long, value_name = "FILE")]
        network: PathBuf,
        /// Texts to time (after a few untimed ones).
        #[arg(long, default_value_t = 100)]
        messages: usize,
        /// Conversations the receiving device has (one with the sender, the rest with
        /// others): what one incoming message costs must not grow with it.
        #[arg(long, default_value_t = 1)]
        conversations: usize,
        /// Milliseconds between texts, untimed, as a person types.
        #[arg(long, default_value_t = 50, value_name = "MS")]
        pause: u64,
    },
    /// One file from one `sotto` process to another (`send --file`, then `download`): each
    /// side's MiB/s and peak resident memory, beside the same run's onion round trip.
    Files {
        /// The network file, as `sotto localnet` wrote it.
        #[arg(long, value_name = "FILE")]
        network: PathBuf,
        /// The file's size: bytes, or with KiB, MiB or GiB.
        #[arg(long, value_parser = files::parse_size, default_value = "64MiB")]
        size: u64,
        /// Where to put the homes and the files (a temporary directory by default).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// One group of `members` devices in this process on a network: creating it and adding
    /// everyone, one text delivered to all, a removal applied, the sender's sealing, memory.
    Group {
        /// The network file, as `sotto localnet` wrote it.
        #[arg(long, value_name = "FILE")]
        network: PathBuf,
        /// Members, the owner included.
        #[arg(long, default_value_t = 10)]
        members: usize,
    },
    /// Time from `connect` to the first message arriving, with fresh devices each round.
    Connect {
        /// The network file, as `sotto localnet` wrote it.
        #[arg(long, value_name = "FILE")]
        network: PathBuf,
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Where to put the devices' homes (must not hold earlier rounds' homes).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Mailbox {
            relay,
            pairs,
            concurrency,
            size,
        } => mailbox(relay, pairs, concurrency, size).await,
        BenchCommand::Onion {
            network,
            requests,
            gateway,
            host,
            pause,
        } => {
            onion(
                &network,
                requests,
                gateway,
                host,
                Duration::from_millis(pause),
            )
            .await
        }
        BenchCommand::Conversations { count, dir } => conversation::many(count, &dir),
        BenchCommand::Files { network, size, dir } => files::run(&network, size, dir).await,
        BenchCommand::Group { network, members } => group::run(&network, members).await,
        BenchCommand::Load {
            network,
            clients,
            messages,
            gateway,
            host,
        } => {
            let load = load::Load {
                clients,
                messages,
                gateway,
                host,
            };
            load::run(&network, load).await
        }
        BenchCommand::Connect {
            network,
            rounds,
            dir,
        } => conversation::connect(&network, rounds, &dir).await,
        BenchCommand::Chat {
            network,
            messages,
            conversations,
            pause,
        } => {
            let chat = chat::Chat {
                messages,
                conversations,
                pause: Duration::from_millis(pause),
            };
            chat::run(&network, chat).await
        }
    }
}

async fn onion(
    network: &Path,
    requests: usize,
    gateway: usize,
    host: Option<usize>,
    pause: Duration,
) -> anyhow::Result<()> {
    let (directory, gateway_id, host_id) = gateway_and_host(network, gateway, host)?;
    let mut latencies = round_trips(directory, gateway_id, host_id, requests, pause).await?;
    let elapsed: Duration = latencies.iter().sum();
    latencies.sort();
    let at = |q: f64| quantile(&latencies, q);
    println!(
        "{} requests through gateway -> mix -> mix -> host and back, {} ms apart: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {:.0} requests/s one at a time",
        latencies.len(),
        pause.as_millis(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

/// The onion round trip, the reference every client figure is measured against: `requests`
/// writes and acknowledgements one at a time, `pause` apart, through `gateway` to a mailbox on
/// `host`. Returns each one's time, in the order made.
async fn round_trips(
    directory: sotto_onion::directory::Directory,
    gateway: Fingerprint,
    host: Fingerprint,
    requests: usize,
    pause: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let renew = Duration::from_secs(3600);
    let transport = OnionTransport::connect(directory, gateway, host, renew).await?;
    let client = MailboxClient::new(transport);
    let mailbox = client
        .create(MailboxOptions::new(MailboxKind::Conversation))
        .await?;
    let mut latencies = Vec::with_capacity(requests);
    while latencies.len() < requests {
        tokio::time::sleep(pause).await;
        let sent = Instant::now();
        let seq = client.write(&mailbox.write, b"latency probe").await?;
        latencies.push(sent.elapsed());
        tokio::time::sleep(pause).await;
        let sent = Instant::now();
        client.ack(&mailbox.read, seq).await?;
        latencies.push(sent.elapsed());
    }
    client.delete(&mailbox.read).await?;
    Ok(latencies)
}

/// The network in `file`, and the fingerprints of its relays number `gateway` and `host` (the
/// last relay if `host` is `None`).
fn gateway_and_host(
    file: &Path,
    gateway: usize,
    host: Option<usize>,
) -> anyhow::Result<(sotto_onion::directory::Directory, Fingerprint, Fingerprint)> {
    let directory = crate::network::load(file)?;
    let relays: Vec<Fingerprint> = directory
        .relays()
        .iter()
        .map(|r| *r.fingerprint())
        .collect();
    let host = host.unwrap_or(relays.len().saturating_sub(1));
    let (Some(gateway), Some(host)) = (relays.get(gateway), relays.get(host)) else {
        anyhow::bail!(
            "the network has {} relays; --gateway and --host must be below that",
            relays.len()
        );
    };
    let (gateway, host) = (*gateway, *host);
    Ok((directory, gateway, host))
}

/// The `q` quantile of sorted durations (0 for none).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn mailbox(
    relay: RelayAddress,
    pairs: u64,
    concurrency: u64,
    size: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        concurrency > 0 && pairs > 0,
        "--pairs and --concurrency must be positive"
    );
    let transport = DirectTransport::connect(&relay)
        .await
        .context("cannot connect to the relay")?;
    let client = Arc::new(MailboxClient::new(transport));
    let per_worker = pairs.div_ceil(concurrency);
    let mut mailboxes = Vec::new();
    for _ in 0..concurrency {
        let options = MailboxOptions {
            quota: 1024,
            ..MailboxOptions::new(MailboxKind::Conversation)
        };
        mailboxes.push(client.create(options).await?);
    }
    let body = vec![0x5a; size];
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for mailbox in mailboxes {
        let (client, body) = (client.clone(), body.clone());
        workers.spawn(async move {
            for _ in 0..per_worker {
                let seq = client.write(&mailbox.write, &body).await?;
                client.ack(&mailbox.read, seq).await?;
            }
            client.delete(&mailbox.read).await?;
            anyhow::Ok(())
        });
    }
    while let Some(result) = workers.join_next().await {
        result??;
    }
    let elapsed = started.elapsed();
    let done = per_worker * concurrency;
    println!(
        "{done} write+ack pairs in {:.2}s: {:.0} pairs/s ({concurrency} workers, {size}-byte messages)",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64().max(Duration::from_micros(1).as_secs_f64())
    );
    Ok(())
}
