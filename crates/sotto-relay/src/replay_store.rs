//! The mix's replay-tag cache on disk: `DIR/replay.snapshot` and `DIR/replay.log`.
//!
//! # Why
//!
//! A restarted mix that forgot which packets it had processed would accept replays of all of
//! them for as long as their onion keys stay valid, and a replay links a mix's input to its
//! output. So the [`ReplayCache`] of `sotto_onion::replay` outlives the process. That module
//! defines the formats and the procedure; this one does the file work:
//!
//! - `replay.snapshot`: the whole cache ([`ReplayCache::encode`]), replaced atomically at
//!   compaction: written to `replay.snapshot.tmp`, fsynced, renamed over, directory fsynced, so
//!   a crash leaves either the old or the new snapshot, never half of one;
//! - `replay.log`: one 48-byte record ([`encode_entry`]) per accepted tag since the snapshot,
//!   appended in order.
//!
//! [`ReplayStore::open`] decodes the snapshot (or starts empty when there is none), applies
//! the log, and truncates the log to its intact length: a crash during an append can tear the
//! last record, and new records written after the torn bytes would be misaligned and make the
//! next start reject the whole log. [`ReplayStore::compact`] retires old epochs, writes the
//! snapshot, then empties the log; a crash between the two is harmless because applying the old
//! log to the new snapshot skips what it already holds and what is retired.
//!
//! # Durability: written at once, fsynced in groups
//!
//! [`ReplayStore::check_and_insert`] writes the tag's record to the log file before it
//! returns, so the tag is in the kernel before the packet moves on: a relay process that is
//! killed at any point, even just after forwarding, finds every forwarded packet's tag on its
//! next start. The fsync that makes the records survive a crash of the whole machine is
//! grouped: [`ReplayStore::take_unsynced`] hands out the log file to be fsynced **outside**
//! the relay's lock, at most every few milliseconds and only when something was written.
//!
//! The trade: an fsync costs about 0.2 ms here and six of them sat on every request's round
//! trip (one per hop), a quarter of its latency, and a lone packet cannot share its fsync.
//! What it buys back is small: only a power loss or kernel crash inside the last sync
//! interval loses tags, and replaying one of those packets also needs the attacker to have
//! caused or foreseen that crash. The relay's [`flush`](ReplayStore::flush) still fsyncs
//! before compaction and on shutdown.
//!
//! # Failures
//!
//! A damaged snapshot or log stops [`ReplayStore::open`] with an error naming the file: running
//! with an empty cache would accept replays, so the operator decides (for instance to move the
//! file aside once every key it covers is retired). After a failed append or fsync the log may
//! end in a partial record, so the store refuses further work ([`ReplayStoreError::Broken`]);
//! reopening it truncates the torn tail and continues.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sotto_onion::replay::{encode_entry, Refused, ReplayCache, ReplayError, ReplayTag};
use sotto_quic::{restrict_to_owner, sync_dir, write_private, Placement};
use thiserror::Error;

pub const SNAPSHOT_FILE: &str = "replay.snapshot";
pub const SNAPSHOT_TMP_FILE: &str = "replay.snapshot.tmp";
pub const LOG_FILE: &str = "replay.log";

/// The log file, to be fsynced outside the store's lock (see [`ReplayStore::take_unsynced`]).
#[derive(Debug)]
pub struct UnsyncedLog(File);

impl UnsyncedLog {
    pub fn sync(self) -> std::io::Result<()> {
        self.0.sync_data()
    }
}

#[derive(Debug, Error)]
pub enum ReplayStoreError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path} is damaged: {source}; the relay will not start without its replay tags, \
         which would let replayed packets through"
    )]
    Damaged { path: String, source: ReplayError },
    /// The packet must be dropped, but the store is fine: the epoch is retired, or one too
    /// many. A replay is not this: it is `Ok(false)` from `check_and_insert`.
    #[error("packet refused: {0}")]
    Refused(Refused),
    #[error("an earlier write to {path} failed; reopen the replay store to repair the log")]
    Broken { path: String },
}

/// A [`ReplayCache`] kept in a snapshot and an append-only log (see the module docs).
#[derive(Debug)]
pub struct ReplayStore {
    cache: ReplayCache,
    dir: PathBuf,
    log_path: PathBuf,
    log: File,
    /// Records in the log, which [`compact`](Self::compact) empties.
    log_records: u64,
    /// Records were appended since the last fsync.
    unsynced: bool,
    /// Since when (or since the last failed repair) a log write or fsync has failed, so the
    /// file may end in a partial record or miss records the kernel dropped.
    broken: Option<Instant>,
}

