//! `sotto localnet`: a whole network on 127.0.0.1 in one process, for trying sotto out and for
//! tests. Its directory keeps every relay's data, so starting it again brings back the same
//! relays, keys and mailboxes.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use ed25519_dalek::SigningKey;
use sotto_onion::directory::{Descriptor, Descriptors, Directory, Ledger, Operator, VoucherIssuer};
use sotto_quic::unix_now;
use sotto_relay::config::{DataDir, StoreKind};
use sotto_relay::service::{Relay, RunOptions};

/// File the network is described in, inside the localnet directory.
pub const NETWORK_FILE: &str = "network.toml";
/// The localnet's own authority key, which signs its network file.
pub const AUTHORITY_KEY_FILE: &str = "authority.key";

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
    /// Require a voucher for every mailbox and link; relay 0 issues them, N a day to each
    /// device key (fixed when its issuer key is first made).
    #[arg(long, value_name = "N")]
    vouchers: Option<u32>,
}

/// Opens relay `index` in `dir`, creating it (on a free port, kept from then on) if new, and
/// binds its socket. The socket is held from here until the relay serves on it: between the
/// port being chosen and the relay starting, the network file is written and the other relays
/// start, and another program could otherwise take the port: in CI, another localnet picking
/// from the same range at the same moment did.
async fn relay_dir(dir: &Path, index: usize) -> anyhow::Result<(DataDir, UdpSocket)> {
    let path = dir.join(format!("relay-{index}"));
    if path.join(sotto_relay::config::CONFIG_FILE).exists() {
        let data = DataDir::open(&path)?;
        let socket = bind_again(data.config.listen).await?;
        return Ok((data, socket));
    }
    let socket = sotto_relay::config::bind_free_port(Ipv4Addr::LOCALHOST.into())?;
    let data = DataDir::init(&path, socket.local_addr()?, StoreKind::Redb)?;
    Ok((data, socket))
}

/// Binds a relay's kept address again. It may still be held for a moment by the same relay
/// stopped in this process just before (`sotto demo` and tests stop and start a localnet): its
/// socket goes only with its last connection, so a busy port is tried again for a few seconds.
async fn bind_again(listen: SocketAddr) -> anyhow::Result<UdpSocket> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match UdpSocket::bind(listen) {
            Err(error)
                if error.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            bound => return bound.with_context(|| format!("cannot listen on {listen}")),
        }
    }
}

/// The directory of a localnet's relays: each is its own operator with a stake of 1, and all
/// share 127.0.0.1, so paths cannot keep to distinct subnets. With an issuer, it requires
/// vouchers.
fn admit(
    epoch_secs: u64,
    descriptors: Vec<Descriptor>,
    issuer: Option<&VoucherIssuer>,
) -> anyhow::Result<Directory> {
    let operators = descriptors
        .iter()
        .enumerate()
        .map(|(index, relay)| Operator {
            name: format!("relay-{index}"),
            stake: 1,
            relays: vec![*relay.fingerprint()],
        })
        .collect();
    let ledger = Ledger::new(1, false, operators)?;
    let directory = ledger
        .admit(Descriptors::new(epoch_secs, descriptors)?)?
        .directory
        .with_serial(unix_now());
    Ok(match issuer {
        Some(issuer) => directory.with_issuer(issuer.clone())?,
        None => directory,
    })
}

/// Relay 0 as the localnet's voucher issuer: its issuer file (made with one key and the
/// allowance `per_device_per_day` if new) and the network file's `[issuer]`.
fn issuer(relay: &DataDir, per_device_per_day: u32) -> anyhow::Result<VoucherIssuer> {
    use sotto_relay::issuer_file;
    let issuer = match issuer_file::load(&relay.path)? {
        Some(issuer) => issuer,
        None => issuer_file::create(&relay.path, 1, per_device_per_day)?,
    };
    let keys = issuer.keys.iter().map(|key| key.public().clone()).collect();
    Ok(VoucherIssuer::new(relay.identity.fingerprint(), keys)?)
}

/// Relays running in this process, and the network file describing them.
pub struct Localnet {
    pub relays: Vec<Relay>,
    pub directory: Directory,
    pub network_file: PathBuf,
    authority: SigningKey,
    issuer: Option<VoucherIssuer>,
}

