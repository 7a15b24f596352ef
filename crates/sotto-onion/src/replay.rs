//! The replay-tag cache: a mix's memory of which Sphinx packets it has already processed.
//!
//! # Why
//!
//! Processing the same Sphinx packet twice yields the same outgoing packet to the same next
//! hop. An observer who copies a packet going into a mix and sends it in again can watch for
//! the repeated output and so link the mix's input to its output, which is the one thing a mix
//! exists to prevent. Every mix therefore remembers a tag for each packet it has processed and
//! drops any packet whose tag it has seen.
//!
//! # The tag
//!
//! `sphinx-packet` 0.8.0 derives one for us: [`ExpandedSharedSecret::replay_tag`] is the "h_τ"
//! output (32 bytes, [`REPLAY_TAG_SIZE`]) of HKDF-SHA256 over the Diffie-Hellman secret of the
//! packet's group element (alpha) and the mix's onion key. It depends only on alpha and the
//! key, so a replayed copy gives the same tag even if the attacker altered the rest of the
//! header or the payload, and only the mix and the packet's sender can compute it. This module
//! takes it as an opaque [`ReplayTag`] and does no cryptography of its own. The packet module
//! does:
//!
//! ```text
//! // `onion_key` is the x25519 secret of onion-key epoch `epoch`.
//! let expanded = packet.header.compute_expanded_shared_secret(&onion_key);
//! packet.header.ensure_header_integrity(&expanded)?; // MAC first, see below
//! cache.check_and_insert(epoch, *expanded.replay_tag())?; // replay: drop the packet
//! log.append(&replay::encode_entry(epoch, expanded.replay_tag())); // before forwarding
//! let processed = packet.process_with_expanded_secret(&expanded)?;
//! ```
//!
//! The tag is inserted only after the header MAC has verified. Only then do we know that the
//! packet was built for this key (a relay that still accepts last epoch's key tries each key
//! and the MAC says which one fits, which is the epoch to pass). It also means a tampered copy
//! that arrives first cannot burn the genuine packet's tag.
//!
//! # Bounded by key rotation, not by forgetting
//!
//! Tags are kept per onion-key epoch. A tag matters only as long as packets for its key are
//! accepted. Once the key is retired such packets are refused anyway, so
//! [`ReplayCache::retire_epochs_before`] drops that epoch's tags all at once. Memory is at most
//! [`MAX_LIVE_EPOCHS`] times the per-epoch cap times 32 bytes (plus tree overhead).
//!
//! The per-epoch cap is a hard limit. When an epoch is full, [`ReplayCache::check_and_insert`]
//! returns [`Refused::EpochFull`] and the relay drops the packet. It does not evict old tags:
//! evicting would reopen exactly the replay this cache stops, because an attacker could flood the
//! mix until the tag it wants to replay is evicted. A full cache costs availability until the
//! next rotation, never unlinkability. Size the cap from the key lifetime and the peak packet
//! rate.
//!
//! # Persistence without I/O
//!
//! A restarted mix that forgot its tags would accept replays of everything it had processed
//! under the still-valid keys. The relay shell therefore persists the cache in two files, and
//! this module only turns them into bytes and back:
//!
//! - a **snapshot**, [`ReplayCache::encode`] / [`ReplayCache::decode`]: the whole cache in a
//!   versioned, checksummed format (see [`SNAPSHOT_MAGIC`]). Write it to a temporary file, fsync
//!   it and rename it over the old one, so a crash leaves either the old or the new snapshot;
//! - an **append-only log**, [`encode_entry`] / [`ReplayCache::apply_log`]: one fixed-size,
//!   checksummed record per accepted tag (see [`LOG_ENTRY_LEN`]), appended before the packet is
//!   forwarded. A crash can tear the last record; `apply_log` ignores a torn final record
//!   but rejects anything damaged before it.
//!
//! On start: decode the snapshot (or [`ReplayCache::new`] if there is none), apply the log, and
//! **truncate the log file to [`LogSummary::valid_len`]** before appending to it again.
//! Otherwise new records land after the torn bytes, every later record is misaligned, and
//! the next start rejects the log as garbage.
//!
//! At each epoch rotation, compact: retire the old epochs, write a new snapshot, then truncate
//! the log to zero. A crash between those two steps is harmless: replaying the old log into the
//! new snapshot skips tags it already holds and tags of retired epochs.
//!
//! Both formats hold only the tags, never key material. Tags are not secret (they are
//! one-way outputs of the key exchange), but [`ReplayCache`]'s `Debug` prints only counts so
//! logs do not fill up with them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

