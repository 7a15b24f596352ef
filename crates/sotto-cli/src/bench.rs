//! `sotto bench mailbox`: write+ack pairs per second against a running relay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use sotto_client::{DirectTransport, MailboxClient, MailboxOptions};
use sotto_proto::{MailboxKind, RelayAddress};

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
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    let BenchCommand::Mailbox {
        relay,
        pairs,
        concurrency,
        size,
    } = command;
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
