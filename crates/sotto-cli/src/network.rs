//! Network files (`network.toml`): reading one, and assembling one from the descriptors relays
//! publish (`sotto network assemble`), for relays run separately rather than by `sotto localnet`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use sotto_onion::directory::{Directory, NetworkFile};
use sotto_relay::onion::{replace_file, DESCRIPTOR_FILE};

#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Write a network file from relays' descriptors.
    ///
    /// Each relay run with --network keeps its own entry (address, onion keys for this epoch
    /// and the next) in DIR/descriptor.toml and rewrites it when an epoch begins; before its
    /// first run, `sotto relay descriptor` makes it. This joins them into one file for clients
    /// and relays. With --watch it keeps the file current as relays rotate their keys.
    Assemble {
        /// The network file to write (replaced in one step).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Relay data directories (their descriptor.toml is read) or descriptor files.
        #[arg(required = true, value_name = "DIR|FILE")]
        sources: Vec<PathBuf>,
        /// Keep running until SIGINT or SIGTERM, rewriting FILE whenever a descriptor changes.
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

/// Replaces `file` with `directory` in one step, so a reader never sees half of it.
pub fn write(file: &Path, directory: &Directory) -> anyhow::Result<()> {
    replace_file(file, &directory.to_toml()).with_context(|| format!("writing {}", file.display()))
}

/// One directory of every relay the sources describe; they must agree on the epoch length.
fn assemble(sources: &[PathBuf]) -> anyhow::Result<Directory> {
    let mut epoch_secs = None;
    let mut relays = Vec::new();
    for source in sources {
        let file = if source.is_dir() {
            source.join(DESCRIPTOR_FILE)
        } else {
            source.clone()
        };
        let part = load(&file)?;
        match epoch_secs {
            None => epoch_secs = Some(part.epoch_secs()),
            Some(secs) if secs != part.epoch_secs() => anyhow::bail!(
                "{} has epoch_secs = {}, the others {secs}: every relay of a network rotates \
                 its keys on the same schedule",
                file.display(),
                part.epoch_secs()
            ),
            Some(_) => {}
        }
        relays.extend(part.relays().iter().cloned());
    }
    let epoch_secs = epoch_secs.context("no descriptors given")?;
    Directory::new(epoch_secs, relays).context("the descriptors do not make a network")
}

pub async fn run(command: NetworkCommand) -> anyhow::Result<()> {
    let NetworkCommand::Assemble {
        out,
        sources,
        watch,
    } = command;
    let directory = assemble(&sources)?;
    write(&out, &directory)?;
    println!(
        "network written {} ({} relays)",
        out.display(),
        directory.relays().len()
    );
    if !watch {
        return Ok(());
    }
    let mut written = directory;
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
        match assemble(&sources) {
            Ok(directory) if directory != written => {
                write(&out, &directory)?;
                println!(
                    "network written {} ({} relays)",
                    out.display(),
                    directory.relays().len()
                );
                written = directory;
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

    fn descriptor(dir: &Path, name: &str, epoch_secs: u64) -> PathBuf {
        let data = sotto_relay::config::DataDir::init(
            &dir.join(name),
            "127.0.0.1:0".parse().unwrap(),
            sotto_relay::config::StoreKind::Memory,
        )
        .unwrap();
        let entry = crate::relay::directory_entry(&data, epoch_secs, 1_800_000_000).unwrap();
        let file = dir.join(format!("{name}.toml"));
        write(&file, &Directory::new(epoch_secs, vec![entry]).unwrap()).unwrap();
        file
    }

    #[test]
    fn descriptors_join_into_one_network_and_mismatches_are_refused() {
        let dir =
            std::env::temp_dir().join(format!("sotto-assemble-{:016x}", rand::random::<u64>()));
        let files: Vec<PathBuf> = ["a", "b", "c"]
            .iter()
            .map(|name| descriptor(&dir, name, 3600))
            .collect();
        let network = assemble(&files).unwrap();
        assert_eq!(network.relays().len(), 3);
        assert_eq!(network.epoch_secs(), 3600);

        let twice = assemble(&[files[0].clone(), files[0].clone()]).unwrap_err();
        assert!(
            format!("{twice:#}").contains("do not make a network"),
            "{twice:#}"
        );
        let odd = descriptor(&dir, "d", 60);
        let mixed = assemble(&[files[0].clone(), odd]).unwrap_err();
        assert!(format!("{mixed:#}").contains("same schedule"), "{mixed:#}");
        let missing = assemble(&[dir.join("nothing-here")]).unwrap_err();
        assert!(
            format!("{missing:#}").contains("reading the network file"),
            "{missing:#}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