/// How long a broken store waits before it repairs itself again: a failing disk is not
/// rewritten for every packet that comes.
const REPAIR_EVERY: Duration = Duration::from_secs(10);

impl ReplayStore {
    /// Loads the cache from `dir` (created if missing) and opens the log for appending.
    pub fn open(dir: &Path) -> Result<Self, ReplayStoreError> {
        std::fs::create_dir_all(dir).map_err(write_error(dir))?;
        let mut cache = load_snapshot(&dir.join(SNAPSHOT_FILE))?;
        let log_path = dir.join(LOG_FILE);
        let (log, log_records) = open_log(&log_path, &mut cache)?;
        // The log may have just been created: its name must survive a crash too.
        sync_dir(dir).map_err(write_error(dir))?;
        Ok(Self {
            cache,
            dir: dir.to_path_buf(),
            log_path,
            log,
            log_records,
            unsynced: false,
            broken: None,
        })
    }

    /// Checks `tag` in `epoch` and records it if new, in the log file before returning.
    /// `Ok(true)`: fresh, process the packet. `Ok(false)`: a replay, drop it.
    /// [`ReplayStoreError::Refused`]: drop it too (metrics want the reason: a retired epoch,
    /// or too many live ones). Any other error is a disk failure.
    ///
    /// Call only after the packet's header MAC verified (see `sotto_onion::replay`).
    pub fn check_and_insert(
        &mut self,
        epoch: u64,
        tag: ReplayTag,
    ) -> Result<bool, ReplayStoreError> {
        self.check_usable()?;
        match self.cache.check_and_insert(epoch, tag) {
            Ok(()) => {
                self.append(epoch, &tag)?;
                Ok(true)
            }
            Err(Refused::Replayed { .. }) => Ok(false),
            Err(refused) => Err(ReplayStoreError::Refused(refused)),
        }
    }

    /// Fsyncs the log. Cheap when nothing was appended since the last fsync.
    pub fn flush(&mut self) -> Result<(), ReplayStoreError> {
        self.check_usable()?;
        if !self.unsynced {
            return Ok(());
        }
        let result = self.log.sync_data();
        self.log_result(result)?;
        self.unsynced = false;
        Ok(())
    }

    /// A handle to fsync the records appended since the last fsync, or `None` when there are
    /// none. The caller fsyncs it without holding the store, so packets keep flowing during
    /// the fsync; a failure must go back through [`sync_failed`](Self::sync_failed).
    pub fn take_unsynced(&mut self) -> Result<Option<UnsyncedLog>, ReplayStoreError> {
        self.check_usable()?;
        if !self.unsynced {
            return Ok(None);
        }
        let file = self.log.try_clone().map_err(write_error(&self.log_path))?;
        self.unsynced = false;
        Ok(Some(UnsyncedLog(file)))
    }

    /// Records that fsyncing an [`UnsyncedLog`] failed: after a failed fsync the kernel may
    /// have dropped the records, so the store stops accepting tags until it is reopened.
    pub fn sync_failed(&mut self, source: std::io::Error) -> ReplayStoreError {
        self.broken = Some(Instant::now());
        ReplayStoreError::Write {
            path: self.log_path.display().to_string(),
            source,
        }
    }

    /// At an onion-key rotation, or when the log grew long: forgets the epochs before
    /// `retire_before_epoch` (their keys are gone), writes a new snapshot and empties the log.
    /// Returns how many tags were dropped.
    pub fn compact(&mut self, retire_before_epoch: u64) -> Result<u64, ReplayStoreError> {
        // Everything accepted so far must be on disk in the log before the log is emptied.
        self.flush()?;
        let dropped = self.cache.retire_epochs_before(retire_before_epoch);
        self.write_snapshot()?;
        let result = self.log.set_len(0).and_then(|()| self.log.sync_data());
        // The log is opened for appending, so the next record lands at the new end, 0.
        self.log_result(result)?;
        self.log_records = 0;
        tracing::info!(
            retire_before_epoch,
            dropped,
            kept = self.cache.len(),
            "compacted the replay cache"
        );
        Ok(dropped)
    }

    /// The cache, for lookups and metrics (tags per epoch).
    pub fn cache(&self) -> &ReplayCache {
        &self.cache
    }

