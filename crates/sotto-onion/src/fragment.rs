//! Fragmentation of messages larger than one onion packet, and their reassembly.
//!
//! Every onion packet has one size, so it carries exactly one fragment of `fragment_len` bytes
//! whatever the message, and a message that does not fit takes several packets. The packet
//! module fixes `fragment_len`; here it is a parameter, so the logic is tested at many sizes.
//!
//! A fragment, big-endian throughout ([`FRAGMENT_HEADER_LEN`] = 22 bytes of header):
//!
//! ```text
//! message id [16] | index u16 | count u16 | chunk length u16 | chunk | zero padding
//! ```
//!
//! - The message id is random rather than a counter, so the ids of one sender's messages cannot
//!   be linked to each other, and senders never need to coordinate.
//! - Every fragment but the last carries a full chunk and the last one is not empty (unless the
//!   whole message is), so a message has exactly one fragmentation and a chunk's place in the
//!   message follows from its index alone.
//! - Padding must be zero, so a fragment has one encoding and nothing hides in it.
//!
//! Fragments come from the network, so the [`Reassembler`] bounds what a sender can make it hold:
//! a fixed number of partial messages of at most [`MAX_FRAGMENTS`] chunks each, each given up
//! after an age limit. The time is passed in (`now_ms`), so reassembly is deterministic.

use std::collections::BTreeMap;
use std::fmt;

use rand::{CryptoRng, RngCore};
use thiserror::Error;

/// Bytes of the random id that ties a message's fragments together.
pub const MESSAGE_ID_LEN: usize = 16;
/// Bytes before the chunk: message id, index, count and chunk length.
pub const FRAGMENT_HEADER_LEN: usize = MESSAGE_ID_LEN + 3 * 2;
/// Most fragments one message may take. It bounds the buffer of a partial message to 64 chunks
/// (about 1 MiB at the packet size) and lets one `u64` mark which fragments have arrived.
pub const MAX_FRAGMENTS: usize = 64;
/// Shortest usable fragment: a header and room for one byte of message.
pub const MIN_FRAGMENT_LEN: usize = FRAGMENT_HEADER_LEN + 1;
/// Longest usable fragment: the chunk length field is a `u16`.
pub const MAX_FRAGMENT_LEN: usize = FRAGMENT_HEADER_LEN + u16::MAX as usize;

const _: () = assert!(
    MAX_FRAGMENTS <= u64::BITS as usize,
    "the held set is one u64"
);

/// What was wrong with a fragmentation setting, a message to split or a received fragment.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FragmentError {
    #[error("fragment length {fragment_len} is outside {min}..={max}")]
    FragmentLen {
        fragment_len: usize,
        min: usize,
        max: usize,
    },
    #[error("a reassembler needs room for at least one partial message")]
    NoRoom,
    #[error(
        "message of {len} bytes needs {fragments} fragments of {fragment_len} bytes; \
         at most {max_fragments} fragments ({max_len} bytes) are allowed"
    )]
    TooLong {
        len: usize,
        fragments: usize,
        fragment_len: usize,
        max_fragments: usize,
        max_len: usize,
    },
    #[error("fragment is {got} bytes, expected exactly {expected}")]
    WrongLength { got: usize, expected: usize },
    #[error("fragment count {count} is outside 1..={max}")]
    BadCount { count: u16, max: usize },
    #[error("fragment index {index} is not below the fragment count {count}")]
    IndexOutOfRange { index: u16, count: u16 },
    #[error("chunk of {len} bytes exceeds the {room} bytes of room in a fragment")]
    ChunkTooLong { len: usize, room: usize },
    #[error(
        "fragment {index} of {count} carries {len} bytes; \
         every fragment but the last must be full ({room} bytes)"
    )]
    ShortChunk {
        index: u16,
        count: u16,
        len: usize,
        room: usize,
    },
    #[error(
        "the last of {count} fragments is empty; \
         a message that ends on a fragment boundary has one fragment fewer"
    )]
    EmptyLastChunk { count: u16 },
    #[error("fragment padding is not all zero")]
    Padding,
    #[error(
        "fragment {index} says its message has {count} fragments; \
         earlier fragments of the message said {expected}"
    )]
    CountMismatch {
        index: u16,
        count: u16,
        expected: u16,
    },
}

