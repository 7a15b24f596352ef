//! Network files (`network.toml`): reading one, making the authority's key, and assembling the
//! signed file from the stake ledger and the descriptors relays publish (`sotto network
//! assemble`), for relays run separately rather than by `sotto localnet`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use ed25519_dalek::SigningKey;
use sotto_onion::directory::{
    Admission, Descriptors, Directory, DirectoryError, Ledger, NetworkFile,
};
use sotto_relay::identity::Identity;
use sotto_relay::onion::{replace_file, DESCRIPTOR_FILE};

#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Make the network authority's signing key (or show the one in FILE).
    ///
    /// The authority decides which relays are in the network: it signs the network file, and
    /// every client pins its key the first time it reads one. Keep FILE secret and backed up:
    /// a new key is a new network to every client.
    Authority {
        /// The key file; created (readable by its owner only) if missing.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Write the signed network file from the stake ledger and relays' descriptors.
    ///
    /// Each relay run with --network keeps its descriptor (address, onion keys for this epoch
    /// and the next) in DIR/descriptor.toml and rewrites it when an epoch begins; before its
    /// first run, `sotto relay descriptor` makes it. Only relays the ledger stakes are admitted,
    /// each with its share of its operator's stake; the rest are named and left out. With
    /// --watch it keeps the file current as relays rotate their keys and the ledger changes.
    Assemble {
        /// The network file to write (replaced in one step).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The stake ledger: operators, their stake and their relays (see docs/operator.md).
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// The authority's key (`sotto network authority` makes one).
        #[arg(long, value_name = "FILE")]
        authority: PathBuf,
        /// Relay data directories (their descriptor.toml is read) or descriptor files.
        #[arg(required = true, value_name = "DIR|FILE")]
        sources: Vec<PathBuf>,
        /// Keep running until SIGINT or SIGTERM, rewriting FILE whenever a descriptor or the
        /// ledger changes.
        #[arg(long)]
        watch: bool,
    },
}

pub fn load(file: &Path) -> anyhow::Result<Directory> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the network file {}", file.display()))?;
    NetworkFile::parse(&text)
        .with_context(|| format!("{} is not a valid network file", file.display()))
}

/// Replaces `file` with `directory` signed by `authority`, in one step, so a reader never sees
/// half of it.
pub fn write(file: &Path, directory: &Directory, authority: &SigningKey) -> anyhow::Result<()> {
    replace_file(file, &directory.to_toml(authority))
        .with_context(|| format!("writing {}", file.display()))
}

/// The authority key in `file`, made there first if there is none.
pub fn authority_key(file: &Path) -> anyhow::Result<SigningKey> {
    if !file.exists() {
        Identity::generate().save(file)?;
    }
    Ok(Identity::load(file)?.signing_key().clone())
}

