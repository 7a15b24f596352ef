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
//! # Bounded by key rotation and the peel budget, never full
//!
//! Tags are kept per onion-key epoch. A tag matters only as long as packets for its key are
//! accepted. Once the key is retired such packets are refused anyway, so
//! [`ReplayCache::retire_epochs_before`] drops that epoch's tags all at once.
//!
//! Each epoch's tags are a growing Bloom filter (`replay/filter.rs`), about 3 to 6 bytes a
//! tag, that never refuses a fresh tag for want of room. An earlier version kept an exact set
//! with a hard cap per epoch: whoever held the published onion key could fill it and make the
//! relay refuse every packet until the key rotated. Evicting old tags instead would reopen the
//! replay the cache stops. The filter's price is a rare false "seen" (module docs of
//! `filter`), which drops one fresh packet as a loss would. Its memory follows the tags
//! inserted, which the relay bounds by its peel budget: at most `rate × key lifetime` per
//! epoch, and [`filter::MAX_STAGES`] bounds it whatever the shell does.
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

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
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
/// | 1 | version (2) |
/// | 8 | retired_before: epochs below this are refused, u64 |
/// | 4 | epoch count, u32, at most [`MAX_LIVE_EPOCHS`] |
/// | per epoch, epochs strictly ascending: | |
/// | 8 | epoch, u64, not below retired_before |
/// | 1 | stage count, 1..=[`filter::MAX_STAGES`] |
/// | per stage `i`: | |
/// | 8 | tags inserted, u64: exactly the stage's capacity (`FIRST_STAGE_TAGS << i`) for every stage but the last, at least 1 for the last (at most its capacity unless it is stage `MAX_STAGES − 1`) |
/// | 8 × (capacity × `BITS_PER_TAG` / 64) | the stage's bits, u64 words |
/// | 4 | CRC-32 (ISO-HDLC) of every byte before it |
///
/// One cache has exactly one encoding (no empty epochs, no trailing bytes), which the tests
/// rely on. Version 1 (exact tag sets under a cap) is not read: its relays refused packets
/// once an epoch was full; move its files aside once the keys they cover are retired.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"SRPL";

/// The snapshot format version this build writes and reads.
pub const SNAPSHOT_VERSION: u8 = 2;

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

const CHECKSUM_LEN: usize = 4;

/// Why [`ReplayCache::check_and_insert`] refused a packet. In every case the relay drops the
/// packet. The variants differ for metrics and for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The tag is already known: this packet was processed before (or, rarely, the filter
    /// mistakes a fresh tag for a known one; see the module docs).
    #[error("replayed packet: its tag is already known for onion-key epoch {epoch}")]
    Replayed {
        /// The epoch the tag was checked in.
        epoch: u64,
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
    /// An epoch with no stage or more than [`filter::MAX_STAGES`].
    #[error("replay snapshot epoch {epoch} has {count} filter stages (1 to {max} allowed)")]
    BadStageCount {
        /// The epoch.
        epoch: u64,
        /// The stage count found.
        count: u8,
        /// [`filter::MAX_STAGES`].
        max: usize,
    },
    /// A stage's tag count does not fit its place in the chain.
    #[error(
        "replay snapshot epoch {epoch}, filter stage {stage}: {inserted} tags, expected {expected}"
    )]
    BadStageFill {
        /// The epoch.
        epoch: u64,
        /// The stage's position.
        stage: usize,
        /// The count found.
        inserted: u64,
        /// What the stage may hold there.
        expected: &'static str,
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
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ReplayCache {
    /// Epochs below this are retired. Kept even when no epoch is cached, so a retired key's packets
    /// are refused instead of starting a fresh, empty set for it.
    retired_before: u64,
    epochs: BTreeMap<u64, TagFilter>,
}

impl fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: BTreeMap<u64, u64> = self.epochs().collect();
        f.debug_struct("ReplayCache")
            .field("retired_before", &self.retired_before)
            .field("tags_per_epoch", &counts)
            .finish()
    }
}

