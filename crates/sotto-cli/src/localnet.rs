//! `sotto localnet`: a whole network on 127.0.0.1 in one process, for trying sotto out and for
//! tests. Its directory keeps every relay's data, so starting it again brings back the same
//! relays, keys and mailboxes.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use sotto_onion::directory::{Directory, Relay as DirectoryRelay};
use sotto_relay::config::{DataDir, StoreKind};
use sotto_relay::service::{Relay, RunOptions, ServiceError};

/// File the network is described in, inside the localnet directory.
pub const NETWORK_FILE: &str = "network.toml";

#[derive(Args)]
pub struct LocalnetArgs {
    /// Relays to run; each plays gateway, mix and mailbox host. A path needs at least 4.
    #[arg(long, default_value_t = 5)]
    relays: usize,
    /// Directory for the relays' data and the network file; created if missing, reused if not.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Onion-key rotation period in seconds.
    #[arg(long, default_value_t = 86_400)]
    epoch_secs: u64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Opens relay `index` in `dir`, creating it (on a free port, kept from then on) if new.
fn relay_dir(dir: &Path, index: usize) -> anyhow::Result<DataDir> {
    let path = dir.join(format!("relay-{index}"));
    if path.join(sotto_relay::config::CONFIG_FILE).exists() {
        return Ok(DataDir::open(&path)?);
    }
    let listen: SocketAddr = "127.0.0.1:0".parse()?;
    Ok(DataDir::init(&path, listen, StoreKind::Redb)?)
}

/// Relays running in this process, and the network file describing them.
pub struct Localnet {
    pub relays: Vec<Relay>,
    pub directory: Directory,
    pub network_file: PathBuf,
}

impl Localnet {
    /// Starts `count` relays with their data in `dir` (brought back if there) and writes the
    /// network file.
    pub async fn start(dir: &Path, count: usize, epoch_secs: u64) -> anyhow::Result<Self> {
        anyhow::ensure!(
            count >= 4,
            "a localnet needs at least 4 relays: a gateway, two mixes and a host on every path"
        );
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let now = unix_now();
        let dirs = (0..count)
            .map(|index| relay_dir(dir, index))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let entries = dirs
            .iter()
            .map(|data| crate::relay::directory_entry(data, epoch_secs, now))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let directory = Directory::new(epoch_secs, entries)?;
        let network_file = dir.join(NETWORK_FILE);
        crate::network::write(&network_file, &directory)?;
        let mut relays = Vec::with_capacity(dirs.len());
        for data in &dirs {
            let relay = start_relay(data, &directory)
                .await
                .with_context(|| format!("starting the relay in {}", data.path.display()))?;
            relays.push(relay);
        }
        Ok(Self {
            relays,
            directory,
            network_file,
        })
    }

    pub async fn stop(self) {
        for relay in self.relays {
            relay.shutdown().await;
        }
    }
}

/// Starts one relay of the localnet. Its port may still be held for a moment by the same relay
/// stopped in this process just before (`sotto demo` and tests stop and start a localnet): its
/// socket goes only with its last connection, so a busy port is tried again for a few seconds.
async fn start_relay(data: &DataDir, directory: &Directory) -> Result<Relay, ServiceError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let options = RunOptions {
            metrics: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            network: Some(directory.clone()),
            allow_direct: false,
        };
        match Relay::start(data, options).await {
            Err(ServiceError::Bind { source, .. })
                if source.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            started => return started,
        }
    }
}

pub async fn run(args: LocalnetArgs) -> anyhow::Result<()> {
    let net = Localnet::start(&args.dir, args.relays, args.epoch_secs).await?;
    {
        let mut out = std::io::stdout().lock();
        for relay in &net.relays {
            match relay.metrics_address() {
                Some(metrics) => writeln!(
                    out,
                    "relay {} metrics http://{metrics}/metrics",
                    relay.address()
                )?,
                None => writeln!(out, "relay {}", relay.address())?,
            }
        }
        writeln!(out, "localnet ready {}", net.network_file.display())?;
        out.flush()?;
    }
    publish_rotations(&net.relays, args.epoch_secs, &net.network_file).await?;
    tracing::info!("stopping the localnet");
    net.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// Runs until SIGINT or SIGTERM; whenever an epoch begins, publishes the relays' keys for it and
/// the next one. The relays rotate their own keys; this only tells clients.
async fn publish_rotations(relays: &[Relay], epoch_secs: u64, file: &Path) -> anyhow::Result<()> {
    let signal = crate::relay::shutdown_signal();
    tokio::pin!(signal);
    let mut published = unix_now() / epoch_secs;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        tokio::select! {
            stopped = &mut signal => return stopped,
            _ = tick.tick() => {}
        }
        let now = unix_now();
        if now / epoch_secs == published {
            continue;
        }
        let entries: Option<Vec<DirectoryRelay>> = relays
            .iter()
            .map(|relay| {
                let (onion_key, next_onion_key) = relay.onion_keys(now)?;
                Some(DirectoryRelay {
                    address: relay.address().clone(),
                    onion_key,
                    next_onion_key,
                })
            })
            .collect();
        // A relay that has not rotated yet is caught on a later tick.
        let Some(entries) = entries else { continue };
        match Directory::new(epoch_secs, entries)
            .map_err(anyhow::Error::from)
            .and_then(|d| crate::network::write(file, &d))
        {
            Ok(()) => published = now / epoch_secs,
            Err(error) => {
                tracing::warn!("publishing the new onion keys failed, trying again: {error:#}")
            }
        }
    }
}