impl Localnet {
    /// Starts `count` relays with their data in `dir` (brought back if there) and writes the
    /// network file; with `vouchers`, relay 0 issues that many a day to each device.
    pub async fn start(
        dir: &Path,
        count: usize,
        epoch_secs: u64,
        vouchers: Option<u32>,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            count >= 4,
            "a localnet needs at least 4 relays: a gateway, two mixes and a host on every path"
        );
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let now = unix_now();
        let mut dirs = Vec::with_capacity(count);
        for index in 0..count {
            dirs.push(relay_dir(dir, index).await?);
        }
        let descriptors = dirs
            .iter()
            .map(|(data, _)| crate::relay::descriptor(data, epoch_secs, now))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let issuer = match vouchers {
            Some(per_day) => Some(issuer(&dirs[0].0, per_day)?),
            None => None,
        };
        let authority = crate::network::authority_key(&dir.join(AUTHORITY_KEY_FILE))?;
        let directory =
            crate::network::sign_as(admit(epoch_secs, descriptors, issuer.as_ref())?, &authority)?;
        let network_file = dir.join(NETWORK_FILE);
        crate::network::write(&network_file, &directory)?;
        let mut relays = Vec::with_capacity(dirs.len());
        for (data, socket) in dirs {
            let options = RunOptions {
                metrics: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                network: Some(directory.clone()),
                allow_direct: false,
                socket: Some(socket),
                hooks: sotto_relay::harness::for_this_build(&data.path),
            };
            let relay = Relay::start(&data, options)
                .await
                .with_context(|| format!("starting the relay in {}", data.path.display()))?;
            relays.push(relay);
        }
        Ok(Self {
            relays,
            directory,
            network_file,
            authority,
            issuer,
        })
    }

    pub async fn stop(self) {
        for relay in self.relays {
            relay.shutdown().await;
        }
    }
}

pub async fn run(args: LocalnetArgs) -> anyhow::Result<()> {
    let net = Localnet::start(&args.dir, args.relays, args.epoch_secs, args.vouchers).await?;
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
    publish_rotations(&net, args.epoch_secs).await?;
    tracing::info!("stopping the localnet");
    net.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// Runs until SIGINT or SIGTERM; whenever an epoch begins, publishes the relays' keys for it and
/// the next one. The relays rotate their own keys; this only tells clients.
async fn publish_rotations(net: &Localnet, epoch_secs: u64) -> anyhow::Result<()> {
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
        let descriptors: Option<Vec<Descriptor>> = net
            .relays
            .iter()
            .map(|relay| {
                let (onion_key, next_onion_key) = relay.onion_keys(now)?;
                Some(Descriptor {
                    address: relay.address().clone(),
                    onion_key,
                    next_onion_key,
                })
            })
            .collect();
        // A relay that has not rotated yet is caught on a later tick.
        let Some(descriptors) = descriptors else {
            continue;
        };
        match admit(epoch_secs, descriptors, net.issuer.as_ref())
            .and_then(|d| crate::network::sign_as(d, &net.authority))
            .and_then(|d| crate::network::write(&net.network_file, &d))
        {
            Ok(()) => published = now / epoch_secs,
            Err(error) => {
                tracing::warn!(
                    "publishing the new onion keys failed, trying again: {}",
                    crate::report::describe(&error)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("sotto-localnet-unit-{}", rand::random::<u64>()))
    }

    #[tokio::test]
    async fn a_relay_port_is_held_from_the_moment_it_is_chosen() {
        let dir = scratch();
        let (data, socket) = relay_dir(&dir, 0).await.unwrap();
        let error = UdpSocket::bind(data.config.listen).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
        drop(socket);
        // Opened again, the kept port is bound again and held the same way.
        let (again, _socket) = relay_dir(&dir, 0).await.unwrap();
        assert_eq!(again.config.listen, data.config.listen);
        let error = UdpSocket::bind(data.config.listen).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_relay_refuses_a_socket_bound_to_another_address() {
        let dir = scratch();
        let (data, _kept) = relay_dir(&dir, 0).await.unwrap();
        let elsewhere = UdpSocket::bind("127.0.0.1:0").unwrap();
        let options = RunOptions {
            socket: Some(elsewhere),
            ..RunOptions::default()
        };
        let error = Relay::start(&data, options).await.err().expect("refused");
        assert!(error.to_string().contains("another address"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
