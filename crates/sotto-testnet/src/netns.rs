//! Hosts in network namespaces of their own, each with its own address on a private bridge,
//! for tests that must tell parties apart by IP: on loopback everyone is 127.0.0.1, so "the host
//! never learns a client's IP" cannot be checked there. Built on unprivileged user namespaces
//! (`unshare`) and `ip`; where the machine does not allow them, [`isolate`] says so and the
//! test skips. Nothing leaves the namespaces: the bridge has no route out.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// Set in the environment of the test's second run, the one inside the namespaces.
const INSIDE: &str = "SOTTO_NETNS_INSIDE";
/// The private network: the test process holds .1 on the bridge, hosts get their own.
const PREFIX: [u8; 3] = [10, 77, 0];
const BRIDGE: &str = "sotto-br";

/// Where a test runs.
pub enum Isolation {
    /// This process is the run inside the namespaces: do the work.
    Inside,
    /// The run inside has finished and passed: nothing more to do here.
    Done,
}

/// Runs the test named `test` (its name as `cargo test --exact` takes it) again, inside a new
/// user, network and mount namespace, or reports that this process is that run. `None` means
/// the machine does not allow namespaces: the test should return, skipped.
pub fn isolate(test: &str) -> Option<Isolation> {
    if std::env::var_os(INSIDE).is_some() {
        return Some(Isolation::Inside);
    }
    if !available() {
        eprintln!("skipping {test}: unprivileged network namespaces are not allowed here");
        return None;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let status = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--net",
            "--mount",
            "--fork",
            "--",
        ])
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(INSIDE, "1")
        .status()
        .expect("running unshare");
    assert!(status.success(), "{test} failed inside its namespaces");
    Some(Isolation::Done)
}

/// Whether a user namespace here may make network namespaces and a bridge.
fn available() -> bool {
    Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--mount", "--"])
        .args(["ip", "link", "add", "probe", "type", "bridge"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A bridge with the test process on it and one namespace per named host, each with one
/// address. Only inside [`isolate`]'s run.
pub struct Lan {
    hosts: Vec<String>,
}

impl Lan {
    pub fn new(hosts: &[&str]) -> Self {
        assert!(
            std::env::var_os(INSIDE).is_some(),
            "Lan::new runs only inside netns::isolate"
        );
        assert!(hosts.len() < 200, "one /24 for all hosts");
        // `ip netns` keeps its namespaces under /run/netns; this mount namespace gets its own.
        run("mount", &["-t", "tmpfs", "sotto-netns", "/run"]);
        run("mkdir", &["-p", "/run/netns"]);
        run("ip", &["link", "set", "lo", "up"]);
        run("ip", &["link", "add", BRIDGE, "type", "bridge"]);
        let gateway = format!("{}/24", Self::bridge_address());
        run("ip", &["addr", "add", &gateway, "dev", BRIDGE]);
        run("ip", &["link", "set", BRIDGE, "up"]);
        let lan = Self {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        };
        for (index, host) in hosts.iter().enumerate() {
            let veth = format!("v{index}");
            let address = format!("{}/24", lan.address_of(index));
            run("ip", &["netns", "add", host]);
            run(
                "ip",
                &[
                    "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", host,
                ],
            );
            run("ip", &["link", "set", &veth, "master", BRIDGE, "up"]);
            run("ip", &["-n", host, "addr", "add", &address, "dev", "eth0"]);
            run("ip", &["-n", host, "link", "set", "eth0", "up"]);
            run("ip", &["-n", host, "link", "set", "lo", "up"]);
        }
        lan
    }

    /// The test process's own address, on the bridge.
    pub fn bridge_address() -> Ipv4Addr {
        Ipv4Addr::new(PREFIX[0], PREFIX[1], PREFIX[2], 1)
    }

    fn address_of(&self, index: usize) -> Ipv4Addr {
        Ipv4Addr::new(PREFIX[0], PREFIX[1], PREFIX[2], 10 + index as u8)
    }

    /// The address of the host called `host`.
    pub fn address(&self, host: &str) -> Ipv4Addr {
        let index = self
            .hosts
            .iter()
            .position(|h| h == host)
            .unwrap_or_else(|| panic!("no host {host} on this LAN"));
        self.address_of(index)
    }

    /// A command that runs `program` on host `host`.
    pub fn command(&self, host: &str, program: &std::path::Path) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", host]).arg(program);
        command
    }
}

/// Whether `text` names the address `ip` (and not one it is a prefix of, as 10.77.0.1 is of
/// 10.77.0.12).
pub fn mentions(text: &[u8], ip: Ipv4Addr) -> bool {
    let needle = ip.to_string();
    let needle = needle.as_bytes();
    text.windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .any(|(at, _)| {
            text.get(at + needle.len())
                .is_none_or(|next| !next.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_not_mistaken_for_one_it_prefixes() {
        let ip = Ipv4Addr::new(10, 77, 0, 1);
        assert!(mentions(b"client 10.77.0.1:4000", ip));
        assert!(mentions(b"10.77.0.1", ip));
        assert!(!mentions(b"from 10.77.0.12:4000", ip));
        assert!(!mentions(b"nothing", ip));
    }
}