/// Largest message that [`split`] accepts for fragments of `fragment_len` bytes.
pub fn max_message_len(fragment_len: usize) -> Result<usize, FragmentError> {
    Ok(Layout::new(fragment_len)?.max_message_len())
}

/// Cuts `message` into fragments of exactly `fragment_len` bytes each, under one fresh random
/// message id. An empty message is one fragment with an empty chunk.
///
/// The id must be unpredictable to keep one sender's messages unlinkable, hence a [`CryptoRng`].
pub fn split<R>(
    message: &[u8],
    fragment_len: usize,
    rng: &mut R,
) -> Result<Vec<Vec<u8>>, FragmentError>
where
    R: RngCore + CryptoRng + ?Sized,
{
    let layout = Layout::new(fragment_len)?;
    let count = fragment_count(message.len(), layout)?;
    let mut id = [0; MESSAGE_ID_LEN];
    rng.fill_bytes(&mut id);
    chunks(message, layout.room)
        .zip(0..count)
        .map(|(chunk, index)| seal(&id, index, count, chunk, layout))
        .collect()
}

/// How many fragments `len` bytes take: at least one, so an empty message still arrives.
fn fragment_count(len: usize, layout: Layout) -> Result<u16, FragmentError> {
    let fragments = len.div_ceil(layout.room).max(1);
    u16::try_from(fragments)
        .ok()
        .filter(|_| fragments <= MAX_FRAGMENTS)
        .ok_or(FragmentError::TooLong {
            len,
            fragments,
            fragment_len: layout.fragment_len,
            max_fragments: MAX_FRAGMENTS,
            max_len: layout.max_message_len(),
        })
}

/// The chunks a message is cut into: full ones, then the rest. An empty message is one empty
/// chunk. `room` is at least 1, as [`Layout::new`] guarantees.
fn chunks(message: &[u8], room: usize) -> impl Iterator<Item = &[u8]> {
    let empty = message.is_empty().then_some(message);
    message.chunks(room).chain(empty)
}

/// Lays out one fragment: header, chunk, zero padding up to the fragment length.
fn seal(
    id: &MessageId,
    index: u16,
    count: u16,
    chunk: &[u8],
    layout: Layout,
) -> Result<Vec<u8>, FragmentError> {
    let chunk_len = u16::try_from(chunk.len())
        .ok()
        .filter(|_| chunk.len() <= layout.room)
        .ok_or(FragmentError::ChunkTooLong {
            len: chunk.len(),
            room: layout.room,
        })?;
    let mut fragment = Vec::with_capacity(layout.fragment_len);
    fragment.extend_from_slice(id);
    fragment.extend_from_slice(&index.to_be_bytes());
    fragment.extend_from_slice(&count.to_be_bytes());
    fragment.extend_from_slice(&chunk_len.to_be_bytes());
    fragment.extend_from_slice(chunk);
    fragment.resize(layout.fragment_len, 0);
    Ok(fragment)
}

type MessageId = [u8; MESSAGE_ID_LEN];

/// A validated fragment length and the room it leaves for a chunk (at least one byte, at most
/// what the `u16` chunk length can say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    fragment_len: usize,
    room: usize,
}

impl Layout {
    fn new(fragment_len: usize) -> Result<Self, FragmentError> {
        if !(MIN_FRAGMENT_LEN..=MAX_FRAGMENT_LEN).contains(&fragment_len) {
            return Err(FragmentError::FragmentLen {
                fragment_len,
                min: MIN_FRAGMENT_LEN,
                max: MAX_FRAGMENT_LEN,
            });
        }
        Ok(Self {
            fragment_len,
            room: fragment_len - FRAGMENT_HEADER_LEN,
        })
    }

    fn max_message_len(self) -> usize {
        MAX_FRAGMENTS * self.room
    }
}

