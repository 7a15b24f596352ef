//! `sotto bench files`: one file from one `sotto` process to another through a network, as
//! people send them (`send --file`, `download`): each side's MiB/s and peak memory, beside
//! the same run's onion round trip.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{gateway_and_host, quantile, round_trips};

/// Onion round trips timed for the reference.
const REFERENCE_REQUESTS: usize = 100;
const MIB: f64 = 1024.0 * 1024.0;

/// A size as people write it: `256MiB`, `1GiB`, `64KiB` or bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 256MiB"))?;
    let unit = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("unknown unit {other:?}: use B, KiB, MiB or GiB")),
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("{text} is too large"))
}

/// The homes and files of one run, removed when it ends, whatever way it ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Side<'a> {
    home: PathBuf,
    network: &'a Path,
}

impl Side<'_> {
    fn command(&self, args: &[&str]) -> anyhow::Result<Command> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(args)
            .arg("--home")
            .arg(&self.home)
            .arg("--network")
            .arg(self.network)
            .arg("--json");
        Ok(command)
    }

    /// Runs `sotto ARGS`; its JSON lines.
    fn run(&self, args: &[&str]) -> anyhow::Result<Vec<serde_json::Value>> {
        let out = self.command(args)?.output()?;
        if !out.status.success() {
            bail!("sotto {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect())
    }

    /// Runs `sotto ARGS`, timing it and watching its peak resident memory (VmHWM).
    fn measure(&self, args: &[&str]) -> anyhow::Result<(Duration, u64, Vec<serde_json::Value>)> {
        let started = Instant::now();
        let mut child = self
            .command(args)?
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let status_file = format!("/proc/{}/status", child.id());
        let mut peak_kib = 0;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if let Some(kib) = peak_resident_kib(&status_file) {
                peak_kib = peak_kib.max(kib);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let elapsed = started.elapsed();
        let mut stdout = String::new();
        if let Some(mut out) = child.stdout.take() {
            out.read_to_string(&mut stdout)?;
        }
        if !status.success() {
            let mut stderr = String::new();
            if let Some(mut err) = child.stderr.take() {
                err.read_to_string(&mut stderr)?;
            }
            bail!("sotto {args:?}: {stderr}");
        }
        let lines = stdout
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        Ok((elapsed, peak_kib, lines))
    }
}

/// VmHWM of a running process, in KiB.
fn peak_resident_kib(status_file: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Writes `size` random bytes a piece at a time; their SHA-256.
fn make_file(path: &Path, size: u64) -> anyhow::Result<[u8; 32]> {
    let mut file = std::fs::File::create(path)?;
    let mut hasher = Sha256::new();
    let mut piece = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(piece.len() as u64) as usize;
        rand::rngs::OsRng.fill_bytes(&mut piece[..n]);
        hasher.update(&piece[..n]);
        file.write_all(&piece[..n])?;
        left -= n as u64;
    }
    Ok(hasher.finalize().into())
}

fn digest_of(path: &Path) -> anyhow::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut piece = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut piece)?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&piece[..n]);
    }
}

pub async fn run(network: &Path, size: u64, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let (directory, gateway, host) = gateway_and_host(network, 0, None)?;
    let mut reference =
        round_trips(directory, gateway, host, REFERENCE_REQUESTS, Duration::ZERO).await?;
    reference.sort();

    let root = dir
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("sotto-bench-files-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&root)?;
    let scratch = Scratch(root);
    let alice = Side {
        home: scratch.0.join("alice"),
        network,
    };
    let bob = Side {
        home: scratch.0.join("bob"),
        network,
    };
    alice.run(&["init", "--name", "Alice"])?;
    bob.run(&["init", "--name", "Bob"])?;
    let invite = alice.run(&["invite", "--no-qr"])?;
    let link = invite
        .first()
        .and_then(|line| line["link"].as_str())
        .context("invite printed no link")?
        .to_string();
    bob.run(&["connect", &link])?;
    alice.run(&["contacts"])?;

    let source = scratch.0.join("file.bin");
    let digest = make_file(&source, size)?;
    let source_arg = source
        .to_str()
        .context("a temporary path that is not UTF-8")?;
    let limit = size.max(1).to_string();
    let (upload, sender_kib, sent) = alice.measure(&[
        "send",
        "Bob",
        "--file",
        source_arg,
        "--max-file-size",
        &limit,
    ])?;
    let id = sent
        .iter()
        .rev()
        .find_map(|line| line["id"].as_str())
        .context("send printed no id")?
        .to_string();
    bob.run(&["read", "--wait", "60"])?;
    let out = scratch.0.join("received.bin");
    let out_arg = out.to_str().context("a temporary path that is not UTF-8")?;
    let (download, receiver_kib, _) = bob.measure(&["download", &id, "--out", out_arg])?;
    if digest_of(&out)? != digest {
        bail!("the file arrived altered");
    }
    let rate = |elapsed: Duration| size as f64 / MIB / elapsed.as_secs_f64();
    println!(
        "{:.1} MiB: upload {:.2} s ({:.2} MiB/s, sender peak RSS {} MiB), download {:.2} s \
         ({:.2} MiB/s, receiver peak RSS {} MiB); onion round trip one at a time in the same \
         run: p50 {:.2} ms",
        size as f64 / MIB,
        upload.as_secs_f64(),
        rate(upload),
        sender_kib / 1024,
        download.as_secs_f64(),
        rate(download),
        receiver_kib / 1024,
        quantile(&reference, 0.5).as_secs_f64() * 1e3,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1GB").is_err());
        assert!(parse_size("MiB").is_err());
    }
}
