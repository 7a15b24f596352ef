//! A relay's data directory: `relay.toml` (what the operator may edit), `identity.key` (the
//! Ed25519 secret, mode 0600) and `relay.redb` (the mailbox store).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sotto_proto::RelayAddress;
use sotto_quic::{write_private, Placement};
use thiserror::Error;

use crate::admission::ConnectionLimits;
use crate::host::HostConfig;
use crate::identity::{Identity, IdentityError};
use crate::onion::OnionLimits;

pub const CONFIG_FILE: &str = "relay.toml";
pub const IDENTITY_FILE: &str = "identity.key";
pub const STORE_FILE: &str = "relay.redb";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{0} already holds a relay; use another directory or run it with `sotto relay run`")]
    AlreadyInitialized(String),
    #[error(
        "{0} holds no relay; create one with `sotto relay init --data {0} --listen HOST:PORT`"
    )]
    NotInitialized(String),
    #[error("cannot use {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid relay configuration: {reason}")]
    Parse { path: String, reason: String },
    #[error("cannot find a free UDP port on {addr}: {source}")]
    NoPort {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// Where mailboxes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// One redb file in the data directory; survives crashes.
    #[default]
    Redb,
    /// Nothing on disk: everything is lost when the relay stops.
    Memory,
}

/// `[limits]` in `relay.toml`: what outsiders can make this relay keep. A setting left out
/// takes its default, so a file written by an older relay still opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub default_ttl_secs: u32,
    pub max_ttl_secs: u32,
    pub default_quota: u16,
    pub max_quota: u16,
    pub max_mailboxes: u64,
    pub max_links: u64,
    pub max_readers: u16,
    pub disk_budget_bytes: u64,
    pub max_remembered: u64,
    pub max_subscriptions: u64,
    pub file_default_ttl_secs: u32,
    pub file_max_ttl_secs: u32,
    pub max_file_chunks: u32,
    pub max_file_recipients: u16,
    pub max_held_chunks: u64,
}

impl Default for Limits {
    fn default() -> Self {
        let host = HostConfig::default();
        Self {
            default_ttl_secs: host.default_ttl_secs,
            max_ttl_secs: host.max_ttl_secs,
            default_quota: host.default_quota,
            max_quota: host.max_quota,
            max_mailboxes: host.max_mailboxes,
            max_links: host.max_links,
            max_readers: host.max_readers,
            disk_budget_bytes: host.disk_budget_bytes,
            max_remembered: host.max_remembered,
            max_subscriptions: host.max_subscriptions,
            file_default_ttl_secs: host.file_default_ttl_secs,
            file_max_ttl_secs: host.file_max_ttl_secs,
            max_file_chunks: host.max_file_chunks,
            max_file_recipients: host.max_file_recipients,
            max_held_chunks: host.max_held_chunks,
        }
    }
}

