//! Byte-level pieces of the snapshot and log formats: log records, a bounds-checked reader and
//! the checksum.

use super::*;

/// One log record for a tag just accepted by [`ReplayCache::check_and_insert`] (layout at
/// [`LOG_ENTRY_LEN`]). Fixed size, so the shell can append it with one write and a torn write
/// can only shorten the final record.
pub fn encode_entry(epoch: u64, tag: &ReplayTag) -> [u8; LOG_ENTRY_LEN] {
    let mut record = [0u8; LOG_ENTRY_LEN];
    let (magic, rest) = record.split_at_mut(LOG_ENTRY_MAGIC.len());
    magic.copy_from_slice(&LOG_ENTRY_MAGIC);
    let (epoch_bytes, rest) = rest.split_at_mut(8);
    epoch_bytes.copy_from_slice(&epoch.to_be_bytes());
    let (tag_bytes, _) = rest.split_at_mut(TAG_LEN);
    tag_bytes.copy_from_slice(tag);
    let checked = LOG_ENTRY_LEN - CHECKSUM_LEN;
    let checksum = crc32(record.get(..checked).unwrap_or(&[]));
    if let Some(slot) = record.get_mut(checked..) {
        slot.copy_from_slice(&checksum.to_be_bytes());
    }
    record
}

/// Reads one complete record; `offset` is only for the error.
pub(super) fn decode_entry(record: &[u8], offset: usize) -> Result<(u64, ReplayTag), ReplayError> {
    let corrupt = ReplayError::LogChecksumMismatch { offset };
    let mut reader = Reader::new(record);
    let magic = reader
        .array::<4>("record magic")
        .map_err(|_| corrupt.clone())?;
    if magic != LOG_ENTRY_MAGIC {
        return Err(ReplayError::LogBadMagic { offset });
    }
    let epoch = reader.u64("record epoch").map_err(|_| corrupt.clone())?;
    let tag = reader
        .array::<TAG_LEN>("record tag")
        .map_err(|_| corrupt.clone())?;
    let checked = reader.position();
    let stored = reader.u32("record checksum").map_err(|_| corrupt.clone())?;
    if reader.remaining() != 0 || crc32(record.get(..checked).unwrap_or(&[])) != stored {
        return Err(corrupt);
    }
    Ok((epoch, tag))
}

/// Converts a count the cache keeps within u32 (epochs are few).
pub(super) fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Bounds-checked big-endian reads from a snapshot or record.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    pub(super) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.position)
    }

    pub(super) fn position(&self) -> usize {
        self.position
    }

    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ReplayError> {
        let remaining = self.remaining();
        if n > remaining {
            return Err(ReplayError::Truncated {
                what,
                needed: n - remaining,
            });
        }
        let end = self.position + n;
        let out = self
            .bytes
            .get(self.position..end)
            .ok_or(ReplayError::Truncated { what, needed: n })?;
        self.position = end;
        Ok(out)
    }

    pub(super) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], ReplayError> {
        let slice = self.take(N, what)?;
        <[u8; N]>::try_from(slice).map_err(|_| ReplayError::Truncated { what, needed: N })
    }

    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, ReplayError> {
        let [byte] = self.array::<1>(what)?;
        Ok(byte)
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, ReplayError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub(super) fn u64(&mut self, what: &'static str) -> Result<u64, ReplayError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
}

/// CRC-32 (the zlib/PNG CRC): detects accidental damage (torn writes, bit rot) and is no
/// defence against an attacker, which is all a local state file needs.
pub(super) fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}