/// Every relay the sources describe; they must agree on the epoch length.
fn descriptors(sources: &[PathBuf]) -> anyhow::Result<Descriptors> {
    let mut epoch_secs = None;
    let mut relays = Vec::new();
    for source in sources {
        let file = if source.is_dir() {
            source.join(DESCRIPTOR_FILE)
        } else {
            source.clone()
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading the descriptor {}", file.display()))?;
        let part = Descriptors::parse(&text)
            .with_context(|| format!("{} is not a valid descriptor", file.display()))?;
        match epoch_secs {
            None => epoch_secs = Some(part.epoch_secs),
            Some(secs) if secs != part.epoch_secs => anyhow::bail!(
                "{} has epoch_secs = {}, the others {secs}: every relay of a network rotates \
                 its keys on the same schedule",
                file.display(),
                part.epoch_secs
            ),
            Some(_) => {}
        }
        relays.extend(part.relays);
    }
    let epoch_secs = epoch_secs.context("no descriptors given")?;
    Descriptors::new(epoch_secs, relays).context("the descriptors do not make a network")
}

/// The admitted directory of the staked relays among `sources`.
fn assemble(ledger: &Path, sources: &[PathBuf]) -> anyhow::Result<Admission> {
    let text = std::fs::read_to_string(ledger)
        .with_context(|| format!("reading the stake ledger {}", ledger.display()))?;
    let ledger = Ledger::parse(&text)
        .with_context(|| format!("{} is not a valid stake ledger", ledger.display()))?;
    ledger
        .admit(descriptors(sources)?)
        .map_err(|error| match error {
            DirectoryError::NoRelays => {
                anyhow::anyhow!("no relay of these descriptors is staked in the ledger")
            }
            other => anyhow::Error::new(other).context("the staked relays do not make a network"),
        })
}

fn report(out: &Path, admission: &Admission) {
    println!(
        "network written {} ({} relays)",
        out.display(),
        admission.directory.relays().len()
    );
    for relay in &admission.unstaked {
        println!("left out {relay}: no stake in the ledger");
    }
    for relay in &admission.absent {
        println!("missing {relay}: staked, but no descriptor");
    }
}

pub async fn run(command: NetworkCommand) -> anyhow::Result<()> {
    let (out, ledger, authority, sources, watch) = match command {
        NetworkCommand::Authority { key } => {
            let existed = key.exists();
            let key_pair = authority_key(&key)?;
            let made = if existed { "" } else { " (new)" };
            println!(
                "authority {}{made}",
                hex::encode(key_pair.verifying_key().as_bytes())
            );
            return Ok(());
        }
        NetworkCommand::Assemble {
            out,
            ledger,
            authority,
            sources,
            watch,
        } => (out, ledger, authority, sources, watch),
    };
    anyhow::ensure!(
        authority.exists(),
        "no authority key at {}: make one with `sotto network authority --key {}`",
        authority.display(),
        authority.display()
    );
    let key = authority_key(&authority)?;
    let admission = assemble(&ledger, &sources)?;
    write(&out, &admission.directory, &key)?;
    report(&out, &admission);
    if !watch {
        return Ok(());
    }
    let mut written = admission.directory;
    let signal = crate::relay::shutdown_signal();
    tokio::pin!(signal);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            stopped = &mut signal => return stopped,
            _ = tick.tick() => {}
        }
        // A descriptor caught half-rotated or unreadable is tried again next second; the file
        // clients read keeps its last good version meanwhile.
        match assemble(&ledger, &sources) {
            Ok(admission) if admission.directory != written => {
                write(&out, &admission.directory, &key)?;
                report(&out, &admission);
                written = admission.directory;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(
                "not rewriting the network file: {}",
                crate::report::describe(&error)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(dir: &Path, name: &str, epoch_secs: u64) -> (PathBuf, String) {
        let data = sotto_relay::config::DataDir::init(
            &dir.join(name),
            "127.0.0.1:0".parse().unwrap(),
            sotto_relay::config::StoreKind::Memory,
        )
        .unwrap();
        let entry = crate::relay::descriptor(&data, epoch_secs, 1_800_000_000).unwrap();
        let file = dir.join(format!("{name}.toml"));
        let text = Descriptors::new(epoch_secs, vec![entry.clone()])
            .unwrap()
            .to_toml();
        std::fs::write(&file, text).unwrap();
        (file, entry.address.fingerprint.to_string())
    }

    fn ledger(dir: &Path, relays: &[&str]) -> PathBuf {
        let list: Vec<String> = relays.iter().map(|r| format!("\"{r}\"")).collect();
        let text = format!(
            "distinct_subnets = false\n\n[[operator]]\nname = \"one\"\nstake = 10\nrelays = [{}]\n",
            list.join(", ")
        );
        let file = dir.join("stake.toml");
        std::fs::write(&file, text).unwrap();
        file
    }

    #[test]
    fn staked_descriptors_join_into_one_network_and_mismatches_are_refused() {
        let dir =
            std::env::temp_dir().join(format!("sotto-assemble-{:016x}", rand::random::<u64>()));
        let made: Vec<(PathBuf, String)> = ["a", "b", "c"]
            .iter()
            .map(|name| descriptor(&dir, name, 3600))
            .collect();
        let files: Vec<PathBuf> = made.iter().map(|(file, _)| file.clone()).collect();
        // a and b are staked; c is not.
        let stake = ledger(&dir, &[&made[0].1, &made[1].1]);
        let admission = assemble(&stake, &files).unwrap();
        assert_eq!(admission.directory.relays().len(), 2);
        assert_eq!(admission.directory.epoch_secs(), 3600);
        assert_eq!(admission.unstaked.len(), 1);
        assert_eq!(admission.unstaked[0].to_string(), made[2].1);
        let weights: Vec<u64> = admission
            .directory
            .relays()
            .iter()
            .map(|r| r.stake.weight)
            .collect();
        assert_eq!(weights, [5, 5]);

        // Signed with the authority's key, it reads back under that authority.
        let key = authority_key(&dir.join("authority.key")).unwrap();
        let out = dir.join("network.toml");
        write(&out, &admission.directory, &key).unwrap();
        let read = load(&out).unwrap();
        assert_eq!(read.authority(), Some(&key.verifying_key()));
        assert_eq!(read, admission.directory.signed(&key));
        // The same key file gives the same key again.
        assert_eq!(
            authority_key(&dir.join("authority.key"))
                .unwrap()
                .to_bytes(),
            key.to_bytes()
        );

        let twice = assemble(&stake, &[files[0].clone(), files[0].clone()]).unwrap_err();
        assert!(
            format!("{twice:#}").contains("do not make a network"),
            "{twice:#}"
        );
        let (odd, _) = descriptor(&dir, "d", 60);
        let mixed = assemble(&stake, &[files[0].clone(), odd]).unwrap_err();
        assert!(format!("{mixed:#}").contains("same schedule"), "{mixed:#}");
        let missing = assemble(&stake, &[dir.join("nothing-here")]).unwrap_err();
        assert!(
            format!("{missing:#}").contains("reading the descriptor"),
            "{missing:#}"
        );
        let nobody = ledger(&dir, &[]);
        let error = assemble(&nobody, &files).unwrap_err();
        assert!(
            format!("{error:#}").contains("no relay of these descriptors is staked"),
            "{error:#}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
