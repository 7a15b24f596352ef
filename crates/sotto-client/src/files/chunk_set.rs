//! Which chunks of a transfer are done: one bit each, kept in the device store so a transfer
//! goes on where it stopped.

/// A set of chunk indices below `count`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSet {
    count: u32,
    bits: Vec<u8>,
}

impl ChunkSet {
    pub fn empty(count: u32) -> Self {
        Self {
            count,
            bits: vec![0; (count as usize).div_ceil(8)],
        }
    }

    /// The set as `to_bytes` wrote it; `None` if the bytes do not fit `count` chunks.
    pub fn from_bytes(count: u32, bits: Vec<u8>) -> Option<Self> {
        let set = Self { count, bits };
        let fits = set.bits.len() == (count as usize).div_ceil(8)
            && (count..set.bits.len() as u32 * 8).all(|index| !set.contains_bit(index));
        fits.then_some(set)
    }

    pub fn to_bytes(&self) -> &[u8] {
        &self.bits
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    fn contains_bit(&self, index: u32) -> bool {
        self.bits[(index / 8) as usize] & (1 << (index % 8)) != 0
    }

    pub fn contains(&self, index: u32) -> bool {
        index < self.count && self.contains_bit(index)
    }

    pub fn insert(&mut self, index: u32) {
        if index < self.count {
            self.bits[(index / 8) as usize] |= 1 << (index % 8);
        }
    }

    pub fn done(&self) -> u32 {
        self.bits.iter().map(|byte| byte.count_ones()).sum()
    }

    pub fn is_complete(&self) -> bool {
        self.done() == self.count
    }

    /// The indices not done yet, in order.
    pub fn missing(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.count).filter(|index| !self.contains(*index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_set_reads_back(count in 0u32..2000, picks in proptest::collection::vec(any::<u32>(), 0..100)) {
            let mut set = ChunkSet::empty(count);
            for pick in &picks {
                set.insert(pick % count.max(1));
            }
            let again = ChunkSet::from_bytes(count, set.to_bytes().to_vec()).unwrap();
            prop_assert_eq!(&again, &set);
            prop_assert_eq!(set.done() + set.missing().count() as u32, count);
        }
    }

    #[test]
    fn bits_beyond_the_count_are_refused() {
        assert!(ChunkSet::from_bytes(3, vec![0b1000]).is_none());
        assert!(ChunkSet::from_bytes(3, vec![0, 0]).is_none());
        assert_eq!(ChunkSet::from_bytes(3, vec![0b111]).unwrap().done(), 3);
    }
}
