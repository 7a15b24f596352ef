//! The relay's onion keys: one X25519 key per epoch, kept in `DIR/onion-keys/<epoch>.key`.
//!
//! # Why per epoch
//!
//! Epochs are aligned to unix time and shared by the whole network (epoch `e` starts at
//! `e * epoch_secs`, see `sotto_onion::directory`), so a relay knows when to rotate without
//! asking anyone and the network file can carry each relay's current and next key. Retiring a
//! key is what bounds the replay cache: once a key is gone, packets for it are refused anyway,
//! so their replay tags can be dropped (see `sotto_onion::replay`). Deleting the secret also
//! gives forward secrecy: recorded packets for a retired epoch cannot be peeled later.
//!
//! # Which keys are kept, and when each is accepted
//!
//! - **next**: published ahead in the network file, so clients can build packets across the
//!   rotation without fetching a new file first; accepted only in the last
//!   [`KEY_GRACE_SECS`] before its epoch starts (a client whose clock runs a little ahead);
//! - **current**: what clients normally use, accepted all epoch and tried first;
//! - **previous**: a packet built just before the rotation may arrive just after it, so it is
//!   accepted for [`KEY_GRACE_SECS`] into the new epoch, then retired.
//!
//! So a key is accepted for `epoch_secs + 2 × KEY_GRACE_SECS` at most, which with the relay's
//! peel budget bounds the replay tags it can collect, and most of the time a packet costs one
//! key agreement rather than one per held key, junk included.
//!
//! [`OnionKeys::rotate`] deletes every key older than the current epoch that is no longer
//! accepted. Keys of epochs later than the next one (left by a clock that moved backwards)
//! are kept: they may have been published, and they become ordinary keys when their epoch
//! comes.
//!
//! # Files
//!
//! `DIR/onion-keys/` (mode 0700 when this module creates it) holds one file per epoch,
//! `<epoch>.key` (decimal epoch, no leading zeros), containing the 64 hex digits of the 32-byte
//! X25519 secret, mode 0600, like `identity.key`. A key is written to `<epoch>.key.tmp`,
//! fsynced, then renamed into place and the directory fsynced (`sotto_quic::write_private`): a crash halfway
//! leaves only a `.tmp` file, which was never used nor published, and which the next
//! [`OnionKeys::open`] deletes. Writing `<epoch>.key` directly would leave a torn key file that
//! the next start could not tell from damage. Any other file in the directory is refused with an
//! error naming it, rather than ignored, so that nothing unexpected sits next to secrets.
//!
//! Secrets never appear in `Debug` output or logs: the `Debug` of [`OnionKeys`] shows epochs
//! and public keys only.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use sotto_onion::directory::OnionKey;
use sotto_quic::{sync_dir, write_private, Placement, UNFINISHED_SUFFIX};
use sphinx_packet::crypto::{PrivateKey, PublicKey};
use thiserror::Error;

/// How long before its epoch a key is accepted, and after it: clocks differ and packets take
/// time on their way. A host refuses requests whose timestamp is further off than this
/// anyway (STALE, protocol §11), so a wider window would buy nothing but replay memory.
pub const KEY_GRACE_SECS: u64 = 600;

/// The directory under the relay's data directory that holds the onion keys.
pub const ONION_KEYS_DIR: &str = "onion-keys";

const KEY_SUFFIX: &str = ".key";
/// 64 hex digits plus room for a trailing newline from an editor; anything longer is not a key,
/// and reading stops there so a huge file cannot exhaust memory.
const MAX_KEY_FILE_LEN: u64 = 128;

#[derive(Debug, Error)]
pub enum OnionKeyError {
    #[error("epoch_secs must be at least 1, not 0")]
    EpochSecs,
    #[error("cannot use the onion key directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read the onion key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the onion key {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot delete the retired onion key {path}: {source}")]
    Delete {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path} does not belong in the onion key directory: only <epoch>.key files \
         (decimal epoch, no leading zeros) are kept there"
    )]
    Name { path: String },
    #[error("onion key file {path} must hold 64 hex digits")]
    Format { path: String },
}

/// One epoch's key pair. The secret zeroizes itself when dropped.
struct KeyPair {
    secret: PrivateKey,
    public: [u8; 32],
}

impl KeyPair {
    fn new(secret: PrivateKey) -> Self {
        let public = PublicKey::from(&secret).to_bytes();
        Self { secret, public }
    }
}

/// The relay's onion keys by epoch, mirrored in `DIR/onion-keys/`.
pub struct OnionKeys {
    dir: PathBuf,
    epoch_secs: u64,
    keys: BTreeMap<u64, KeyPair>,
}

