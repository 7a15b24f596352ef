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
use sotto_relay::onion_keys::OnionKeys;
use sotto_relay::service::Relay;

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

/// The network file entry of one relay, with its onion keys for now and next.
fn directory_entry(data: &DataDir, epoch_secs: u64, now: u64) -> anyhow::Result<DirectoryRelay> {
    let keys = OnionKeys::open(&data.path, epoch_secs, now)
        .with_context(|| format!("onion keys of {}", data.path.display()))?;
    let epoch = keys.current_epoch(now);
    let missing = || {
        anyhow::anyhow!(
            "relay {} has no onion key for epoch {epoch}",
            data.path.display()
        )
    };
    Ok(DirectoryRelay {
        address: data.address(),
        onion_key: keys.onion_key(epoch).ok_or_else(missing)?,
        next_onion_key: keys.onion_key(epoch + 1).ok_or_else(missing)?,
    })
}

pub async fn run(args: LocalnetArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.relays >= 4,
        "a localnet needs at least 4 relays: a gateway, two mixes and a host on every path"
    );
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let now = unix_now();
    let dirs = (0..args.relays)
        .map(|index| relay_dir(&args.dir, index))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let entries = dirs
        .iter()
        .map(|data| directory_entry(data, args.epoch_secs, now))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let directory = Directory::new(args.epoch_secs, entries)?;
    let network_file = args.dir.join(NETWORK_FILE);
    std::fs::write(&network_file, directory.to_toml())
        .with_context(|| format!("writing {}", network_file.display()))?;
    let mut relays = Vec::with_capacity(dirs.len());
    for data in &dirs {
        let metrics: SocketAddr = "127.0.0.1:0".parse()?;
        let relay = Relay::start(data, Some(metrics), Some(directory.clone()))
            .await
            .with_context(|| format!("starting the relay in {}", data.path.display()))?;
        relays.push(relay);
    }
    {
        let mut out = std::io::stdout().lock();
        for relay in &relays {
            match relay.metrics_address() {
                Some(metrics) => writeln!(
                    out,
                    "relay {} metrics http://{metrics}/metrics",
                    relay.address()
                )?,
                None => writeln!(out, "relay {}", relay.address())?,
            }
        }
        writeln!(out, "localnet ready {}", network_file.display())?;
        out.flush()?;
    }
    crate::relay::shutdown_signal().await?;
    tracing::info!("stopping the localnet");
    for relay in relays {
        relay.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(())
}