#[cfg(doc)]
use sphinx_packet::{constants::REPLAY_TAG_SIZE, header::shared_secret::ExpandedSharedSecret};

/// Length of a replay tag: `sphinx_packet::constants::REPLAY_TAG_SIZE` (checked at compile time
/// so a change in the crate cannot silently break the stored formats).
pub const TAG_LEN: usize = 32;

const _: () = assert!(TAG_LEN == sphinx_packet::constants::REPLAY_TAG_SIZE);

/// A packet's replay tag for one onion key: `*ExpandedSharedSecret::replay_tag()`.
pub type ReplayTag = [u8; TAG_LEN];

/// The most onion-key epochs the cache holds at once. A relay normally has one or two
/// live keys. This limit keeps memory bounded even if the shell forgets to retire epochs: new
/// epochs are then refused ([`Refused::TooManyEpochs`]), which is loud, instead of the cache
/// growing without end.
pub const MAX_LIVE_EPOCHS: usize = 64;

/// First bytes of a snapshot.
///
/// Snapshot layout, version [`SNAPSHOT_VERSION`], all integers big-endian:
///
/// | bytes | field |
/// |---|---|
/// | 4 | magic `SRPL` |
/// | 1 | version (1) |
/// | 4 | cap: max tags per epoch, u32 |
/// | 8 | retired_before: epochs below this are refused, u64 |
/// | 4 | epoch count, u32, at most [`MAX_LIVE_EPOCHS`] |
/// | per epoch, epochs strictly ascending: | |
/// | 8 | epoch, u64, not below retired_before |
/// | 4 | tag count, u32, 1..=cap |
/// | 32 × count | tags, strictly ascending (sorted, no duplicates) |
/// | 4 | CRC-32 (ISO-HDLC) of every byte before it |
///
/// The cap travels in the snapshot so that decoding can check the counts against it. The
/// canonical form (sorted, no empty epochs, no trailing bytes) means one cache has exactly one
/// encoding, which the tests rely on.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"SRPL";

/// The snapshot format version this build writes and reads.
pub const SNAPSHOT_VERSION: u8 = 1;

/// First bytes of every log record. They include the record version (`1`), because records
/// carry no file header: a log is just records one after another, so an empty file is a valid
/// empty log.
pub const LOG_ENTRY_MAGIC: [u8; 4] = *b"SRT1";

/// Size of one log record: magic `SRT1` (4), epoch u64 big-endian (8), tag (32), CRC-32
/// (ISO-HDLC) of the preceding 44 bytes (4).
///
/// Epoch and tag alone would be 40 bytes, but any 40 bytes would then be a valid record and
/// damage in the middle of a log could not be told from data. The magic and checksum give
/// each record enough redundancy to reject corruption. The checksum guards against torn
/// writes and bit rot, not an adversary: whoever can write the relay's state directory
/// controls the relay anyway.
pub const LOG_ENTRY_LEN: usize = 48;

const SNAPSHOT_HEADER_LEN: usize = 4 + 1 + 4 + 8 + 4;
const EPOCH_HEADER_LEN: usize = 8 + 4;
const CHECKSUM_LEN: usize = 4;

/// Why [`ReplayCache::check_and_insert`] refused a packet. In every case the relay drops the
/// packet. The variants differ for metrics and for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The tag is already known: this packet was processed before.
    #[error("replayed packet: its tag is already known for onion-key epoch {epoch}")]
    Replayed {
        /// The epoch the tag was checked in.
        epoch: u64,
    },
    /// The epoch holds its cap of tags. Forgetting one to make room would allow replays, so new
    /// packets are refused until the key rotates.
    #[error("replay cache for onion-key epoch {epoch} is full ({cap} tags); dropping new packets until the key rotates")]
    EpochFull {
        /// The full epoch.
        epoch: u64,
        /// The per-epoch cap.
        cap: u32,
    },
    /// The epoch was retired. Its tags are gone, so the packet cannot be checked and must not be
    /// processed. The relay should not hold this key any more.
    #[error("onion-key epoch {epoch} is retired (epochs before {retired_before} are refused)")]
    EpochRetired {
        /// The epoch asked for.
        epoch: u64,
        /// Epochs below this are retired.
        retired_before: u64,
    },
    /// Starting this epoch would exceed [`MAX_LIVE_EPOCHS`]. Old epochs were not retired.
    #[error(
        "cannot start onion-key epoch {epoch}: {limit} epochs are live already; retire old epochs"
    )]
    TooManyEpochs {
        /// The epoch asked for.
        epoch: u64,
        /// [`MAX_LIVE_EPOCHS`].
        limit: usize,
    },
}