impl fmt::Debug for OnionKeys {
    /// Epochs and public keys only: this must never print a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let public: BTreeMap<u64, String> = self
            .keys
            .iter()
            .map(|(epoch, pair)| (*epoch, hex::encode(pair.public)))
            .collect();
        f.debug_struct("OnionKeys")
            .field("dir", &self.dir)
            .field("epoch_secs", &self.epoch_secs)
            .field("public_keys", &public)
            .finish()
    }
}

impl OnionKeys {
    /// Loads the keys under `data_dir/onion-keys/` (creating the directory if needed) and makes
    /// sure the current and the next epoch have a key, generating random ones otherwise. Keys
    /// older than the previous epoch are left for [`OnionKeys::rotate`] to retire, so that the
    /// caller learns which epochs went and can retire them from the replay store too: call
    /// `rotate(now)` right after opening.
    pub fn open(data_dir: &Path, epoch_secs: u64, now_secs: u64) -> Result<Self, OnionKeyError> {
        if epoch_secs == 0 {
            return Err(OnionKeyError::EpochSecs);
        }
        let dir = data_dir.join(ONION_KEYS_DIR);
        create_private_dir(&dir)?;
        let mut keys = Self {
            keys: load_dir(&dir)?,
            dir,
            epoch_secs,
        };
        keys.ensure_current_and_next(now_secs)?;
        Ok(keys)
    }

    /// Call at every epoch boundary and again [`KEY_GRACE_SECS`] later (calling more often is
    /// harmless): creates the keys of the current and next epoch if missing, then deletes the
    /// keys of past epochs that are no longer accepted.
    /// Returns the retired epochs, ascending, for the caller to retire from the replay store.
    /// New keys are written before old ones are deleted, so a crash in between leaves extra
    /// keys, which the next call deletes, never missing ones.
    pub fn rotate(&mut self, now_secs: u64) -> Result<Vec<u64>, OnionKeyError> {
        self.ensure_current_and_next(now_secs)?;
        let current = self.current_epoch(now_secs);
        let accepted = self.accepted_epochs(now_secs);
        let retired: Vec<u64> = self
            .keys
            .range(..current)
            .map(|(e, _)| *e)
            .filter(|e| !accepted.contains(e))
            .collect();
        for epoch in &retired {
            self.delete(*epoch)?;
        }
        if !retired.is_empty() {
            sync_dir(&self.dir).map_err(|source| OnionKeyError::Delete {
                path: self.dir.display().to_string(),
                source,
            })?;
            tracing::info!(?retired, "retired onion keys");
        }
        Ok(retired)
    }

    /// The epoch in use at `now_secs`.
    pub fn current_epoch(&self, now_secs: u64) -> u64 {
        // `open` refuses an epoch_secs of 0, so this cannot divide by zero.
        now_secs / self.epoch_secs
    }

    pub fn epoch_secs(&self) -> u64 {
        self.epoch_secs
    }

    /// The X25519 secret of `epoch`, to peel packets with.
    pub fn secret(&self, epoch: u64) -> Option<[u8; 32]> {
        self.keys.get(&epoch).map(|pair| pair.secret.to_bytes())
    }

    /// The X25519 public key of `epoch`.
    pub fn public(&self, epoch: u64) -> Option<[u8; 32]> {
        self.keys.get(&epoch).map(|pair| pair.public)
    }

    /// The directory entry for `epoch`, with `valid_from = epoch * epoch_secs`, for writing the
    /// network file. `None` without a key, or if the epoch begins later than a network file can
    /// hold.
    pub fn onion_key(&self, epoch: u64) -> Option<OnionKey> {
        OnionKey::for_epoch(epoch, self.epoch_secs, self.public(epoch)?)
    }

    /// The epochs whose packets the relay processes at `now_secs`, each only if its key is
    /// held, the current one first (it opens almost every packet): the previous one for
    /// [`KEY_GRACE_SECS`] after the rotation, the next one for as long before it.
    pub fn accepted_epochs(&self, now_secs: u64) -> Vec<u64> {
        let current = self.current_epoch(now_secs);
        let into = now_secs % self.epoch_secs;
        let left = self.epoch_secs - into;
        [
            Some(current),
            current.checked_sub(1).filter(|_| into < KEY_GRACE_SECS),
            current.checked_add(1).filter(|_| left <= KEY_GRACE_SECS),
        ]
        .into_iter()
        .flatten()
        .filter(|epoch| self.keys.contains_key(epoch))
        .collect()
    }