/// A received fragment whose encoding has been checked on its own; whether it agrees with the
/// other fragments of its message is the [`Reassembler`]'s business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fragment<'a> {
    id: MessageId,
    index: u16,
    count: u16,
    chunk: &'a [u8],
}

impl<'a> Fragment<'a> {
    fn parse(bytes: &'a [u8], layout: Layout) -> Result<Self, FragmentError> {
        let (header, body) = bytes
            .split_first_chunk::<FRAGMENT_HEADER_LEN>()
            .filter(|_| bytes.len() == layout.fragment_len)
            .ok_or(FragmentError::WrongLength {
                got: bytes.len(),
                expected: layout.fragment_len,
            })?;
        let [id @ .., i0, i1, c0, c1, l0, l1] = *header;
        let index = u16::from_be_bytes([i0, i1]);
        let count = u16::from_be_bytes([c0, c1]);
        check_position(index, count)?;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let (chunk, padding) = body
            .split_at_checked(len)
            .ok_or(FragmentError::ChunkTooLong {
                len,
                room: layout.room,
            })?;
        check_zero(padding)?;
        check_chunk_len(index, count, len, layout.room)?;
        Ok(Self {
            id,
            index,
            count,
            chunk,
        })
    }
}

/// A count the reassembler will buffer, and an index inside it.
fn check_position(index: u16, count: u16) -> Result<(), FragmentError> {
    if count == 0 || usize::from(count) > MAX_FRAGMENTS {
        return Err(FragmentError::BadCount {
            count,
            max: MAX_FRAGMENTS,
        });
    }
    if index >= count {
        return Err(FragmentError::IndexOutOfRange { index, count });
    }
    Ok(())
}

/// Rejects non-zero padding so a fragment has exactly one encoding. A fold without early exit
/// vectorizes; this runs on every fragment.
fn check_zero(padding: &[u8]) -> Result<(), FragmentError> {
    match padding.iter().fold(0u8, |acc, &b| acc | b) {
        0 => Ok(()),
        _ => Err(FragmentError::Padding),
    }
}

/// Every chunk but the last is full, and the last is empty only for an empty message: the one
/// fragmentation [`split`] produces. `index < count` has been checked.
fn check_chunk_len(index: u16, count: u16, len: usize, room: usize) -> Result<(), FragmentError> {
    let is_last = index + 1 == count;
    if !is_last && len != room {
        return Err(FragmentError::ShortChunk {
            index,
            count,
            len,
            room,
        });
    }
    if is_last && count > 1 && len == 0 {
        return Err(FragmentError::EmptyLastChunk { count });
    }
    Ok(())
}

/// Puts messages back together from their fragments, arriving in any order and possibly more
/// than once, in bounded memory.
///
/// Bounds, because anyone who can reach a receiver can send it fragments:
/// - at most `max_partial` partial messages; a fragment of a new message when all are taken
///   evicts the oldest (by arrival of its first fragment);
/// - a partial message buffers at most [`MAX_FRAGMENTS`] chunks, so all buffers together hold at
///   most `max_partial × MAX_FRAGMENTS × (fragment_len − FRAGMENT_HEADER_LEN)` bytes;
/// - partial messages older than `max_age_ms` are given up;
/// - the ids of completed messages are remembered for `max_age_ms`, so a late duplicate is
///   neither delivered twice nor starts a partial message that could never complete. At most
///   `max_partial × MAX_FRAGMENTS` ids are remembered (the oldest are forgotten first): 16 bytes
///   each, small beside the buffers.
pub struct Reassembler {
    layout: Layout,
    max_partial: usize,
    max_age_ms: u64,
    partials: AgedMap<Partial>,
    completed: AgedMap<()>,
}

impl Reassembler {
    /// A reassembler for fragments of `fragment_len` bytes holding at most `max_partial` (at
    /// least 1) partial messages for at most `max_age_ms` each.
    pub fn new(
        fragment_len: usize,
        max_partial: usize,
        max_age_ms: u64,
    ) -> Result<Self, FragmentError> {
        let layout = Layout::new(fragment_len)?;
        if max_partial == 0 {
            return Err(FragmentError::NoRoom);
        }
        Ok(Self {
            layout,
            max_partial,
            max_age_ms,
            partials: AgedMap::default(),
            completed: AgedMap::default(),
        })
    }

