use rand::{CryptoRng, RngCore};

/// A 24-byte random identifier: a write id, a read id or a link id. Ids are drawn fresh for each
/// capability, so two ids never reveal that they belong to one mailbox or one person.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id([u8; Id::LEN]);

impl Id {
    pub const LEN: usize = 24;

    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = [0u8; Self::LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub const fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// Lowercase hex, for places a user must copy an id (never for logs).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Ids are capabilities: `Debug` never prints them, so a stray `{:?}` cannot leak one into a log.
impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Id(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_reveal_the_id() {
        let id = Id::from_bytes([0xab; Id::LEN]);
        assert!(!format!("{id:?}").contains("ab"));
    }

    #[test]
    fn random_ids_differ() {
        let mut rng = rand::thread_rng();
        assert_ne!(Id::random(&mut rng), Id::random(&mut rng));
    }
}