    /// Epochs with a key, ascending.
    pub fn epochs(&self) -> impl Iterator<Item = u64> + '_ {
        self.keys.keys().copied()
    }

    fn ensure_current_and_next(&mut self, now_secs: u64) -> Result<(), OnionKeyError> {
        let current = self.current_epoch(now_secs);
        // At the very end of u64 time there is no next epoch; the current key still works.
        for epoch in [Some(current), current.checked_add(1)]
            .into_iter()
            .flatten()
        {
            if !self.keys.contains_key(&epoch) {
                self.generate(epoch)?;
            }
        }
        Ok(())
    }

    fn generate(&mut self, epoch: u64) -> Result<(), OnionKeyError> {
        let secret = PrivateKey::random();
        write_key(&self.dir, epoch, &secret)?;
        self.keys.insert(epoch, KeyPair::new(secret));
        tracing::info!(epoch, "generated onion key");
        Ok(())
    }

    fn delete(&mut self, epoch: u64) -> Result<(), OnionKeyError> {
        let path = key_path(&self.dir, epoch);
        match std::fs::remove_file(&path) {
            // Already gone (deleted by hand, or by a run that crashed before forgetting it) is
            // the state we want.
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(OnionKeyError::Delete {
                    path: path.display().to_string(),
                    source: e,
                })
            }
            _ => {}
        }
        self.keys.remove(&epoch);
        Ok(())
    }
}

fn key_path(dir: &Path, epoch: u64) -> PathBuf {
    dir.join(format!("{epoch}{KEY_SUFFIX}"))
}

fn dir_error(dir: &Path) -> impl FnOnce(std::io::Error) -> OnionKeyError + '_ {
    move |source| OnionKeyError::Dir {
        path: dir.display().to_string(),
        source,
    }
}

/// Creates the key directory readable by the owner only (on Unix), like the key files in it.
fn create_private_dir(dir: &Path) -> Result<(), OnionKeyError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(dir_error(dir))
}

/// What a directory entry's name says it is.
enum Entry {
    Key(u64),
    /// A key whose writing was interrupted: never renamed into place, so never used.
    Unfinished,
}

fn load_dir(dir: &Path) -> Result<BTreeMap<u64, KeyPair>, OnionKeyError> {
    let mut keys = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(dir_error(dir))? {
        let path = entry.map_err(dir_error(dir))?.path();
        match classify(&path)? {
            Entry::Key(epoch) => {
                keys.insert(epoch, KeyPair::new(read_key(&path)?));
            }
            Entry::Unfinished => remove_unfinished(&path)?,
        }
    }
    Ok(keys)
}

fn classify(path: &Path) -> Result<Entry, OnionKeyError> {
    let name_error = || OnionKeyError::Name {
        path: path.display().to_string(),
    };
    if !path.is_file() {
        return Err(name_error());
    }
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(name_error)?;
    if name
        .strip_suffix(UNFINISHED_SUFFIX)
        .and_then(|name| name.strip_suffix(KEY_SUFFIX))
        .and_then(parse_epoch)
        .is_some()
    {
        return Ok(Entry::Unfinished);
    }
    name.strip_suffix(KEY_SUFFIX)
        .and_then(parse_epoch)
        .map(Entry::Key)
        .ok_or_else(name_error)
}

/// A decimal epoch in its one canonical spelling, so that `7.key` and `07.key` cannot both
/// claim epoch 7.
fn parse_epoch(text: &str) -> Option<u64> {
    let canonical = text.bytes().all(|b| b.is_ascii_digit())
        && !text.is_empty()
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

fn remove_unfinished(path: &Path) -> Result<(), OnionKeyError> {
    tracing::warn!(path = %path.display(), "deleting an onion key left unfinished by a crash");
    std::fs::remove_file(path).map_err(|source| OnionKeyError::Delete {
        path: path.display().to_string(),
        source,
    })
}

fn read_key(path: &Path) -> Result<PrivateKey, OnionKeyError> {
    let read_error = |source| OnionKeyError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut text = Vec::new();
    std::fs::File::open(path)
        .map_err(read_error)?
        .take(MAX_KEY_FILE_LEN)
        .read_to_end(&mut text)
        .map_err(read_error)?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim_ascii(), &mut bytes).map_err(|_| OnionKeyError::Format {
        path: path.display().to_string(),
    })?;
    Ok(PrivateKey::from(bytes))
}