impl ReplayCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `tag` in `epoch` and remembers it if it is new. `Ok(())` means the packet may be
    /// processed, and the shell should now append [`encode_entry`] to its log. Any `Err` means
    /// drop the packet. Never refuses for want of room (see the module docs).
    pub fn check_and_insert(&mut self, epoch: u64, tag: ReplayTag) -> Result<(), Refused> {
        if epoch < self.retired_before {
            return Err(Refused::EpochRetired {
                epoch,
                retired_before: self.retired_before,
            });
        }
        let live = self.epochs.len();
        match self.epochs.entry(epoch) {
            Entry::Occupied(tags) if tags.get().contains(&tag) => Err(Refused::Replayed { epoch }),
            Entry::Occupied(mut tags) => {
                tags.get_mut().insert(&tag);
                Ok(())
            }
            Entry::Vacant(_) if live >= MAX_LIVE_EPOCHS => Err(Refused::TooManyEpochs {
                epoch,
                limit: MAX_LIVE_EPOCHS,
            }),
            Entry::Vacant(slot) => {
                slot.insert(TagFilter::with(&tag));
                Ok(())
            }
        }
    }

    /// Whether `tag` is known in `epoch` (or mistaken for a known one), without inserting it.
    pub fn contains(&self, epoch: u64, tag: &ReplayTag) -> bool {
        self.epochs
            .get(&epoch)
            .is_some_and(|tags| tags.contains(tag))
    }

    /// Forgets every epoch below `epoch` and refuses them from now on. Call this when their
    /// onion keys are retired, then write a new snapshot. Retiring is monotonic: a smaller
    /// `epoch` than an earlier call does nothing. Returns how many tags were dropped.
    pub fn retire_epochs_before(&mut self, epoch: u64) -> u64 {
        if epoch <= self.retired_before {
            return 0;
        }
        self.retired_before = epoch;
        let kept = self.epochs.split_off(&epoch);
        let dropped = std::mem::replace(&mut self.epochs, kept);
        dropped.values().map(TagFilter::len).sum()
    }

    /// Epochs below this are retired.
    pub fn retired_before(&self) -> u64 {
        self.retired_before
    }

    /// Live epochs with their tag counts, in ascending order.
    pub fn epochs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.epochs.iter().map(|(epoch, tags)| (*epoch, tags.len()))
    }

    /// Tags held across all epochs.
    pub fn len(&self) -> u64 {
        self.epochs.values().map(TagFilter::len).sum()
    }

    /// Memory the filters hold, in bytes (a metric: it grows with the packets peeled).
    pub fn filter_bytes(&self) -> usize {
        self.epochs.values().map(TagFilter::bytes).sum()
    }

    /// Whether no tag is held.
    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// The full snapshot (layout at [`SNAPSHOT_MAGIC`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.filter_bytes()
                .saturating_add(self.epochs.len().saturating_mul(64))
                .saturating_add(32),
        );
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.push(SNAPSHOT_VERSION);
        out.extend_from_slice(&self.retired_before.to_be_bytes());
        // Insertion keeps the epochs within MAX_LIVE_EPOCHS and the stages within MAX_STAGES.
        out.extend_from_slice(&len_u32(self.epochs.len()).to_be_bytes());
        for (epoch, tags) in &self.epochs {
            out.extend_from_slice(&epoch.to_be_bytes());
            out.push(u8::try_from(tags.stages.len()).unwrap_or(u8::MAX));
            for stage in &tags.stages {
                out.extend_from_slice(&stage.inserted.to_be_bytes());
                for word in &stage.words {
                    out.extend_from_slice(&word.to_be_bytes());
                }
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
            let count = reader.u8("stage count")?;
            if count == 0 || usize::from(count) > filter::MAX_STAGES {
                return Err(ReplayError::BadStageCount {
                    epoch,
                    count,
                    max: filter::MAX_STAGES,
                });
            }
            let count = usize::from(count);
            let mut stages = Vec::with_capacity(count);
            for stage in 0..count {
                let inserted = reader.u64("stage tag count")?;
                check_fill(epoch, stage, count, inserted)?;
                let len = filter::stage_words(stage).saturating_mul(8);
                let words = reader
                    .take(len, "stage bits")?
                    .chunks_exact(8)
                    .map(|word| {
                        let mut bytes = [0u8; 8];
                        bytes.copy_from_slice(word);
                        u64::from_be_bytes(bytes)
                    })
                    .collect();
                stages.push(filter::Stage { inserted, words });
            }
            epochs.insert(epoch, TagFilter { stages });
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

        // Read every record before inserting any, so that nothing changes unless the whole
        // log is acceptable.
        let records = body
            .chunks_exact(LOG_ENTRY_LEN)
            .enumerate()
            .map(|(index, record)| decode_entry(record, index.saturating_mul(LOG_ENTRY_LEN)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut live: std::collections::BTreeSet<u64> = self.epochs.keys().copied().collect();
        live.extend(
            records
                .iter()
                .map(|(epoch, _)| *epoch)
                .filter(|epoch| *epoch >= self.retired_before),
        );
        if live.len() > MAX_LIVE_EPOCHS {
            return Err(ReplayError::TooManyEpochs {
                count: live.len(),
                limit: MAX_LIVE_EPOCHS,
            });
        }

        let mut summary = LogSummary {
            records: records.len(),
            valid_len: whole,
            torn_tail: tail.len(),
            ..LogSummary::default()
        };
        for (epoch, tag) in records {
            match self.check_and_insert(epoch, tag) {
                Ok(()) => summary.inserted += 1,
                Err(Refused::EpochRetired { .. }) => summary.retired += 1,
                // The epoch count was checked above, so a refusal here is a known tag.
                Err(_) => summary.already_known += 1,
            }
        }
        Ok(summary)
    }
}

/// Whether stage `stage` of `count` may hold `inserted` tags (layout at [`SNAPSHOT_MAGIC`]).
fn check_fill(epoch: u64, stage: usize, count: usize, inserted: u64) -> Result<(), ReplayError> {
    let capacity = filter::stage_capacity(stage);
    let (fits, expected) = if stage + 1 < count {
        (
            inserted == capacity,
            "its capacity (an earlier stage is full)",
        )
    } else if stage + 1 == filter::MAX_STAGES {
        (inserted >= 1, "at least 1")
    } else {
        (
            (1..=capacity).contains(&inserted),
            "1 to its capacity (the last stage)",
        )
    };
    if fits {
        Ok(())
    } else {
        Err(ReplayError::BadStageFill {
            epoch,
            stage,
            inserted,
            expected,
        })
    }
}

mod codec;
pub mod filter;
#[cfg(test)]
mod tests;

pub use codec::encode_entry;
use codec::{crc32, decode_entry, len_u32, Reader};
use filter::TagFilter;