    /// Takes one received fragment and returns the whole message when this fragment completes
    /// it. A duplicate of a fragment already held, or a fragment of a message completed within
    /// `max_age_ms`, changes nothing and gives `Ok(None)`; so does a fragment that is merely not
    /// the last one missing. The first copy of a fragment wins.
    ///
    /// Anything already older than `max_age_ms` at `now_ms` is forgotten first, as by
    /// [`Reassembler::expire`]. A rejected fragment leaves the reassembler otherwise unchanged.
    pub fn insert(
        &mut self,
        fragment: &[u8],
        now_ms: u64,
    ) -> Result<Option<Vec<u8>>, FragmentError> {
        let fragment = Fragment::parse(fragment, self.layout)?;
        self.expire(now_ms);
        if self.completed.contains(&fragment.id) {
            return Ok(None);
        }
        if fragment.count == 1 {
            return Ok(Some(self.complete(
                &fragment.id,
                fragment.chunk.to_vec(),
                now_ms,
            )));
        }
        let progress = match self.partials.get_mut(&fragment.id) {
            Some(partial) => partial.add(&fragment, self.layout.room)?,
            None => self.start_partial(&fragment, now_ms)?,
        };
        if progress != Progress::Complete {
            return Ok(None);
        }
        Ok(self
            .partials
            .remove(&fragment.id)
            .map(|partial| self.complete(&fragment.id, partial.into_message(), now_ms)))
    }

    /// Gives up partial messages, and forgets completed message ids, older than `max_age_ms` at
    /// `now_ms`. Returns how many partial messages were given up.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        self.completed.expire(now_ms, self.max_age_ms);
        self.partials.expire(now_ms, self.max_age_ms)
    }

    /// Fragment length this reassembler accepts.
    pub fn fragment_len(&self) -> usize {
        self.layout.fragment_len
    }

    /// Partial messages held now.
    pub fn partial_count(&self) -> usize {
        self.partials.len()
    }

    /// Ids of completed messages remembered now.
    pub fn remembered_count(&self) -> usize {
        self.completed.len()
    }

    /// Bytes held in the buffers of partial messages now.
    pub fn buffered_bytes(&self) -> usize {
        self.partials.values().map(Partial::buffered_bytes).sum()
    }

    /// Opens a partial message with its first fragment, evicting the oldest partial message if
    /// all places are taken. The fragment is checked before anything is evicted for it.
    fn start_partial(
        &mut self,
        fragment: &Fragment<'_>,
        now_ms: u64,
    ) -> Result<Progress, FragmentError> {
        let mut partial = Partial::new(fragment.count, self.layout.room);
        let progress = partial.add(fragment, self.layout.room)?;
        while self.partials.len() >= self.max_partial && self.partials.pop_oldest().is_some() {}
        self.partials.insert(fragment.id, partial, now_ms);
        Ok(progress)
    }

    /// Remembers a completed message's id and hands the message out.
    fn complete(&mut self, id: &MessageId, message: Vec<u8>, now_ms: u64) -> Vec<u8> {
        let capacity = self.max_partial.saturating_mul(MAX_FRAGMENTS);
        while self.completed.len() >= capacity && self.completed.pop_oldest().is_some() {}
        self.completed.insert(*id, (), now_ms);
        message
    }
}

/// Shows the settings and how much is held, never message content.
impl fmt::Debug for Reassembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reassembler")
            .field("fragment_len", &self.layout.fragment_len)
            .field("max_partial", &self.max_partial)
            .field("max_age_ms", &self.max_age_ms)
            .field("partial_count", &self.partial_count())
            .field("remembered_count", &self.remembered_count())
            .field("buffered_bytes", &self.buffered_bytes())
            .finish()
    }
}

/// What a fragment did to its partial message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Duplicate,
    Stored,
    Complete,
}