/// Writes `secret` as `<epoch>.key` through a `.tmp` file, see the module docs.
fn write_key(dir: &Path, epoch: u64, secret: &PrivateKey) -> Result<(), OnionKeyError> {
    let path = key_path(dir, epoch);
    // `open` loaded every key in the directory and this epoch had none, so the replacement
    // replaces nothing; it is for the rename, which makes a key appear whole or not at all.
    // The relay is the only writer of its data directory.
    let hex = hex::encode(secret.as_bytes());
    write_private(&path, hex.as_bytes(), Placement::Replace).map_err(|source| {
        OnionKeyError::Write {
            path: path.display().to_string(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir::TempDir;

    const EPOCH_SECS: u64 = 3600;

    trait Files {
        fn keys_dir(&self) -> PathBuf;
    }

    impl Files for TempDir {
        fn keys_dir(&self) -> PathBuf {
            self.0.join(ONION_KEYS_DIR)
        }
    }

    fn at(epoch: u64) -> u64 {
        epoch * EPOCH_SECS + EPOCH_SECS / 2
    }

    fn start(epoch: u64) -> u64 {
        epoch * EPOCH_SECS
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn open_creates_the_current_and_next_key() {
        let dir = TempDir::new("onion-keys");
        let keys = OnionKeys::open(&dir.0, EPOCH_SECS, at(100)).unwrap();
        assert_eq!(keys.epochs().collect::<Vec<_>>(), vec![100, 101]);
        assert_eq!(keys.current_epoch(at(100)), 100);
        assert_eq!(files(&dir.keys_dir()), vec!["100.key", "101.key"]);
        assert_ne!(keys.secret(100), keys.secret(101));
        assert_eq!(keys.secret(99), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.keys_dir().join("100.key")), 0o600);
            assert_eq!(mode(&dir.keys_dir()), 0o700);
        }
    }

    #[test]
    fn keys_survive_reopen() {
        let dir = TempDir::new("onion-keys");
        let first = OnionKeys::open(&dir.0, EPOCH_SECS, at(100)).unwrap();
        let again = OnionKeys::open(&dir.0, EPOCH_SECS, at(100)).unwrap();
        for epoch in [100, 101] {
            assert!(first.secret(epoch).is_some());
            assert_eq!(first.secret(epoch), again.secret(epoch));
            assert_eq!(first.public(epoch), again.public(epoch));
        }
        let text = std::fs::read_to_string(dir.keys_dir().join("100.key")).unwrap();
        assert_eq!(text, hex::encode(first.secret(100).unwrap()));
    }

    #[test]
    fn public_key_matches_secret_and_directory_entry() {
        let dir = TempDir::new("onion-keys");
        let keys = OnionKeys::open(&dir.0, EPOCH_SECS, at(7)).unwrap();
        let secret = PrivateKey::from(keys.secret(8).unwrap());
        let public = PublicKey::from(&secret).to_bytes();
        assert_eq!(keys.public(8), Some(public));
        assert_eq!(
            keys.onion_key(8),
            Some(OnionKey {
                epoch: 8,
                valid_from: 8 * EPOCH_SECS,
                public_key: public,
            })
        );
        assert_eq!(keys.onion_key(9), None);
    }

    #[test]
    fn rotation_keeps_current_and_next_and_deletes_what_is_no_longer_accepted() {
        let dir = TempDir::new("onion-keys");
        let mut keys = OnionKeys::open(&dir.0, EPOCH_SECS, at(100)).unwrap();
        let key_101 = keys.secret(101);
        assert_eq!(keys.rotate(at(100)).unwrap(), Vec::<u64>::new());

        assert_eq!(keys.rotate(start(101)).unwrap(), Vec::<u64>::new());
        assert_eq!(keys.accepted_epochs(start(101)), vec![101, 100]);
        assert_eq!(keys.secret(101), key_101, "rotation never replaces a key");

        assert_eq!(keys.rotate(at(102)).unwrap(), vec![100, 101]);
        assert_eq!(keys.accepted_epochs(at(102)), vec![102]);
        assert_eq!(keys.secret(100), None);
        assert_eq!(files(&dir.keys_dir()), vec!["102.key", "103.key"]);

        let reopened = OnionKeys::open(&dir.0, EPOCH_SECS, at(102)).unwrap();
        assert_eq!(reopened.epochs().collect::<Vec<_>>(), vec![102, 103]);
    }

    /// Each key is accepted for its epoch and a grace on either side, not for three epochs:
    /// that bounds what its replay cache must hold and what a junk packet costs to try.
    #[test]
    fn keys_are_accepted_only_near_their_epoch() {
        let dir = TempDir::new("onion-keys");
        let mut keys = OnionKeys::open(&dir.0, EPOCH_SECS, at(100)).unwrap();
        keys.rotate(start(101)).unwrap();
        let grace = KEY_GRACE_SECS;
        assert_eq!(keys.accepted_epochs(start(101) + grace - 1), vec![101, 100]);
        assert_eq!(keys.accepted_epochs(start(101) + grace), vec![101]);
        assert_eq!(keys.accepted_epochs(start(102) - grace - 1), vec![101]);
        assert_eq!(keys.accepted_epochs(start(102) - grace), vec![101, 102]);
        // The previous key goes once its grace is over, so its replay tags can go too.
        assert_eq!(keys.rotate(start(101) + grace).unwrap(), vec![100]);
        assert_eq!(files(&dir.keys_dir()), vec!["101.key", "102.key"]);
    }

    #[test]
    fn rotation_after_a_long_stop_retires_every_stale_key() {
        let dir = TempDir::new("onion-keys");
        let mut keys = OnionKeys::open(&dir.0, EPOCH_SECS, at(100)).unwrap();
        keys.rotate(start(101)).unwrap();
        let mut keys = OnionKeys::open(&dir.0, EPOCH_SECS, at(110)).unwrap();
        assert_eq!(keys.rotate(at(110)).unwrap(), vec![100, 101, 102]);
        assert_eq!(keys.accepted_epochs(at(110)), vec![110]);
        assert_eq!(files(&dir.keys_dir()), vec!["110.key", "111.key"]);
    }

    #[test]
    fn an_unfinished_key_is_deleted_at_open() {
        let dir = TempDir::new("onion-keys");
        OnionKeys::open(&dir.0, EPOCH_SECS, at(5)).unwrap();
        std::fs::write(dir.keys_dir().join("6.key.tmp"), "12ab").unwrap();
        OnionKeys::open(&dir.0, EPOCH_SECS, at(5)).unwrap();
        assert_eq!(files(&dir.keys_dir()), vec!["5.key", "6.key"]);
    }

    #[test]
    fn a_damaged_key_is_an_error_naming_the_file() {
        for content in ["not hex", "abcd", &"0".repeat(66), &"a".repeat(4096)] {
            let dir = TempDir::new("onion-keys");
            OnionKeys::open(&dir.0, EPOCH_SECS, at(5)).unwrap();
            let path = dir.keys_dir().join("5.key");
            std::fs::remove_file(&path).unwrap();
            std::fs::write(&path, content).unwrap();
            let error = OnionKeys::open(&dir.0, EPOCH_SECS, at(5)).unwrap_err();
            assert!(matches!(error, OnionKeyError::Format { .. }), "{error:?}");
            assert!(error.to_string().contains(&path.display().to_string()));
        }
    }

    #[test]
    fn a_key_with_a_trailing_newline_loads() {
        let dir = TempDir::new("onion-keys");
        let keys = OnionKeys::open(&dir.0, EPOCH_SECS, at(5)).unwrap();
        let path = dir.keys_dir().join("5.key");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}\n")).unwrap();
        let again = OnionKeys::open(&dir.0, EPOCH_SECS, at(5)).unwrap();
        assert_eq!(again.secret(5), keys.secret(5));
    }

    #[test]
    fn a_stray_file_is_an_error_naming_it() {
        for name in ["notes.txt", "07.key", "x.key", "18446744073709551616.key"] {
            let dir = TempDir::new("onion-keys");
            OnionKeys::open(&dir.0, EPOCH_SECS, at(5)).unwrap();
            let path = dir.keys_dir().join(name);
            std::fs::write(&path, "").unwrap();
            let error = OnionKeys::open(&dir.0, EPOCH_SECS, at(5)).unwrap_err();
            assert!(matches!(error, OnionKeyError::Name { .. }), "{error:?}");
            assert!(error.to_string().contains(&path.display().to_string()));
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let dir = TempDir::new("onion-keys");
        let keys = OnionKeys::open(&dir.0, EPOCH_SECS, at(5)).unwrap();
        let debug = format!("{keys:?}");
        for epoch in [5, 6] {
            assert!(!debug.contains(&hex::encode(keys.secret(epoch).unwrap())));
            assert!(debug.contains(&hex::encode(keys.public(epoch).unwrap())));
        }
    }

    #[test]
    fn zero_epoch_secs_is_refused() {
        let dir = TempDir::new("onion-keys");
        assert!(matches!(
            OnionKeys::open(&dir.0, 0, 0),
            Err(OnionKeyError::EpochSecs)
        ));
    }
}
