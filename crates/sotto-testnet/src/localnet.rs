//! A `sotto localnet` process for integration tests: N relays on 127.0.0.1 in a temporary
//! directory, killed and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sotto_client::{MailboxClient, OnionTransport};
use sotto_onion::directory::{Directory, NetworkFile};
use sotto_proto::Fingerprint;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct TestLocalnet {
    binary: PathBuf,
    root: PathBuf,
    relays: usize,
    epoch_secs: u64,
    child: Option<Child>,
    directory: Option<Directory>,
    metrics: Vec<String>,
    /// Extra environment for the localnet process (say, `SOTTO_FAULTS`).
    env: Vec<(String, String)>,
    /// Vouchers a day per device, for a localnet that requires them (`--vouchers`).
    vouchers: Option<u32>,
}

impl TestLocalnet {
    pub fn start(binary: &Path, relays: usize) -> Self {
        Self::start_with_epoch(binary, relays, 86_400)
    }

    /// A localnet whose onion keys rotate every `epoch_secs`.
    pub fn start_with_epoch(binary: &Path, relays: usize, epoch_secs: u64) -> Self {
        Self::start_with(binary, relays, epoch_secs, &[])
    }

    /// A localnet with extra environment variables for its process.
    pub fn start_with(binary: &Path, relays: usize, epoch_secs: u64, env: &[(&str, &str)]) -> Self {
        Self::launch(binary, relays, epoch_secs, env, None)
    }

    /// A localnet that requires vouchers, `per_day` a day for each device (`--vouchers`).
    pub fn start_with_vouchers(binary: &Path, relays: usize, per_day: u32) -> Self {
        Self::launch(binary, relays, 86_400, &[], Some(per_day))
    }

    fn launch(
        binary: &Path,
        relays: usize,
        epoch_secs: u64,
        env: &[(&str, &str)],
        vouchers: Option<u32>,
    ) -> Self {
        let root =
            std::env::temp_dir().join(format!("sotto-localnet-{:016x}", rand::random::<u64>()));
        let mut net = Self {
            binary: binary.to_path_buf(),
            root,
            relays,
            epoch_secs,
            child: None,
            directory: None,
            metrics: Vec::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            vouchers,
        };
        net.run();
        net
    }

    fn run(&mut self) {
        std::fs::create_dir_all(&self.root).expect("creating the localnet directory");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .ok();
        let mut command = Command::new(&self.binary);
        command
            .args([
                "localnet",
                "--relays",
                &self.relays.to_string(),
                "--epoch-secs",
            ])
            .arg(self.epoch_secs.to_string())
            .arg("--dir")
            .arg(&self.root)
            .args(
                self.vouchers
                    .iter()
                    .flat_map(|n| ["--vouchers".to_string(), n.to_string()]),
            )
            .env("SOTTO_LOG", "debug")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped());
        if let Some(log) = log {
            command.stderr(log);
        }
        self.metrics.clear();
        let mut child = command.spawn().expect("starting sotto localnet");
        let stdout = child.stdout.take().expect("localnet stdout");
        self.child = Some(child);
        let ready = crate::output_lines(stdout);
        loop {
            let line = ready
                .recv_timeout(READY_TIMEOUT)
                .unwrap_or_else(|_| panic!("localnet did not get ready; log:\n{}", self.log()));
            if let Some((_, url)) = line.split_once(" metrics ") {
                self.metrics.push(url.to_string());
            }
            if let Some(file) = line.strip_prefix("localnet ready ") {
                let text = std::fs::read_to_string(file).expect("reading the network file");
                self.directory = Some(NetworkFile::parse(&text).expect("a valid network file"));
                break;
            }
        }
    }

    /// Reads the network file again (after onion keys rotated).
    pub fn reload(&mut self) {
        let text = std::fs::read_to_string(self.root.join("network.toml"))
            .expect("reading the network file");
        self.directory = Some(NetworkFile::parse(&text).expect("a valid network file"));
    }

    pub fn directory(&self) -> &Directory {
        self.directory.as_ref().expect("the localnet is running")
    }

    /// Fingerprint of relay `index`, in network-file order.
    pub fn relay(&self, index: usize) -> Fingerprint {
        *self.directory().relays()[index].fingerprint()
    }

    /// The metrics page of relay `index` (network-file order).
    pub fn metrics(&self, index: usize) -> String {
        crate::http_get(&self.metrics[index]).expect("reading the metrics page")
    }

    /// The value of counter `name` (with its labels, e.g. `x{kind="y"}`) at relay `index`.
    pub fn counter(&self, index: usize, name: &str) -> u64 {
        let page = self.metrics(index);
        page.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from metrics:\n{page}"))
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("localnet.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// SIGKILL, then start again on the same directory.
    pub fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.run();
    }

    /// A client entering through relay `gateway` to mailboxes on relay `host`.
    pub async fn client(
        &self,
        gateway: usize,
        host: usize,
        renew_every: Duration,
    ) -> MailboxClient<OnionTransport> {
        let transport = OnionTransport::connect(
            self.directory().clone(),
            self.relay(gateway),
            self.relay(host),
            renew_every,
        )
        .await
        .expect("connecting to the gateway");
        MailboxClient::new(transport)
    }
}