    /// Records in the log since the last snapshot: a relay under load compacts before the
    /// key rotates once this is large, so a restart reads a short log, not a day of records.
    pub fn log_records(&self) -> u64 {
        self.log_records
    }

    fn append(&mut self, epoch: u64, tag: &ReplayTag) -> Result<(), ReplayStoreError> {
        let result = self.log.write_all(&encode_entry(epoch, tag));
        self.log_result(result)?;
        self.log_records = self.log_records.saturating_add(1);
        self.unsynced = true;
        Ok(())
    }

    /// Replaces the snapshot atomically (`replay.snapshot.tmp`, fsynced, renamed over,
    /// directory fsynced), owner-only. A `.tmp` left by a crash during an earlier compaction
    /// is removed first: it was never renamed, so nothing depends on it.
    fn write_snapshot(&self) -> Result<(), ReplayStoreError> {
        let path = self.dir.join(SNAPSHOT_FILE);
        write_private(&path, &self.cache.encode(), Placement::Replace).map_err(write_error(&path))
    }

    /// Refuses work while the store is broken, repairing it every [`REPAIR_EVERY`]: packets
    /// are dropped (and counted) while the disk fails, and flow again once it works.
    fn check_usable(&mut self) -> Result<(), ReplayStoreError> {
        let Some(since) = self.broken else {
            return Ok(());
        };
        if since.elapsed() >= REPAIR_EVERY {
            match self.repair() {
                Ok(()) => {
                    tracing::info!("the replay store is repaired; packets flow again");
                    self.broken = None;
                    return Ok(());
                }
                Err(error) => {
                    tracing::error!(%error, "repairing the replay store failed; trying again later");
                    self.broken = Some(Instant::now());
                }
            }
        }
        Err(ReplayStoreError::Broken {
            path: self.log_path.display().to_string(),
        })
    }

    /// Makes every tag held in memory durable again whatever the log holds: a new snapshot
    /// of the whole cache, then an empty log.
    fn repair(&mut self) -> Result<(), ReplayStoreError> {
        self.write_snapshot()?;
        let log = File::options()
            .append(true)
            .open(&self.log_path)
            .and_then(|log| log.set_len(0).and_then(|()| log.sync_data()).map(|()| log))
            .map_err(write_error(&self.log_path))?;
        self.log = log;
        self.unsynced = false;
        Ok(())
    }

    /// Marks the store broken if a log write failed: the file may now end mid-record.
    fn log_result(&mut self, result: std::io::Result<()>) -> Result<(), ReplayStoreError> {
        result.map_err(|source| {
            self.broken = Some(Instant::now());
            ReplayStoreError::Write {
                path: self.log_path.display().to_string(),
                source,
            }
        })
    }
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> ReplayStoreError + '_ {
    move |source| ReplayStoreError::Write {
        path: path.display().to_string(),
        source,
    }
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> ReplayStoreError + '_ {
    move |source| ReplayStoreError::Read {
        path: path.display().to_string(),
        source,
    }
}

fn damaged(path: &Path) -> impl FnOnce(ReplayError) -> ReplayStoreError + '_ {
    move |source| ReplayStoreError::Damaged {
        path: path.display().to_string(),
        source,
    }
}

/// The file's bytes, or `None` if it does not exist (a store that never compacted has no
/// snapshot; a fresh one has no log).
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, ReplayStoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(read_error(path)(e)),
    }
}

fn load_snapshot(path: &Path) -> Result<ReplayCache, ReplayStoreError> {
    match read_optional(path)? {
        Some(bytes) => ReplayCache::decode(&bytes).map_err(damaged(path)),
        None => Ok(ReplayCache::new()),
    }
}

