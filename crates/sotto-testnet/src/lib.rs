//! Real relay processes for integration tests: each runs the `sotto` binary on 127.0.0.1 with
//! an ephemeral port, in its own temporary directory, and is killed and removed when dropped.

mod localnet;
pub mod netns;
pub mod person;
pub mod scan;

pub use localnet::{RelayProcess, TestLocalnet};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sotto_client::{DirectTransport, MailboxClient};
use sotto_proto::RelayAddress;

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How to set up a relay.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// `redb` or `memory`.
    pub store: &'static str,
    /// Value of `SOTTO_LOG` for the relay process.
    pub log_level: &'static str,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            store: "redb",
            log_level: "debug",
        }
    }
}

pub struct TestRelay {
    binary: PathBuf,
    root: PathBuf,
    child: Option<Child>,
    address: RelayAddress,
    metrics: Option<String>,
}

impl TestRelay {
    /// Creates a relay with `binary` (the `sotto` executable) and starts it.
    pub fn start(binary: &Path, options: RelayOptions) -> Self {
        let root =
            std::env::temp_dir().join(format!("sotto-testnet-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&root).expect("creating the test directory");
        let init = Command::new(binary)
            .args([
                "relay",
                "init",
                "--listen",
                "127.0.0.1:0",
                "--store",
                options.store,
                "--data",
            ])
            .arg(root.join("data"))
            .output()
            .expect("running sotto relay init");
        assert!(
            init.status.success(),
            "relay init failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let address: RelayAddress = String::from_utf8_lossy(&init.stdout)
            .trim()
            .parse()
            .expect("relay init printed an address");
        let mut relay = Self {
            binary: binary.to_path_buf(),
            root,
            child: None,
            address,
            metrics: None,
        };
        relay.run(options.log_level);
        relay
    }

    fn run(&mut self, log_level: &str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening the relay log");
        let mut child = Command::new(&self.binary)
            .args(["relay", "run", "--metrics", "127.0.0.1:0", "--data"])
            .arg(self.data_dir())
            .env("SOTTO_LOG", log_level)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("starting sotto relay run");
        let stdout = child.stdout.take().expect("relay stdout");
        self.child = Some(child);
        let ready = crate::output_lines(stdout);
        loop {
            let line = ready
                .recv_timeout(READY_TIMEOUT)
                .unwrap_or_else(|_| panic!("relay did not get ready; log:\n{}", self.log()));
            if let Some(metrics) = line.strip_prefix("metrics ") {
                self.metrics = Some(metrics.to_string());
            }
            if let Some(address) = line.strip_prefix("relay ready ") {
                assert_eq!(
                    address,
                    self.address.to_string(),
                    "the relay kept its address"
                );
                break;
            }
        }
    }

    pub fn address(&self) -> &RelayAddress {
        &self.address
    }

    /// `http://HOST:PORT/metrics` of the running relay.
    pub fn metrics_url(&self) -> Option<&str> {
        self.metrics.as_deref()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("relay.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: the relay gets no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the relay to exit by itself.
    #[allow(
        unsafe_code,
        reason = "std can only SIGKILL a child; a graceful stop needs kill(2)"
    )]
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let pid = libc::pid_t::try_from(child.id()).ok()?;
        // SAFETY: `pid` is our own child, which has not been waited for yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        child.wait().ok()
    }

    /// Starts the relay again on the same data directory and address.
    pub fn restart(&mut self, log_level: &str) {
        self.kill();
        self.run(log_level);
    }

    /// A client connected directly to this relay.
    pub async fn client(&self) -> MailboxClient<DirectTransport> {
        let transport = DirectTransport::connect(&self.address)
            .await
            .expect("connecting to the test relay");
        MailboxClient::new(transport)
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The lines a child process prints, as they come.
pub(crate) fn output_lines(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (lines, ready) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    ready
}

/// Fetches a URL over plain HTTP/1.1 (enough for the metrics page).
pub fn http_get(url: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// A stake ledger for a test network: each relay (by the address `sotto relay init` prints) is
/// an operator of its own with a stake of 100, and paths may share subnets, since test relays
/// share 127.0.0.1 or one bridge.
pub fn ledger_of_equals<S: AsRef<str>>(addresses: &[S]) -> String {
    let mut ledger = String::from("distinct_subnets = false\n");
    for (index, address) in addresses.iter().enumerate() {
        let address: RelayAddress = address
            .as_ref()
            .trim()
            .parse()
            .expect("a relay address, as `sotto relay init` prints it");
        ledger.push_str(&format!(
            "\n[[operator]]\nname = \"op{index}\"\nstake = 100\nrelays = [\"{}\"]\n",
            address.fingerprint
        ));
    }
    ledger
}
