//! Network files (`network.toml`): reading one, making the authority's key, and assembling the
//! signed file from the stake ledger and the descriptors relays publish (`sotto network
//! assemble`), for relays run separately rather than by `sotto localnet`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use ed25519_dalek::SigningKey;
use sotto_onion::directory::{
    Admission, Authorities, Descriptors, Directory, DirectoryError, Ledger, NetworkFile,
    Reachability, VoucherIssuer,
};
use sotto_proto::Fingerprint;
use sotto_quic::unix_now;
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
    Assemble(AssembleArgs),
    /// Add this authority's signature to a network file another authority assembled.
    ///
    /// For networks whose ledger names several authorities: the file is checked against
    /// this authority's own copy of the stake ledger (same relays' operators and stakes, same
    /// authorities) before it is signed, and rewritten in place. Clients take it once the
    /// ledger's threshold of authorities has signed.
    Cosign {
        /// This authority's key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// This authority's copy of the stake ledger.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// The network file to sign.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Args)]
pub struct AssembleArgs {
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
    /// Require vouchers: the `[issuer]` section `sotto relay issuer` printed (its relay must
    /// be admitted).
    #[arg(long, value_name = "FILE")]
    issuer: Option<PathBuf>,
    /// Keep running until SIGINT or SIGTERM, rewriting FILE whenever a descriptor or the
    /// ledger changes, and probing every relay: one that does not answer for
    /// --down-after seconds is left out until it answers again.
    #[arg(long)]
    watch: bool,
    /// With --watch, seconds between probes of each relay (a QUIC handshake that must
    /// prove the relay's identity).
    #[arg(long, default_value_t = 10, requires = "watch", value_name = "SECS")]
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    probe_every: u64,
    /// With --watch, seconds a relay may fail every probe before it is left out.
    #[arg(long, default_value_t = 60, requires = "watch", value_name = "SECS")]
    down_after: u64,
}

/// How long a probe waits for a relay's handshake.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

pub fn load(file: &Path) -> anyhow::Result<Directory> {
    Ok(sotto_app::read_network_file(file)?)
}

/// Replaces `file` with `directory` and the signatures it carries, in one step, so a reader
/// never sees half of it.
pub fn write(file: &Path, directory: &Directory) -> anyhow::Result<()> {
    replace_file(file, &directory.to_toml()).with_context(|| format!("writing {}", file.display()))
}

/// `directory` signed with `key`: as one of the authorities the ledger named, or, when it
/// named none, as the network's one authority.
pub fn sign_as(directory: Directory, key: &SigningKey) -> anyhow::Result<Directory> {
    let directory = match directory.authorities() {
        Some(_) => directory,
        None => directory.with_authorities(Authorities::single(key.verifying_key())),
    };
    directory.sign(key).context(
        "this key is not one of the authorities the ledger names (`sotto network authority \
         --key FILE` shows it)",
    )
}

/// One line on how far a network file's signatures got.
fn signed_status(directory: &Directory) -> String {
    let (signed, needed) = (
        directory.signers().len(),
        directory.authorities().map_or(1, Authorities::threshold),
    );
    if directory.is_approved() {
        format!("signatures: {signed} of the {needed} needed")
    } else {
        format!(
            "signatures: {signed} of the {needed} needed; clients take it once other \
             authorities run `sotto network cosign`"
        )
    }
}

fn read_ledger(ledger: &Path) -> anyhow::Result<Ledger> {
    let text = std::fs::read_to_string(ledger)
        .with_context(|| format!("reading the stake ledger {}", ledger.display()))?;
    Ledger::parse(&text)
        .with_context(|| format!("{} is not a valid stake ledger", ledger.display()))
}

fn cosign(key: &Path, ledger: &Path, file: &Path) -> anyhow::Result<Directory> {
    let key = Identity::load(key)?.signing_key().clone();
    let ledger = read_ledger(ledger)?;
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the network file {}", file.display()))?;
    let directory = NetworkFile::parse_unfinished(&text)
        .with_context(|| format!("{} is not a valid network file", file.display()))?;
    ledger.confirms(&directory)?;
    let signed = directory
        .sign(&key)
        .context("this key is not one of the file's authorities")?;
    write(file, &signed)?;
    Ok(signed)
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

/// A network file's content and what was left out of it.
#[derive(Debug)]
struct Assembled {
    admission: Admission,
    /// Staked relays with a descriptor that have not answered probes for too long.
    down: Vec<Fingerprint>,
}

/// The voucher issuer the file `issuer` describes.
fn read_issuer(issuer: &Path) -> anyhow::Result<VoucherIssuer> {
    let text =
        std::fs::read_to_string(issuer).with_context(|| format!("reading {}", issuer.display()))?;
    VoucherIssuer::from_toml(&text).with_context(|| format!("reading {}", issuer.display()))
}

/// The admitted directory of the staked relays among `sources` that are `up`, with the voucher
/// issuer `issuer` if given.
fn assemble(
    ledger: &Path,
    sources: &[PathBuf],
    issuer: Option<&Path>,
    up: impl Fn(&Fingerprint) -> bool,
) -> anyhow::Result<Assembled> {
    let ledger = read_ledger(ledger)?;
    let Descriptors { epoch_secs, relays } = descriptors(sources)?;
    let (relays, down): (Vec<_>, Vec<_>) = relays
        .into_iter()
        .partition(|relay| up(relay.fingerprint()));
    let down: Vec<Fingerprint> = down.iter().map(|relay| *relay.fingerprint()).collect();
    let mut admission = Descriptors::new(epoch_secs, relays)
        .map_err(|error| match error {
            DirectoryError::NoRelays => anyhow::anyhow!("no relay of these descriptors answers"),
            other => anyhow::Error::new(other),
        })
        .and_then(|relays| {
            ledger.admit(relays).map_err(|error| match error {
                DirectoryError::NoRelays => {
                    anyhow::anyhow!("no relay of these descriptors is staked in the ledger")
                }
                other => {
                    anyhow::Error::new(other).context("the staked relays do not make a network")
                }
            })
        })?;
    admission.absent.retain(|relay| !down.contains(relay));
    if let Some(issuer) = issuer {
        admission.directory = admission
            .directory
            .with_issuer(read_issuer(issuer)?)
            .context("the voucher issuer's relay is not admitted")?;
    }
    Ok(Assembled { admission, down })
}

/// Probes every relay `sources` describe, every `every`, into `seen`. Runs until dropped.
async fn probe(sources: Vec<PathBuf>, every: Duration, seen: Arc<Mutex<Reachability>>) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        // Unreadable descriptors are the assembler's to report; nothing to probe meanwhile.
        let Ok(described) = descriptors(&sources) else {
            continue;
        };
        let mut probes = tokio::task::JoinSet::new();
        for relay in described.relays {
            probes.spawn(async move {
                let answered = tokio::time::timeout(
                    PROBE_TIMEOUT,
                    sotto_client::DirectTransport::connect(&relay.address),
                )
                .await
                .is_ok_and(|connected| connected.is_ok());
                (*relay.fingerprint(), answered)
            });
        }
        let results = probes.join_all().await;
        let now = unix_now();
        let mut seen = seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let current: Vec<Fingerprint> = results.iter().map(|(relay, _)| *relay).collect();
        seen.retain(&current);
        for (relay, answered) in results {
            seen.record(relay, answered, now);
        }
    }
}