/// Why a snapshot or a log could not be loaded. On any of these the relay should refuse to start
/// rather than run with an empty cache, which would accept replays. Each variant says what was
/// wrong so the operator can decide what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The snapshot ends early.
    #[error("replay snapshot truncated: {what} needs {needed} more bytes")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// How many bytes were missing.
        needed: usize,
    },
    /// The snapshot does not start with [`SNAPSHOT_MAGIC`].
    #[error("not a replay snapshot: starts with {found:02x?}, expected {SNAPSHOT_MAGIC:02x?}")]
    BadMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// The snapshot has a version this build cannot read.
    #[error("replay snapshot version {found} is not supported (this build reads version {SNAPSHOT_VERSION})")]
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
    },
    /// More epochs than [`MAX_LIVE_EPOCHS`].
    #[error("replay snapshot holds {count} epochs, more than the limit of {limit}")]
    TooManyEpochs {
        /// The epoch count found (snapshot) or reached (log).
        count: usize,
        /// [`MAX_LIVE_EPOCHS`].
        limit: usize,
    },
    /// Epochs are not in strictly ascending order (this includes an epoch listed twice).
    #[error("replay snapshot epochs out of order: {epoch} follows {previous}")]
    EpochsOutOfOrder {
        /// The epoch before.
        previous: u64,
        /// The epoch that should have been larger.
        epoch: u64,
    },
    /// A snapshot lists tags of an epoch it also declares retired.
    #[error(
        "replay snapshot lists epoch {epoch}, which it declares retired (before {retired_before})"
    )]
    RetiredEpoch {
        /// The listed epoch.
        epoch: u64,
        /// The snapshot's retirement bound.
        retired_before: u64,
    },
    /// An epoch with no tags. The encoder never writes one.
    #[error("replay snapshot lists epoch {epoch} with no tags")]
    EmptyEpoch {
        /// The empty epoch.
        epoch: u64,
    },
    /// An epoch holds more tags than the snapshot's cap.
    #[error("replay snapshot epoch {epoch} holds {count} tags, more than its cap of {cap}")]
    OverCap {
        /// The epoch.
        epoch: u64,
        /// The tag count found.
        count: u32,
        /// The snapshot's cap.
        cap: u32,
    },
    /// A tag is smaller than the one before it.
    #[error("replay snapshot epoch {epoch}: tag {index} is out of order")]
    UnsortedTags {
        /// The epoch.
        epoch: u64,
        /// Position of the offending tag within the epoch.
        index: u32,
    },
    /// A tag equals the one before it.
    #[error("replay snapshot epoch {epoch}: tag {index} is a duplicate")]
    DuplicateTag {
        /// The epoch.
        epoch: u64,
        /// Position of the offending tag within the epoch.
        index: u32,
    },
    /// Bytes after the checksum.
    #[error("replay snapshot has {extra} bytes after its end")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The snapshot is well-formed but its checksum does not match: it was damaged on disk.
    #[error("replay snapshot checksum mismatch: stored {stored:08x}, computed {computed:08x}")]
    ChecksumMismatch {
        /// The checksum in the snapshot.
        stored: u32,
        /// The checksum of the bytes.
        computed: u32,
    },
    /// A log record (or the start of a torn final one) does not begin with [`LOG_ENTRY_MAGIC`].
    #[error("replay log damaged: record at byte {offset} does not start with the record magic")]
    LogBadMagic {
        /// Byte offset of the record in the log.
        offset: usize,
    },
    /// A complete log record fails its checksum.
    #[error("replay log damaged: record at byte {offset} fails its checksum")]
    LogChecksumMismatch {
        /// Byte offset of the record in the log.
        offset: usize,
    },
    /// Applying the log would put more tags in an epoch than the cache's cap. The log was not
    /// written under this cap.
    #[error("replay log would put more than {cap} tags in epoch {epoch}")]
    LogOverCap {
        /// The epoch.
        epoch: u64,
        /// The cache's cap.
        cap: u32,
    },
}