impl From<&Limits> for HostConfig {
    fn from(limits: &Limits) -> Self {
        Self {
            default_ttl_secs: limits.default_ttl_secs,
            max_ttl_secs: limits.max_ttl_secs,
            default_quota: limits.default_quota,
            max_quota: limits.max_quota,
            max_mailboxes: limits.max_mailboxes,
            max_links: limits.max_links,
            max_readers: limits.max_readers,
            disk_budget_bytes: limits.disk_budget_bytes,
            max_remembered: limits.max_remembered,
            max_subscriptions: limits.max_subscriptions,
            file_default_ttl_secs: limits.file_default_ttl_secs,
            file_max_ttl_secs: limits.file_max_ttl_secs,
            max_file_chunks: limits.max_file_chunks,
            max_file_recipients: limits.max_file_recipients,
            max_held_chunks: limits.max_held_chunks,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// UDP address the relay serves QUIC on.
    pub listen: SocketAddr,
    #[serde(default)]
    pub store: StoreKind,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub onion: OnionLimits,
    #[serde(default)]
    pub connections: ConnectionLimits,
}

/// A relay's data directory, opened.
pub struct DataDir {
    pub path: PathBuf,
    pub config: RelayConfig,
    pub identity: Identity,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ConfigError + '_ {
    move |source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl DataDir {
    /// Creates the directory's identity and configuration. Port 0 picks a free port now and
    /// keeps it, so the relay's address never changes across restarts.
    pub fn init(path: &Path, listen: SocketAddr, store: StoreKind) -> Result<Self, ConfigError> {
        let config_path = path.join(CONFIG_FILE);
        if config_path.exists() {
            return Err(ConfigError::AlreadyInitialized(path.display().to_string()));
        }
        std::fs::create_dir_all(path).map_err(io(path))?;
        let listen = if listen.port() == 0 {
            let socket = bind_free_port(listen.ip())?;
            socket.local_addr().map_err(|source| ConfigError::NoPort {
                addr: listen,
                source,
            })?
        } else {
            listen
        };
        let config = RelayConfig {
            listen,
            store,
            limits: Limits::default(),
            onion: OnionLimits::default(),
            connections: ConnectionLimits::default(),
        };
        let identity = Identity::generate();
        identity.save(&path.join(IDENTITY_FILE))?;
        let text = toml::to_string(&config).map_err(|e| ConfigError::Parse {
            path: config_path.display().to_string(),
            reason: e.to_string(),
        })?;
        write_private(&config_path, text.as_bytes(), Placement::New).map_err(io(&config_path))?;
        Ok(Self {
            path: path.to_path_buf(),
            config,
            identity,
        })
    }

    pub fn open(path: &Path) -> Result<Self, ConfigError> {
        let config_path = path.join(CONFIG_FILE);
        if !config_path.exists() {
            return Err(ConfigError::NotInitialized(path.display().to_string()));
        }
        let text = std::fs::read_to_string(&config_path).map_err(io(&config_path))?;
        let config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: config_path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            config,
            identity: Identity::load(&path.join(IDENTITY_FILE))?,
        })
    }

    /// The address clients use, with the listen host as the relay's host.
    pub fn address(&self) -> RelayAddress {
        RelayAddress {
            fingerprint: self.identity.fingerprint(),
            host: self.config.listen.ip().to_string(),
            port: self.config.listen.port(),
        }
    }

    pub fn store_path(&self) -> PathBuf {
        self.path.join(STORE_FILE)
    }
}

/// Ports tried first for a relay that asked for any port: below the range operating systems
/// hand out to client sockets (Linux: 32768-60999). A port the OS picked for us could be given
/// to some client socket between `init` and the relay's start; CI saw that when many tests ran
/// at once. A port in this range is only ever taken by someone choosing it.
const QUIET_PORTS: std::ops::Range<u16> = 20_000..32_768;
const QUIET_PORT_TRIES: usize = 64;

/// Binds a UDP socket on a free port of `ip`, trying the quiet range first. A caller that keeps
/// the socket until its relay serves on it leaves no moment for anyone else to take the port.
pub fn bind_free_port(ip: IpAddr) -> Result<std::net::UdpSocket, ConfigError> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    for _ in 0..QUIET_PORT_TRIES {
        let candidate = SocketAddr::new(ip, rng.gen_range(QUIET_PORTS));
        if let Ok(socket) = std::net::UdpSocket::bind(candidate) {
            return Ok(socket);
        }
    }
    let addr = SocketAddr::new(ip, 0);
    std::net::UdpSocket::bind(addr).map_err(|source| ConfigError::NoPort { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_open_gives_the_same_relay() {
        let dir = std::env::temp_dir().join(format!("sotto-config-{}", rand::random::<u64>()));
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let made = DataDir::init(&dir, listen, StoreKind::Redb).unwrap();
        assert_ne!(made.config.listen.port(), 0);
        assert!(matches!(
            DataDir::init(&dir, listen, StoreKind::Redb),
            Err(ConfigError::AlreadyInitialized(_))
        ));
        let opened = DataDir::open(&dir).unwrap();
        assert_eq!(opened.address(), made.address());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(CONFIG_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "relay.toml is the operator's alone");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
