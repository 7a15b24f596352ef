//! Who learns which IP, with every party on a host of its own: five relays and two people,
//! each in a network namespace with its own address on a private bridge (on loopback everyone
//! is 127.0.0.1, so this is where IPs can be told apart). The people use the `sotto` command
//! as anyone would. Afterwards each relay's data directory, log and recorded view are read:
//!
//! - only a person's gateways saw the person's address, and never stored or logged it;
//! - no other relay (mix or host) saw it in any form;
//! - every packet a relay got from another relay came from a relay's address.
//!
//! Skipped where the machine does not allow unprivileged namespaces. Run with
//! `cargo test -p sotto-cli --features test-view --test namespaces` (CI does).
#![cfg(feature = "test-view")]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Command;

use sotto_testnet::netns::{isolate, mentions, Isolation, Lan};
use sotto_testnet::scan::files_under;
use sotto_testnet::RelayProcess;

const RELAYS: [&str; 5] = ["relay0", "relay1", "relay2", "relay3", "relay4"];
const PEOPLE: [(&str, &str); 2] = [("alice", "Alice"), ("bob", "Bob")];

fn sotto(command: &mut Command) -> String {
    let output = command.output().expect("running sotto");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The JSON lines of a person's command, run on the person's own host.
fn person(lan: &Lan, who: &str, root: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut command = lan.command(who, Path::new(env!("CARGO_BIN_EXE_sotto")));
    command
        .args(args)
        .arg("--home")
        .arg(root.join(who))
        .arg("--network")
        .arg(root.join("network.toml"))
        .arg("--json");
    sotto(&mut command)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn relays_see_only_the_addresses_their_role_allows() {
    let Some(Isolation::Inside) = isolate("relays_see_only_the_addresses_their_role_allows") else {
        return;
    };
    let hosts: Vec<&str> = RELAYS
        .iter()
        .chain(PEOPLE.iter().map(|(h, _)| h))
        .copied()
        .collect();
    let lan = Lan::new(&hosts);
    let binary = Path::new(env!("CARGO_BIN_EXE_sotto"));
    let root = std::env::temp_dir().join(format!("sotto-netns-{:016x}", rand::random::<u64>()));
    let dirs: Vec<PathBuf> = RELAYS.iter().map(|r| root.join(r)).collect();
    let mut addresses = Vec::new();
    for (relay, dir) in RELAYS.iter().zip(&dirs) {
        let listen = format!("{}:0", lan.address(relay));
        addresses.push(sotto(
            lan.command(relay, binary)
                .args(["relay", "init", "--listen", &listen])
                .arg("--data")
                .arg(dir),
        ));
        sotto(
            Command::new(binary)
                .args(["relay", "descriptor", "--data"])
                .arg(dir),
        );
    }
    let network = root.join("network.toml");
    let (ledger, key) = (root.join("stake.toml"), root.join("authority.key"));
    std::fs::write(&ledger, sotto_testnet::ledger_of_equals(&addresses)).unwrap();
    sotto(
        Command::new(binary)
            .args(["network", "authority", "--key"])
            .arg(&key),
    );
    sotto(
        Command::new(binary)
            .args(["network", "assemble", "--ledger"])
            .arg(&ledger)
            .arg("--authority")
            .arg(&key)
            .arg("--out")
            .arg(&network)
            .args(&dirs),
    );
    let relays: Vec<RelayProcess> = RELAYS
        .iter()
        .zip(&dirs)
        .map(|(relay, dir)| {
            let mut command = lan.command(relay, binary);
            command
                .args(["relay", "run", "--data"])
                .arg(dir)
                .arg("--network")
                .arg(&network);
            RelayProcess::spawn(command, &root.join(format!("{relay}.log")))
        })
        .collect();

    for (who, name) in PEOPLE {
        person(&lan, who, &root, &["init", "--name", name]);
    }
    let invite = person(&lan, "alice", &root, &["invite"]);
    let link = invite[0]["link"].as_str().unwrap().to_string();
    person(&lan, "bob", &root, &["connect", &link]);
    person(&lan, "alice", &root, &["contacts"]);
    person(
        &lan,
        "bob",
        &root,
        &["send", "Alice", "hello across namespaces"],
    );
    let read = person(&lan, "alice", &root, &["read", "Bob", "--wait", "20"]);
    assert!(read.iter().any(|e| e["text"] == "hello across namespaces"));
    person(&lan, "alice", &root, &["send", "Bob", "and back"]);
    let read = person(&lan, "bob", &root, &["read", "Alice", "--wait", "20"]);
    assert!(read.iter().any(|e| e["text"] == "and back"));
    drop(relays);

    let relay_ips: Vec<Ipv4Addr> = RELAYS.iter().map(|r| lan.address(r)).collect();
    let views: Vec<String> = dirs
        .iter()
        .map(|dir| std::fs::read_to_string(dir.join("view.log")).unwrap_or_default())
        .collect();
    let saw = |view: &str, prefix: &str| -> Vec<SocketAddrV4> {
        view.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|address| address.parse().ok())
            .collect()
    };
    // Every address and port the people were seen at, in the binary form a store would keep.
    let raw: Vec<Vec<u8>> = views
        .iter()
        .flat_map(|view| saw(view, "client "))
        .map(|address| [&address.ip().octets()[..], &address.port().to_be_bytes()].concat())
        .collect();
    let mut gateways = 0;
    for ((relay, dir), view) in RELAYS.iter().zip(&dirs).zip(&views) {
        for from in saw(view, "from ") {
            assert!(
                relay_ips.contains(from.ip()),
                "{relay} got a packet from {from}, not a relay"
            );
        }
        let clients: Vec<Ipv4Addr> = saw(view, "client ").iter().map(|a| *a.ip()).collect();
        let log = std::fs::read(root.join(format!("{relay}.log"))).unwrap();
        let stored: Vec<(String, Vec<u8>)> = files_under(dir)
            .into_iter()
            .filter(|(name, _)| !name.ends_with("view.log") && !name.ends_with("wire.cap"))
            .collect();
        for (who, _) in PEOPLE {
            let ip = lan.address(who);
            let gateway = clients.contains(&ip);
            gateways += usize::from(gateway);
            assert!(!mentions(&log, ip), "{relay} logged {who}'s address");
            for (file, bytes) in &stored {
                assert!(
                    !mentions(bytes, ip),
                    "{relay} stored {who}'s address in {file}"
                );
                for form in &raw {
                    assert!(
                        !sotto_testnet::scan::contains(bytes, form),
                        "{relay} stored a person's address and port in {file}"
                    );
                }
            }
            if !gateway {
                assert!(
                    !mentions(view.as_bytes(), ip),
                    "{relay} saw {who}'s address"
                );
            }
        }
    }
    assert!(gateways >= 2, "each person had a gateway that saw them");
    std::fs::remove_dir_all(&root).unwrap();
}