fn report(out: &Path, assembled: &Assembled, signed: &Directory) {
    let admission = &assembled.admission;
    println!(
        "network written {} ({} relays; {})",
        out.display(),
        admission.directory.relays().len(),
        signed_status(signed)
    );
    for relay in &admission.unstaked {
        println!("left out {relay}: no stake in the ledger");
    }
    for relay in &assembled.down {
        println!("left out {relay}: does not answer");
    }
    for relay in &admission.absent {
        println!("missing {relay}: staked, but no descriptor");
    }
}

/// Stops the prober when the assembler returns, however it returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn run(command: NetworkCommand) -> anyhow::Result<()> {
    let args = match command {
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
        NetworkCommand::Assemble(args) => args,
        NetworkCommand::Cosign { key, ledger, file } => {
            let signed = cosign(&key, &ledger, &file)?;
            println!(
                "network signed {} ({})",
                file.display(),
                signed_status(&signed)
            );
            return Ok(());
        }
    };
    let AssembleArgs {
        out,
        ledger,
        authority,
        sources,
        issuer,
        watch,
        probe_every,
        down_after,
    } = args;
    anyhow::ensure!(
        authority.exists(),
        "no authority key at {}: make one with `sotto network authority --key {}`",
        authority.display(),
        authority.display()
    );
    let key = authority_key(&authority)?;
    let assembled = assemble(&ledger, &sources, issuer.as_deref(), |_| true)?;
    // Each file assembled is a newer issue: clients refuse to go back to an older one.
    let signed = sign_as(
        assembled
            .admission
            .directory
            .clone()
            .with_serial(unix_now()),
        &key,
    )?;
    if watch && !signed.is_approved() {
        anyhow::bail!(
            "--watch rewrites the file whenever a relay rotates its keys, but this network \
             needs {} authorities to sign each version; assemble once per epoch and cosign \
             instead",
            signed.authorities().map_or(1, Authorities::threshold)
        );
    }
    write(&out, &signed)?;
    report(&out, &assembled, &signed);
    if !watch {
        return Ok(());
    }
    let seen = Arc::new(Mutex::new(Reachability::new(down_after)));
    let prober = tokio::spawn(probe(
        sources.clone(),
        Duration::from_secs(probe_every),
        seen.clone(),
    ));
    let _stop_probing = AbortOnDrop(prober);
    let up = |relay: &Fingerprint| {
        seen.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_up(relay, unix_now())
    };
    let mut written = assembled.admission.directory;
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
        match assemble(&ledger, &sources, issuer.as_deref(), up) {
            Ok(assembled) if assembled.admission.directory != written => {
                let issue = assembled
                    .admission
                    .directory
                    .clone()
                    .with_serial(unix_now());
                let signed = sign_as(issue, &key)?;
                write(&out, &signed)?;
                report(&out, &assembled, &signed);
                written = assembled.admission.directory;
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
        let text = entry
            .to_signed_toml(epoch_secs, data.identity.signing_key())
            .unwrap();
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
        let admission = assemble(&stake, &files, None, |_| true).unwrap().admission;
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
        let signed = sign_as(admission.directory.clone(), &key).unwrap();
        write(&out, &signed).unwrap();
        let read = load(&out).unwrap();
        assert_eq!(read.signers(), [key.verifying_key()]);
        assert_eq!(read, signed);
        // The same key file gives the same key again.
        assert_eq!(
            authority_key(&dir.join("authority.key"))
                .unwrap()
                .to_bytes(),
            key.to_bytes()
        );

        let twice = assemble(&stake, &[files[0].clone(), files[0].clone()], None, |_| {
            true
        })
        .unwrap_err();
        assert!(
            format!("{twice:#}").contains("do not make a network"),
            "{twice:#}"
        );
        let (odd, _) = descriptor(&dir, "d", 60);
        let mixed = assemble(&stake, &[files[0].clone(), odd], None, |_| true).unwrap_err();
        assert!(format!("{mixed:#}").contains("same schedule"), "{mixed:#}");
        let missing = assemble(&stake, &[dir.join("nothing-here")], None, |_| true).unwrap_err();
        assert!(
            format!("{missing:#}").contains("reading the descriptor"),
            "{missing:#}"
        );
        // A relay that does not answer is left out and said to be down, not missing.
        let down = &made[0].1;
        let assembled = assemble(&stake, &files, None, |relay| relay.to_string() != *down).unwrap();
        assert_eq!(assembled.admission.directory.relays().len(), 1);
        assert_eq!(assembled.down.len(), 1);
        assert_eq!(assembled.down[0].to_string(), *down);
        assert!(assembled.admission.absent.is_empty());
        let error = assemble(&stake, &files, None, |_| false).unwrap_err();
        assert!(format!("{error:#}").contains("answers"), "{error:#}");

        // Two authorities, both needed: one assembles and signs, the other checks the file
        // against its own copy of the ledger and cosigns.
        let (a, b) = (dir.join("a.key"), dir.join("b.key"));
        let keys = [authority_key(&a).unwrap(), authority_key(&b).unwrap()];
        let listed: Vec<String> = keys
            .iter()
            .map(|k| format!("\"{}\"", hex::encode(k.verifying_key().as_bytes())))
            .collect();
        let plain = std::fs::read_to_string(&stake).unwrap();
        let shared = format!(
            "authorities = [{}]\nthreshold = 2\n{plain}",
            listed.join(", ")
        );
        std::fs::write(&stake, &shared).unwrap();
        let assembled = assemble(&stake, &files, None, |_| true).unwrap().admission;
        let half = sign_as(assembled.directory, &keys[0]).unwrap();
        assert!(!half.is_approved());
        write(&out, &half).unwrap();
        assert!(format!("{:#}", load(&out).unwrap_err()).contains("1 of the 2"));
        // A copy of the ledger that disagrees is not signed against.
        let theirs = dir.join("their-stake.toml");
        std::fs::write(&theirs, shared.replace("stake = 10", "stake = 12")).unwrap();
        let error = cosign(&b, &theirs, &out).unwrap_err();
        assert!(
            format!("{error:#}").contains("does not match this ledger"),
            "{error:#}"
        );
        let full = cosign(&b, &stake, &out).unwrap();
        assert!(full.is_approved());
        assert_eq!(load(&out).unwrap(), full);
        let stranger = dir.join("c.key");
        authority_key(&stranger).unwrap();
        assert!(cosign(&stranger, &stake, &out).is_err());
        assert!(sign_as(full, &authority_key(&stranger).unwrap()).is_err());
        std::fs::write(&stake, plain).unwrap();

        // A voucher issuer joins the file when its relay is admitted.
        let issuer_dir = dir.join("a");
        let key = sotto_relay::issuer_file::create(&issuer_dir, 1, 5)
            .unwrap()
            .keys[0]
            .public()
            .clone();
        let identity = sotto_relay::config::DataDir::open(&issuer_dir)
            .unwrap()
            .identity
            .fingerprint();
        let section = dir.join("issuer.toml");
        std::fs::write(
            &section,
            VoucherIssuer::new(identity, vec![key]).unwrap().to_toml(),
        )
        .unwrap();
        let paid = assemble(&stake, &files, Some(&section), |_| true).unwrap();
        assert_eq!(
            paid.admission.directory.issuer().unwrap().relay(),
            &identity
        );
        let unstaked_issuer = ledger(&dir, &[&made[1].1]);
        let error = assemble(&unstaked_issuer, &files, Some(&section), |_| true).unwrap_err();
        assert!(format!("{error:#}").contains("not admitted"), "{error:#}");

        let nobody = ledger(&dir, &[]);
        let error = assemble(&nobody, &files, None, |_| true).unwrap_err();
        assert!(
            format!("{error:#}").contains("no relay of these descriptors is staked"),
            "{error:#}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