/// Applies the log to `cache`, cuts a torn final record off the file, and returns the file
/// opened for appending with the records it holds.
fn open_log(path: &Path, cache: &mut ReplayCache) -> Result<(File, u64), ReplayStoreError> {
    let bytes = read_optional(path)?.unwrap_or_default();
    let summary = cache.apply_log(&bytes).map_err(damaged(path))?;
    // Which packets passed this relay is for no other user of the machine.
    restrict_to_owner(path).map_err(write_error(path))?;
    let file = File::options()
        .append(true)
        .create(true)
        .open(path)
        .map_err(write_error(path))?;
    if summary.torn_tail > 0 {
        tracing::warn!(
            torn_bytes = summary.torn_tail,
            "cutting a torn final record off the replay log (a crash interrupted an append)"
        );
        let valid_len = u64::try_from(summary.valid_len).unwrap_or(u64::MAX);
        file.set_len(valid_len)
            .and_then(|()| file.sync_data())
            .map_err(write_error(path))?;
    }
    Ok((file, u64::try_from(summary.records).unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir::TempDir;
    use sotto_onion::replay::LOG_ENTRY_LEN;

    trait Files {
        fn log(&self) -> PathBuf;
        fn snapshot(&self) -> PathBuf;
    }

    impl Files for TempDir {
        fn log(&self) -> PathBuf {
            self.0.join(LOG_FILE)
        }

        fn snapshot(&self) -> PathBuf {
            self.0.join(SNAPSHOT_FILE)
        }
    }

    fn tag(n: u8) -> ReplayTag {
        [n; 32]
    }

    fn len(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    #[test]
    fn a_replayed_tag_is_refused_after_reopening() {
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        assert!(store.check_and_insert(7, tag(1)).unwrap());
        assert!(!store.check_and_insert(7, tag(1)).unwrap());
        store.flush().unwrap();
        drop(store);

        let mut store = ReplayStore::open(&dir.0).unwrap();
        assert!(!store.check_and_insert(7, tag(1)).unwrap());
        assert!(
            store.check_and_insert(8, tag(1)).unwrap(),
            "tags are per epoch"
        );
        assert_eq!(
            len(&dir.log()),
            2 * LOG_ENTRY_LEN as u64,
            "in the file before any fsync"
        );
    }

    #[test]
    fn a_killed_process_loses_no_tag_without_any_fsync() {
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        for n in 0..10 {
            store.check_and_insert(1, tag(n)).unwrap();
        }
        // A killed process runs no destructor: forget the store instead of dropping it.
        std::mem::forget(store);
        let store = ReplayStore::open(&dir.0).unwrap();
        assert!((0..10).all(|n| store.cache().contains(1, &tag(n))));
    }

    #[test]
    fn unsynced_records_are_handed_out_once() {
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        assert!(store.take_unsynced().unwrap().is_none(), "nothing written");
        store.check_and_insert(1, tag(1)).unwrap();
        store.take_unsynced().unwrap().unwrap().sync().unwrap();
        assert!(store.take_unsynced().unwrap().is_none());
        store.check_and_insert(1, tag(1)).unwrap();
        assert!(
            store.take_unsynced().unwrap().is_none(),
            "a replay writes nothing"
        );
    }

    #[test]
    fn a_failed_fsync_stops_the_store_until_reopened() {
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        store.check_and_insert(1, tag(1)).unwrap();
        let error = store.sync_failed(std::io::Error::other("disk gone"));
        assert!(error.to_string().contains("disk gone"));
        assert!(matches!(
            store.check_and_insert(1, tag(2)),
            Err(ReplayStoreError::Broken { .. })
        ));
        drop(store);
        let mut store = ReplayStore::open(&dir.0).unwrap();
        assert!(store.check_and_insert(1, tag(2)).unwrap());
    }

    /// A broken store dropped every packet until the relay restarted; now it repairs itself
    /// from the tags it holds, and nothing it accepted before is forgotten.
    #[test]
    fn a_broken_store_repairs_itself_from_what_it_holds() {
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        store.check_and_insert(1, tag(1)).unwrap();
        store.sync_failed(std::io::Error::other("disk gone"));
        // A torn record the failed write may have left.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.log())
            .unwrap()
            .write_all(&[7; 5])
            .unwrap();
        assert!(store.check_and_insert(1, tag(2)).is_err(), "not at once");
        store.broken = Instant::now().checked_sub(REPAIR_EVERY);
        assert!(store.check_and_insert(1, tag(2)).unwrap());
        assert!(!store.check_and_insert(1, tag(1)).unwrap());
        std::mem::forget(store);
        let store = ReplayStore::open(&dir.0).unwrap();
        assert!(store.cache().contains(1, &tag(1)) && store.cache().contains(1, &tag(2)));
    }

    #[cfg(unix)]
    #[test]
    fn the_replay_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        store.check_and_insert(1, tag(1)).unwrap();
        store.compact(0).unwrap();
        for file in [dir.log(), dir.snapshot()] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }

    #[test]
    fn a_torn_final_record_is_ignored_and_cut_off() {
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        store.check_and_insert(3, tag(1)).unwrap();
        store.flush().unwrap();
        drop(store);
        let torn = encode_entry(3, &tag(2));
        let mut log = File::options().append(true).open(dir.log()).unwrap();
        log.write_all(&torn[..LOG_ENTRY_LEN / 2]).unwrap();
        drop(log);

        let mut store = ReplayStore::open(&dir.0).unwrap();
        assert_eq!(len(&dir.log()), LOG_ENTRY_LEN as u64);
        assert!(store.cache().contains(3, &tag(1)));
        assert!(!store.cache().contains(3, &tag(2)));
        assert!(store.check_and_insert(3, tag(2)).unwrap());
        store.flush().unwrap();
        drop(store);

        // Appending after the cut keeps records aligned: the next start reads both.
        let store = ReplayStore::open(&dir.0).unwrap();
        assert!(store.cache().contains(3, &tag(1)));
        assert!(store.cache().contains(3, &tag(2)));
    }

    #[test]
    fn compaction_keeps_live_tags_and_drops_retired_ones() {
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        for epoch in 1..=3 {
            store.check_and_insert(epoch, tag(epoch as u8)).unwrap();
        }
        assert_eq!(store.compact(2).unwrap(), 1);
        assert_eq!(len(&dir.log()), 0);
        assert!(!dir.0.join(SNAPSHOT_TMP_FILE).exists());
        store.check_and_insert(3, tag(9)).unwrap();
        store.flush().unwrap();
        drop(store);

        let mut store = ReplayStore::open(&dir.0).unwrap();
        assert!(!store.check_and_insert(2, tag(2)).unwrap());
        assert!(!store.check_and_insert(3, tag(3)).unwrap());
        assert!(!store.check_and_insert(3, tag(9)).unwrap());
        assert!(!store.cache().contains(1, &tag(1)));
        assert!(matches!(
            store.check_and_insert(1, tag(1)),
            Err(ReplayStoreError::Refused(Refused::EpochRetired { .. }))
        ));
    }

    #[test]
    fn a_crash_between_snapshot_and_log_truncation_is_harmless() {
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        store.check_and_insert(1, tag(1)).unwrap();
        store.check_and_insert(2, tag(2)).unwrap();
        store.flush().unwrap();
        let old_log = std::fs::read(dir.log()).unwrap();
        store.compact(2).unwrap();
        drop(store);
        std::fs::write(dir.log(), old_log).unwrap();

        let store = ReplayStore::open(&dir.0).unwrap();
        assert!(store.cache().contains(2, &tag(2)));
        assert!(!store.cache().contains(1, &tag(1)));
        assert_eq!(store.cache().retired_before(), 2);
    }

    #[test]
    fn a_damaged_snapshot_is_an_error_naming_it() {
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        store.check_and_insert(1, tag(1)).unwrap();
        store.compact(0).unwrap();
        drop(store);
        let mut bytes = std::fs::read(dir.snapshot()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(dir.snapshot(), bytes).unwrap();

        let error = ReplayStore::open(&dir.0).unwrap_err();
        assert!(
            matches!(error, ReplayStoreError::Damaged { .. }),
            "{error:?}"
        );
        assert!(error
            .to_string()
            .contains(&dir.snapshot().display().to_string()));
    }

    #[test]
    fn a_damaged_log_record_is_an_error_naming_the_log() {
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        store.check_and_insert(1, tag(1)).unwrap();
        store.check_and_insert(1, tag(2)).unwrap();
        store.flush().unwrap();
        drop(store);
        let mut bytes = std::fs::read(dir.log()).unwrap();
        bytes[10] ^= 0x01;
        std::fs::write(dir.log(), bytes).unwrap();

        let error = ReplayStore::open(&dir.0).unwrap_err();
        assert!(
            matches!(error, ReplayStoreError::Damaged { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains(&dir.log().display().to_string()));
    }

    #[test]
    fn compacting_a_long_log_keeps_every_tag() {
        let dir = TempDir::new("replay-store");
        let mut store = ReplayStore::open(&dir.0).unwrap();
        for n in 0..5 {
            assert!(store.check_and_insert(1, tag(n)).unwrap());
        }
        assert_eq!(store.log_records(), 5);
        store.compact(store.cache().retired_before()).unwrap();
        assert_eq!((store.log_records(), len(&dir.log())), (0, 0));
        assert!(store.check_and_insert(1, tag(9)).unwrap());
        drop(store);
        let mut store = ReplayStore::open(&dir.0).unwrap();
        assert_eq!(store.log_records(), 1);
        for n in [0, 4, 9] {
            assert!(!store.check_and_insert(1, tag(n)).unwrap());
        }
    }
}