/// What [`ReplayCache::apply_log`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogSummary {
    /// Complete records read.
    pub records: usize,
    /// Tags that were new and are now in the cache.
    pub inserted: usize,
    /// Tags already in the cache (the snapshot already had them) or repeated in the log.
    pub already_known: usize,
    /// Tags of retired epochs, skipped.
    pub retired: usize,
    /// Length of the intact part of the log. The shell must truncate the log file to this
    /// length before appending to it.
    pub valid_len: usize,
    /// Bytes of a torn final record that were ignored (`0` if the log ended cleanly).
    pub torn_tail: usize,
}

/// The tags a mix has seen, per onion-key epoch. Pure data: the relay shell persists it (see the
/// module docs).
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayCache {
    /// Hard cap on tags per epoch.
    cap: u32,
    /// Epochs below this are retired. Kept even when no epoch is cached, so a retired key's packets
    /// are refused instead of starting a fresh, empty set for it.
    retired_before: u64,
    /// Ordered sets give the snapshot its sorted tags without a separate sort. A lookup
    /// costs about 20 comparisons at millions of tags, small next to the packet's X25519
    /// exchange.
    epochs: BTreeMap<u64, BTreeSet<ReplayTag>>,
}

impl fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: BTreeMap<u64, usize> = self.epochs.iter().map(|(e, t)| (*e, t.len())).collect();
        f.debug_struct("ReplayCache")
            .field("cap", &self.cap)
            .field("retired_before", &self.retired_before)
            .field("tags_per_epoch", &counts)
            .finish()
    }
}

impl ReplayCache {
    /// An empty cache holding at most `max_entries_per_epoch` tags per epoch. A cap of 0
    /// refuses every packet.
    pub fn new(max_entries_per_epoch: u32) -> Self {
        Self {
            cap: max_entries_per_epoch,
            retired_before: 0,
            epochs: BTreeMap::new(),
        }
    }

    /// Checks `tag` in `epoch` and remembers it if it is new. `Ok(())` means the packet may be
    /// processed, and the shell should now append [`encode_entry`] to its log. Any `Err` means
    /// drop the packet.
    ///
    /// A replay is reported as [`Refused::Replayed`] even when the epoch is full, so metrics
    /// count replays correctly.
    pub fn check_and_insert(&mut self, epoch: u64, tag: ReplayTag) -> Result<(), Refused> {
        if epoch < self.retired_before {
            return Err(Refused::EpochRetired {
                epoch,
                retired_before: self.retired_before,
            });
        }
        let cap = self.cap_usize();
        match self.epochs.get_mut(&epoch) {
            Some(tags) => {
                if tags.contains(&tag) {
                    return Err(Refused::Replayed { epoch });
                }
                if tags.len() >= cap {
                    return Err(Refused::EpochFull {
                        epoch,
                        cap: self.cap,
                    });
                }
                tags.insert(tag);
            }
            None => {
                if cap == 0 {
                    return Err(Refused::EpochFull {
                        epoch,
                        cap: self.cap,
                    });
                }
                if self.epochs.len() >= MAX_LIVE_EPOCHS {
                    return Err(Refused::TooManyEpochs {
                        epoch,
                        limit: MAX_LIVE_EPOCHS,
                    });
                }
                self.epochs.insert(epoch, BTreeSet::from([tag]));
            }
        }
        Ok(())
    }

    /// Whether `tag` is known in `epoch`, without inserting it.
    pub fn contains(&self, epoch: u64, tag: &ReplayTag) -> bool {
        self.epochs
            .get(&epoch)
            .is_some_and(|tags| tags.contains(tag))
    }

    /// Forgets every epoch below `epoch` and refuses them from now on. Call this when their
    /// onion keys are retired, then write a new snapshot. Retiring is monotonic: a smaller
    /// `epoch` than an earlier call does nothing. Returns how many tags were dropped.
    pub fn retire_epochs_before(&mut self, epoch: u64) -> usize {
        if epoch <= self.retired_before {
            return 0;
        }
        self.retired_before = epoch;
        let kept = self.epochs.split_off(&epoch);
        let dropped = std::mem::replace(&mut self.epochs, kept);
        dropped.values().map(BTreeSet::len).sum()
    }