impl Drop for TestLocalnet {
    /// Stops the localnet and removes its directory, unless a test failed: then each relay's
    /// onion counters are printed and the directory (with every relay's log) is kept.
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        if failed {
            for (index, address) in self.metrics.iter().enumerate() {
                let page = crate::http_get(address).unwrap_or_default();
                let counters: Vec<&str> = page
                    .lines()
                    .filter(|line| line.starts_with("sotto_onion") && !line.ends_with(" 0"))
                    .collect();
                eprintln!("relay {index}: {}", counters.join(", "));
            }
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if failed {
            eprintln!("localnet kept for inspection: {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// One relay of a network as its own `sotto relay run --network` process, so a test can kill a
/// single relay.
pub struct RelayProcess {
    child: Child,
}

impl RelayProcess {
    pub fn start(binary: &Path, data: &Path, network_file: &Path, log: &Path) -> Self {
        Self::start_with(binary, data, network_file, log, &[])
    }

    /// Starts the relay with extra environment (`SOTTO_LOG`, `SOTTO_FAULTS`, ...).
    pub fn start_with(
        binary: &Path,
        data: &Path,
        network_file: &Path,
        log: &Path,
        env: &[(String, String)],
    ) -> Self {
        Self::spawn(relay_run(binary, data, network_file, env), log)
    }

    /// Runs `command` (a `sotto relay run`, perhaps wrapped) with its log in `log` at debug
    /// level unless the command sets `SOTTO_LOG`, and waits until the relay is ready.
    pub fn spawn(command: Command, log: &Path) -> Self {
        Self::launch(command, log).ready()
    }

    /// Starts the relay's process without waiting for it, so several can start at once.
    fn launch(mut command: Command, log: &Path) -> StartingRelay {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("opening the relay log");
        let asked = command
            .get_envs()
            .any(|(key, _)| key == std::ffi::OsStr::new("SOTTO_LOG"));
        if !asked {
            command.env("SOTTO_LOG", "debug");
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("starting sotto relay run");
        let stdout = child.stdout.take().expect("relay stdout");
        StartingRelay {
            relay: Self { child },
            output: crate::output_lines(stdout),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A relay process started and not yet ready.
struct StartingRelay {
    relay: RelayProcess,
    output: std::sync::mpsc::Receiver<String>,
}

impl StartingRelay {
    fn ready(self) -> RelayProcess {
        while !self
            .output
            .recv_timeout(READY_TIMEOUT)
            .expect("the relay got ready")
            .starts_with("relay ready ")
        {}
        self.relay
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `sotto relay run` on `data` in the network `network_file`, with extra environment.
fn relay_run(binary: &Path, data: &Path, network_file: &Path, env: &[(String, String)]) -> Command {
    let mut command = Command::new(binary);
    command
        .args(["relay", "run", "--data"])
        .arg(data)
        .arg("--network")
        .arg(network_file)
        .envs(env.iter().map(|(k, v)| (k, v)));
    command
}

impl TestLocalnet {
    /// Stops the localnet and starts each of its relays as a process of its own, on the same
    /// data, keys, network file and environment. They start all at once: their ports are free
    /// from the localnet's exit until each binds again, and that moment is kept short.
    pub fn into_processes(mut self) -> (Self, Vec<RelayProcess>) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let network_file = self.root.join("network.toml");
        let starting: Vec<StartingRelay> = (0..self.relays)
            .map(|index| {
                let data = self.root.join(format!("relay-{index}"));
                let log = self.root.join(format!("relay-{index}.log"));
                let command = relay_run(&self.binary, &data, &network_file, &self.env);
                RelayProcess::launch(command, &log)
            })
            .collect();
        let relays = starting.into_iter().map(StartingRelay::ready).collect();
        (self, relays)
    }
}
