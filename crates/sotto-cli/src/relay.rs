//! `sotto relay init`, `run`, `address` and `descriptor`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use sotto_onion::directory::Descriptor;
use sotto_relay::config::{DataDir, StoreKind};
use sotto_relay::onion::DESCRIPTOR_FILE;
use sotto_relay::onion_keys::OnionKeys;
use sotto_relay::service::{Relay, RunOptions};

#[derive(Subcommand)]
pub enum RelayCommand {
    /// Create a relay: its identity key and DIR/relay.toml. Prints the relay's address, which
    /// clients need to reach it (it carries the fingerprint they pin).
    Init {
        /// Data directory; created if missing, refused if it already holds a relay.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// UDP address to serve QUIC on. Port 0 picks a free port now and keeps it.
        #[arg(long, value_name = "HOST:PORT")]
        listen: SocketAddr,
        /// Where mailboxes are kept: `redb` survives crashes, `memory` keeps nothing on disk.
        #[arg(long, value_enum, default_value_t = Store::Redb)]
        store: Store,
    },
    /// Serve the relay in DIR until SIGINT or SIGTERM. Prints `relay ready <address>` once it
    /// accepts connections.
    Run {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Serve Prometheus metrics over HTTP on this TCP address (port 0 picks one).
        #[arg(long, value_name = "HOST:PORT")]
        metrics: Option<SocketAddr>,
        /// Join the network this file describes, as gateway, mix and onion host. Without it
        /// the relay only hosts mailboxes for direct connections (testing and debugging).
        #[arg(long, value_name = "FILE")]
        network: Option<PathBuf>,
        /// With --network, also answer mailbox requests sent straight to this relay instead of
        /// through the onion path. For debugging only: the relay then learns who uses which
        /// mailbox.
        #[arg(long, requires = "network")]
        allow_direct: bool,
    },
    /// Print the address of the relay in DIR.
    Address {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Write (and print) the relay's descriptor: its address and its onion keys for this epoch
    /// and the next (made now if missing), signed with its identity key.
    ///
    /// For bringing up a network before its relays first run: the network's authority joins
    /// the descriptors of staked relays into the network file (`sotto network assemble`). A
    /// relay running with --network keeps DIR/descriptor.toml current itself, so do not run
    /// this while the relay runs.
    Descriptor {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Onion-key rotation period in seconds; the same for every relay of a network.
        #[arg(long, default_value_t = 86_400)]
        epoch_secs: u64,
    },
    /// Make this relay its network's voucher issuer: writes DIR/issuer.toml (owner-only, the
    /// secret key) if missing, and prints the `[issuer]` section the authorities add to the
    /// network file (`sotto network assemble --issuer FILE`).
    Issuer {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Vouchers one device key may take per UTC day (only when the file is made).
        #[arg(long, value_name = "N")]
        per_device_per_day: Option<u32>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Store {
    Redb,
    Memory,
}

pub async fn run(command: RelayCommand) -> anyhow::Result<()> {
    match command {
        RelayCommand::Init {
            data,
            listen,
            store,
        } => {
            let store = match store {
                Store::Redb => StoreKind::Redb,
                Store::Memory => StoreKind::Memory,
            };
            let dir = DataDir::init(&data, listen, store)?;
            println!("{}", dir.address());
            Ok(())
        }
        RelayCommand::Issuer {
            data,
            per_device_per_day,
        } => {
            use sotto_relay::issuer_file;
            let dir = DataDir::open(&data)?;
            let issuer = match issuer_file::load(&data)? {
                Some(issuer) => issuer,
                None => {
                    let per_day = per_device_per_day.context(
                        "no issuer.toml yet: say how many vouchers a device gets a day with \
                         --per-device-per-day N",
                    )?;
                    issuer_file::create(&data, 1, per_day)?
                }
            };
            let keys = issuer.keys.iter().map(|key| key.public().clone()).collect();
            let section =
                sotto_onion::directory::VoucherIssuer::new(dir.identity.fingerprint(), keys)?;
            print!("{}", section.to_toml());
            Ok(())
        }
        RelayCommand::Address { data } => {
            println!("{}", DataDir::open(&data)?.address());
            Ok(())
        }
        RelayCommand::Descriptor { data, epoch_secs } => {
            anyhow::ensure!(epoch_secs > 0, "--epoch-secs must be at least 1");
            let dir = DataDir::open(&data)?;
            let text = descriptor(&dir, epoch_secs, sotto_quic::unix_now())?
                .to_signed_toml(epoch_secs, dir.identity.signing_key())?;
            let file = data.join(DESCRIPTOR_FILE);
            sotto_relay::onion::replace_file(&file, &text)
                .with_context(|| format!("writing {}", file.display()))?;
            print!("{text}");
            Ok(())
        }
        RelayCommand::Run {
            data,
            metrics,
            network,
            allow_direct,
        } => serve(data, metrics, network, allow_direct).await,
    }
}

async fn serve(
    data: PathBuf,
    metrics: Option<SocketAddr>,
    network: Option<PathBuf>,
    allow_direct: bool,
) -> anyhow::Result<()> {
    let dir = DataDir::open(&data)?;
    let network = network
        .map(|file| crate::network::load(&file))
        .transpose()?;
    let options = RunOptions {
        metrics,
        network,
        allow_direct,
        socket: None,
        hooks: sotto_relay::harness::for_this_build(&dir.path),
    };
    let relay = Relay::start(&dir, options)
        .await
        .with_context(|| format!("cannot start the relay in {}", data.display()))?;
    {
        let mut out = std::io::stdout().lock();
        if let Some(addr) = relay.metrics_address() {
            writeln!(out, "metrics http://{addr}/metrics")?;
        }
        writeln!(out, "relay ready {}", relay.address())?;
        out.flush()?;
    }
    tracing::info!("relay serving; stop it with SIGINT or SIGTERM, reload its limits with SIGHUP");
    let stopped = tokio::select! {
        result = shutdown_signal() => { result?; false }
        () = reload_limits_on_hangup(&relay, &data) => false,
        () = host_stopped(&relay) => true,
    };
    tracing::info!("shutting down");
    relay.shutdown().await;
    tracing::info!("stopped");
    anyhow::ensure!(
        !stopped,
        "the mailbox store in {} failed and could not be reopened (see the log above); \
         check its disk, then start the relay again",
        data.display()
    );
    Ok(())
}

/// Reads `relay.toml` again on each SIGHUP and applies its `[limits]`; a file that does not
/// parse is reported and the limits in force stay. Never returns.
async fn reload_limits_on_hangup(relay: &Relay, data: &std::path::Path) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else {
            return std::future::pending().await;
        };
        while hangup.recv().await.is_some() {
            match DataDir::open(data) {
                Ok(dir) => {
                    relay.set_limits(&dir.config.limits);
                    tracing::info!("limits reloaded from relay.toml");
                }
                Err(error) => tracing::error!(%error, "relay.toml not reloaded; the limits stay"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (relay, data);
    std::future::pending().await
}

/// Returns once the mailbox host has stopped for good.
async fn host_stopped(relay: &Relay) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    while !relay.host_stopped() {
        tick.tick().await;
    }
}

/// The descriptor of the relay in `data`, with its onion keys for now and next.
pub fn descriptor(data: &DataDir, epoch_secs: u64, now: u64) -> anyhow::Result<Descriptor> {
    let keys = OnionKeys::open(&data.path, epoch_secs, now)
        .with_context(|| format!("onion keys of {}", data.path.display()))?;
    let epoch = keys.current_epoch(now);
    let missing = || {
        anyhow::anyhow!(
            "relay {} has no onion key for epoch {epoch}",
            data.path.display()
        )
    };
    Ok(Descriptor {
        address: data.address(),
        onion_key: keys.onion_key(epoch).ok_or_else(missing)?,
        next_onion_key: keys.onion_key(epoch + 1).ok_or_else(missing)?,
    })
}

pub async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