    /// The per-epoch cap.
    pub fn max_entries_per_epoch(&self) -> u32 {
        self.cap
    }

    /// Epochs below this are retired.
    pub fn retired_before(&self) -> u64 {
        self.retired_before
    }

    /// Live epochs with their tag counts, in ascending order. For metrics: an epoch that
    /// approaches the cap is about to refuse traffic.
    pub fn epochs(&self) -> impl Iterator<Item = (u64, usize)> + '_ {
        self.epochs.iter().map(|(epoch, tags)| (*epoch, tags.len()))
    }

    /// Tags held across all epochs.
    pub fn len(&self) -> usize {
        self.epochs.values().map(BTreeSet::len).sum()
    }

    /// Whether no tag is held.
    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// The full snapshot (layout at [`SNAPSHOT_MAGIC`]).
    pub fn encode(&self) -> Vec<u8> {
        let tag_bytes = self.len().saturating_mul(TAG_LEN);
        let epoch_bytes = self.epochs.len().saturating_mul(EPOCH_HEADER_LEN);
        let mut out = Vec::with_capacity(
            SNAPSHOT_HEADER_LEN
                .saturating_add(epoch_bytes)
                .saturating_add(tag_bytes)
                .saturating_add(CHECKSUM_LEN),
        );
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.push(SNAPSHOT_VERSION);
        out.extend_from_slice(&self.cap.to_be_bytes());
        out.extend_from_slice(&self.retired_before.to_be_bytes());
        // Both counts fit: epochs are limited to MAX_LIVE_EPOCHS and tags per epoch to the u32 cap,
        // and insertion enforces both.
        out.extend_from_slice(&len_u32(self.epochs.len()).to_be_bytes());
        for (epoch, tags) in &self.epochs {
            out.extend_from_slice(&epoch.to_be_bytes());
            out.extend_from_slice(&len_u32(tags.len()).to_be_bytes());
            for tag in tags {
                out.extend_from_slice(tag);
            }
        }
        let checksum = crc32(&out);
        out.extend_from_slice(&checksum.to_be_bytes());
        out
    }

    /// Reads a snapshot written by [`ReplayCache::encode`]. It accepts only the canonical form
    /// and says what is wrong with anything else. It never allocates more than the input's size
    /// suggests, so a corrupt count cannot exhaust memory.
    pub fn decode(bytes: &[u8]) -> Result<Self, ReplayError> {
        let mut reader = Reader::new(bytes);
        let magic = reader.array::<4>("magic")?;
        if magic != SNAPSHOT_MAGIC {
            return Err(ReplayError::BadMagic { found: magic });
        }
        let version = reader.u8("version")?;
        if version != SNAPSHOT_VERSION {
            return Err(ReplayError::UnsupportedVersion { found: version });
        }
        let cap = reader.u32("cap")?;
        let retired_before = reader.u64("retired_before")?;
        let epoch_count = usize::try_from(reader.u32("epoch count")?).unwrap_or(usize::MAX);
        if epoch_count > MAX_LIVE_EPOCHS {
            return Err(ReplayError::TooManyEpochs {
                count: epoch_count,
                limit: MAX_LIVE_EPOCHS,
            });
        }

        let mut epochs = BTreeMap::new();
        let mut previous: Option<u64> = None;
        for _ in 0..epoch_count {
            let epoch = reader.u64("epoch")?;
            let count = reader.u32("tag count")?;
            if let Some(previous) = previous.filter(|previous| *previous >= epoch) {
                return Err(ReplayError::EpochsOutOfOrder { previous, epoch });
            }
            previous = Some(epoch);
            if epoch < retired_before {
                return Err(ReplayError::RetiredEpoch {
                    epoch,
                    retired_before,
                });
            }
            if count == 0 {
                return Err(ReplayError::EmptyEpoch { epoch });
            }
            if count > cap {
                return Err(ReplayError::OverCap { epoch, count, cap });
            }
            let len = usize::try_from(count)
                .ok()
                .and_then(|count| count.checked_mul(TAG_LEN))
                .unwrap_or(usize::MAX);
            let raw = reader.take(len, "tags")?;
            let mut last: Option<&[u8]> = None;
            for (index, tag) in (0u32..).zip(raw.chunks_exact(TAG_LEN)) {
                match last.map(|last| last.cmp(tag)) {
                    Some(std::cmp::Ordering::Equal) => {
                        return Err(ReplayError::DuplicateTag { epoch, index })
                    }
                    Some(std::cmp::Ordering::Greater) => {
                        return Err(ReplayError::UnsortedTags { epoch, index })
                    }
                    _ => {}
                }
                last = Some(tag);
            }
            let tags: BTreeSet<ReplayTag> = raw
                .chunks_exact(TAG_LEN)
                .filter_map(|tag| ReplayTag::try_from(tag).ok())
                .collect();
            epochs.insert(epoch, tags);
        }

        let body_len = reader.position();
        let stored = reader.u32("checksum")?;
        let extra = reader.remaining();
        if extra != 0 {
            return Err(ReplayError::TrailingBytes { extra });
        }
        let computed = crc32(bytes.get(..body_len).unwrap_or(bytes));
        if stored != computed {
            return Err(ReplayError::ChecksumMismatch { stored, computed });
        }
        Ok(Self {
            cap,
            retired_before,
            epochs,
        })
    }

    /// Replays an append-only log of [`encode_entry`] records into the cache, typically right
    /// after decoding the snapshot.
    ///
    /// - A final partial record (shorter than [`LOG_ENTRY_LEN`]) is what a crash during an
    ///   append leaves. It is ignored if its bytes begin like a record, and reported in
    ///   [`LogSummary::torn_tail`].
    /// - Any complete record with a wrong magic or checksum is damage, not a crash, and fails
    ///   the whole call. So does a tail that does not begin like a record.
    /// - Tags already known and tags of retired epochs are skipped, which makes replaying a log
    ///   into a newer snapshot harmless.
    ///
    /// All or nothing: on `Err` the cache is unchanged. Afterwards the shell must truncate the
    /// log file to [`LogSummary::valid_len`] (see the module docs).
    pub fn apply_log(&mut self, log: &[u8]) -> Result<LogSummary, ReplayError> {
        let whole = log.len() - log.len() % LOG_ENTRY_LEN;
        let (body, tail) = log.split_at(whole);
        if !tail
            .iter()
            .zip(LOG_ENTRY_MAGIC.iter())
            .all(|(found, expected)| found == expected)
        {
            return Err(ReplayError::LogBadMagic { offset: whole });
        }

        let mut summary = LogSummary {
            valid_len: whole,
            torn_tail: tail.len(),
            ..LogSummary::default()
        };
        // Stage the new tags first so that nothing changes unless the whole log is acceptable.
        let mut fresh: BTreeMap<u64, BTreeSet<ReplayTag>> = BTreeMap::new();
        for (index, record) in body.chunks_exact(LOG_ENTRY_LEN).enumerate() {
            let offset = index.saturating_mul(LOG_ENTRY_LEN);
            let (epoch, tag) = decode_entry(record, offset)?;
            summary.records += 1;
            if epoch < self.retired_before {
                summary.retired += 1;
            } else if self.contains(epoch, &tag) || !fresh.entry(epoch).or_default().insert(tag) {
                summary.already_known += 1;
            } else {
                summary.inserted += 1;
            }
        }

        let cap = self.cap_usize();
        let mut live = self.epochs.len();
        for (epoch, tags) in &fresh {
            // Staged sets are never empty: an epoch is staged together with its first tag.
            let held = match self.epochs.get(epoch) {
                Some(existing) => existing.len(),
                None => {
                    live += 1;
                    0
                }
            };
            if held.saturating_add(tags.len()) > cap {
                return Err(ReplayError::LogOverCap {
                    epoch: *epoch,
                    cap: self.cap,
                });
            }
        }
        if live > MAX_LIVE_EPOCHS {
            return Err(ReplayError::TooManyEpochs {
                count: live,
                limit: MAX_LIVE_EPOCHS,
            });
        }

        for (epoch, tags) in fresh {
            self.epochs.entry(epoch).or_default().extend(tags);
        }
        Ok(summary)
    }

    fn cap_usize(&self) -> usize {
        usize::try_from(self.cap).unwrap_or(usize::MAX)
    }
}

mod codec;
#[cfg(test)]
mod tests;

pub use codec::encode_entry;
use codec::{crc32, decode_entry, len_u32, Reader};