/// A message being reassembled: its chunks are written straight into place in one buffer.
#[derive(Debug)]
struct Partial {
    count: u16,
    /// Bit `i` is set once fragment `i` has been written.
    held: u64,
    buffer: Vec<u8>,
    /// End of the message bytes written so far; the message's length once complete.
    end: usize,
}

impl Partial {
    fn new(count: u16, room: usize) -> Self {
        Self {
            count,
            held: 0,
            buffer: vec![0; usize::from(count) * room],
            end: 0,
        }
    }

    /// Writes a fragment's chunk into place unless that fragment is already held.
    fn add(&mut self, fragment: &Fragment<'_>, room: usize) -> Result<Progress, FragmentError> {
        if fragment.count != self.count {
            return Err(FragmentError::CountMismatch {
                index: fragment.index,
                count: fragment.count,
                expected: self.count,
            });
        }
        let bit =
            1u64.checked_shl(u32::from(fragment.index))
                .ok_or(FragmentError::IndexOutOfRange {
                    index: fragment.index,
                    count: fragment.count,
                })?;
        if self.held & bit != 0 {
            return Ok(Progress::Duplicate);
        }
        let start = usize::from(fragment.index) * room;
        let end = start + fragment.chunk.len();
        let place = self
            .buffer
            .get_mut(start..end)
            .ok_or(FragmentError::ChunkTooLong {
                len: fragment.chunk.len(),
                room,
            })?;
        place.copy_from_slice(fragment.chunk);
        self.held |= bit;
        self.end = self.end.max(end);
        Ok(if self.is_complete() {
            Progress::Complete
        } else {
            Progress::Stored
        })
    }

    fn is_complete(&self) -> bool {
        self.held.count_ones() == u32::from(self.count)
    }

    fn into_message(mut self) -> Vec<u8> {
        self.buffer.truncate(self.end);
        self.buffer
    }

    fn buffered_bytes(&self) -> usize {
        self.buffer.len()
    }
}

/// Where an entry stands in age order: by the time it arrived, then by arrival order, so the
/// order is total and stays right even if `now_ms` steps backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Age {
    since_ms: u64,
    seq: u64,
}

/// Entries by message id that also know their age order, so the oldest is found and dropped in
/// logarithmic time. Ordered maps rather than hash maps keep everything deterministic.
#[derive(Debug)]
struct AgedMap<V> {
    entries: BTreeMap<MessageId, (Age, V)>,
    by_age: BTreeMap<Age, MessageId>,
    next_seq: u64,
}

impl<V> Default for AgedMap<V> {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
            by_age: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<V> AgedMap<V> {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn contains(&self, id: &MessageId) -> bool {
        self.entries.contains_key(id)
    }

    fn get_mut(&mut self, id: &MessageId) -> Option<&mut V> {
        self.entries.get_mut(id).map(|(_, value)| value)
    }

    fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.values().map(|(_, value)| value)
    }

    /// Adds an entry aged from `now_ms`, replacing any entry of the same id.
    fn insert(&mut self, id: MessageId, value: V, now_ms: u64) {
        let age = Age {
            since_ms: now_ms,
            seq: self.next_seq,
        };
        self.next_seq = self.next_seq.wrapping_add(1);
        if let Some((replaced, _)) = self.entries.insert(id, (age, value)) {
            self.by_age.remove(&replaced);
        }
        self.by_age.insert(age, id);
    }

    fn remove(&mut self, id: &MessageId) -> Option<V> {
        let (age, value) = self.entries.remove(id)?;
        self.by_age.remove(&age);
        Some(value)
    }

    fn pop_oldest(&mut self) -> Option<V> {
        let (_, id) = self.by_age.pop_first()?;
        self.entries.remove(&id).map(|(_, value)| value)
    }

    /// Drops entries older than `max_age_ms` at `now_ms`; returns how many.
    fn expire(&mut self, now_ms: u64, max_age_ms: u64) -> usize {
        let mut dropped = 0;
        while let Some((age, _)) = self.by_age.first_key_value() {
            if now_ms.saturating_sub(age.since_ms) <= max_age_ms {
                break;
            }
            self.pop_oldest();
            dropped += 1;
        }
        dropped
    }
}

#[cfg(test)]
mod tests;
