//! `sotto bench load`: many clients on one gateway at once, each writing to a partner's
//! mailbox and receiving its partner's messages as pushes, all through the onion network.
//! Reports errors, delivery latency (write sent to push received) and throughput.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sotto_client::{MailboxClient, MailboxOptions, OnionTransport};
use sotto_proto::MailboxKind;
use tokio::task::JoinSet;

use super::quantile;

/// Clients connected at once while setting up, so the gateway is not hit by all handshakes
/// in the same instant.
const SETUP_WAVE: usize = 50;
const PUSH_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Load {
    pub clients: usize,
    pub messages: usize,
    pub gateway: usize,
    pub host: usize,
}

pub async fn run(network: &std::path::Path, load: Load) -> anyhow::Result<()> {
    anyhow::ensure!(
        load.clients >= 2 && load.clients.is_multiple_of(2),
        "--clients must be even and at least 2: clients talk in pairs"
    );
    let (directory, gateway, host) =
        super::gateway_and_host(network, load.gateway, Some(load.host))?;
    let renew = Duration::from_secs(3600);
    let started = Instant::now();
    let mut clients = Vec::with_capacity(load.clients);
    while clients.len() < load.clients {
        let mut wave = JoinSet::new();
        for _ in clients.len()..(clients.len() + SETUP_WAVE).min(load.clients) {
            let directory = directory.clone();
            wave.spawn(async move {
                let transport = OnionTransport::connect(directory, gateway, host, renew).await?;
                let client = MailboxClient::new(transport);
                let mailbox = client
                    .create(MailboxOptions::new(MailboxKind::Conversation))
                    .await?;
                client.subscribe(&mailbox.read).await?;
                anyhow::Ok((Arc::new(client), mailbox))
            });
        }
        while let Some(made) = wave.join_next().await {
            clients.push(made.context("a client task")??);
        }
    }
    let setup = started.elapsed();

    let origin = Instant::now();
    let mut tasks = JoinSet::new();
    for (index, (client, mailbox)) in clients.iter().enumerate() {
        let partner = clients[index ^ 1].1.write.clone();
        let (writer, reader) = (client.clone(), client.clone());
        let read = mailbox.read.clone();
        let messages = load.messages;
        // Each message carries when it was sent, in microseconds since the run began.
        tasks.spawn(async move {
            for _ in 0..messages {
                let sent = origin.elapsed().as_micros() as u64;
                writer.write(&partner, &sent.to_be_bytes()).await?;
            }
            anyhow::Ok(Vec::new())
        });
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(messages);
            while latencies.len() < messages {
                let push = tokio::time::timeout(PUSH_TIMEOUT, reader.next_push())
                    .await
                    .context("no push within 60 s")??;
                let sent = push
                    .message
                    .body
                    .get(..8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes)
                    .context("a message without its send time")?;
                let now = origin.elapsed().as_micros() as u64;
                latencies.push(Duration::from_micros(now.saturating_sub(sent)));
                reader.ack(&read, push.message.seq).await?;
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done.context("a client task") {
            Ok(Ok(mut more)) => latencies.append(&mut more),
            Ok(Err(error)) | Err(error) => errors.push(crate::report::describe(&error)),
        }
    }
    let elapsed = origin.elapsed();
    latencies.sort();
    println!(
        "{} clients on one gateway ({:.1} s to connect and subscribe): {} messages delivered \
         as pushes in {:.1} s ({:.0}/s); write to push p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         errors {}",
        load.clients,
        setup.as_secs_f64(),
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        quantile(&latencies, 0.5).as_secs_f64() * 1e3,
        quantile(&latencies, 0.99).as_secs_f64() * 1e3,
        quantile(&latencies, 1.0).as_secs_f64() * 1e3,
        errors.len()
    );
    if let Some(first) = errors.first() {
        anyhow::bail!("{} client tasks failed; the first: {first}", errors.len());
    }
    Ok(())
}
