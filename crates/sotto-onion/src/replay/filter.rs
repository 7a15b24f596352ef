//! One epoch's replay tags as a growing Bloom filter: a chain of stages, each twice the size
//! of the one before, so memory follows the traffic actually seen rather than a cap fixed in
//! advance.
//!
//! # Why a filter, and why it never fills
//!
//! An exact set costs about 50 bytes a tag; a relay peeling 1,000 packets a second under a
//! day-long key would need gigabytes, so the old set had a hard cap, and anyone holding the
//! published onion key could fill it and make the relay refuse every packet. A stage here
//! costs [`BITS_PER_TAG`] bits a tag and a full stage hands over to a bigger one, so the
//! filter never refuses. What bounds it is the relay's peel budget (packets per second), which
//! bounds the tags a key can collect to `rate × key lifetime`.
//!
//! A filter answers "seen" wrongly now and then: a fresh packet is then dropped as a replay,
//! which costs its sender a retry on another path, as any loss does. With [`PROBES`] probes
//! at [`BITS_PER_TAG`] bits a tag, a full stage says so for about 1 in 100,000 fresh tags, and
//! the chain at most that times its stage count. A replay is never missed: every stage that
//! holds a tag answers "seen" for it.
//!
//! Tags are uniform (an HKDF output), so the probe positions are read from the tag's bytes.
//! A sender can grind its packets for tags with chosen bits, but each insertion still sets at
//! most [`PROBES`] bits, so grinding raises the error rate of a full stage to at most
//! `(PROBES / BITS_PER_TAG)^PROBES`, about 1 in 600 dropped, and only by spending the peel
//! budget it shares with everyone.

/// Bits of filter per tag of a stage's capacity.
pub const BITS_PER_TAG: u64 = 24;
/// Positions set per tag.
pub const PROBES: u64 = 16;
/// Tags the first stage holds (12 KiB: what a quiet relay spends); stage `i` holds
/// `FIRST_STAGE_TAGS << i`.
pub const FIRST_STAGE_TAGS: u64 = 1 << 12;
/// Stages at most. The last one (2^27 tags, 384 MiB) keeps taking tags past its capacity,
/// with a rising error rate, so memory stays bounded (768 MiB an epoch) whatever the shell
/// lets through; a relay that reaches it should shorten its network's `epoch_secs`.
pub const MAX_STAGES: usize = 16;

/// 64-bit words of stage `index`.
pub(super) fn stage_words(index: usize) -> usize {
    let tags = FIRST_STAGE_TAGS << index.min(MAX_STAGES - 1);
    usize::try_from(tags * BITS_PER_TAG / 64).unwrap_or(usize::MAX)
}

/// Tags stage `index` is sized for.
pub(super) fn stage_capacity(index: usize) -> u64 {
    FIRST_STAGE_TAGS << index.min(MAX_STAGES - 1)
}

/// One Bloom filter of the chain.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Stage {
    pub(super) inserted: u64,
    pub(super) words: Vec<u64>,
}

impl Stage {
    pub(super) fn empty(index: usize) -> Self {
        Self {
            inserted: 0,
            words: vec![0; stage_words(index)],
        }
    }

    fn bits(&self) -> u64 {
        u64::try_from(self.words.len()).unwrap_or(u64::MAX) * 64
    }

    /// The bit positions of `tag`: double hashing over two 64-bit halves of the tag.
    fn positions(&self, tag: &[u8; 32]) -> impl Iterator<Item = (usize, u64)> {
        let half = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(tag.get(at..at + 8).unwrap_or(&[0; 8]));
            u64::from_le_bytes(bytes)
        };
        let (first, step) = (half(0), half(8) | 1);
        let bits = self.bits().max(1);
        (0..PROBES).map(move |i| {
            let bit = first.wrapping_add(i.wrapping_mul(step)) % bits;
            (usize::try_from(bit / 64).unwrap_or(0), 1u64 << (bit % 64))
        })
    }

    fn contains(&self, tag: &[u8; 32]) -> bool {
        self.positions(tag)
            .all(|(word, mask)| self.words.get(word).is_some_and(|w| w & mask != 0))
    }

    fn insert(&mut self, tag: &[u8; 32]) {
        let positions: Vec<(usize, u64)> = self.positions(tag).collect();
        for (word, mask) in positions {
            if let Some(w) = self.words.get_mut(word) {
                *w |= mask;
            }
        }
        self.inserted = self.inserted.saturating_add(1);
    }
}

/// An epoch's tags (see the module docs). Never empty: made with its first tag.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct TagFilter {
    pub(super) stages: Vec<Stage>,
}

impl TagFilter {
    pub(super) fn with(tag: &[u8; 32]) -> Self {
        let mut filter = Self {
            stages: vec![Stage::empty(0)],
        };
        filter.insert(tag);
        filter
    }

    pub(super) fn contains(&self, tag: &[u8; 32]) -> bool {
        self.stages.iter().any(|stage| stage.contains(tag))
    }

    /// Adds `tag`, opening the next stage when the last is full.
    pub(super) fn insert(&mut self, tag: &[u8; 32]) {
        let count = self.stages.len();
        let full = self
            .stages
            .last()
            .is_none_or(|last| last.inserted >= stage_capacity(count - 1));
        if full && count < MAX_STAGES {
            self.stages.push(Stage::empty(count));
        }
        if let Some(last) = self.stages.last_mut() {
            last.insert(tag);
        }
    }

    /// Tags inserted.
    pub(super) fn len(&self) -> u64 {
        self.stages.iter().map(|stage| stage.inserted).sum()
    }

    /// Bytes of filter held.
    pub(super) fn bytes(&self) -> usize {
        self.stages.iter().map(|stage| stage.words.len() * 8).sum()
    }
}
