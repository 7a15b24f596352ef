//! A network's authorities: the Ed25519 keys that may sign its network file, and how many of
//! them must. With several, no single authority can admit relays of its own choosing (a Sybil
//! attack by the very party meant to stop them), and one lost key does not stop the network.

use ed25519_dalek::VerifyingKey;

use super::DirectoryError;

/// The most authorities a network can have.
pub const MAX_AUTHORITIES: usize = 16;

/// A checked set of authority keys (distinct, 1 to [`MAX_AUTHORITIES`]) with a threshold
/// between 1 and their number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorities {
    keys: Vec<VerifyingKey>,
    threshold: usize,
}

impl Authorities {
    pub fn new(keys: Vec<VerifyingKey>, threshold: usize) -> Result<Self, DirectoryError> {
        if keys.is_empty() || keys.len() > MAX_AUTHORITIES {
            return Err(DirectoryError::AuthorityCount(keys.len()));
        }
        if keys
            .iter()
            .enumerate()
            .any(|(i, key)| keys[..i].contains(key))
        {
            return Err(DirectoryError::DuplicateAuthority);
        }
        if threshold == 0 || threshold > keys.len() {
            return Err(DirectoryError::Threshold {
                threshold,
                authorities: keys.len(),
            });
        }
        Ok(Self { keys, threshold })
    }

    /// One authority, whose signature suffices.
    pub fn single(key: VerifyingKey) -> Self {
        Self {
            keys: vec![key],
            threshold: 1,
        }
    }

    /// These keys, of which more than half must sign: what a person who was given the keys
    /// trusts when not told a threshold.
    pub fn majority(keys: Vec<VerifyingKey>) -> Result<Self, DirectoryError> {
        let threshold = keys.len() / 2 + 1;
        Self::new(keys, threshold)
    }

    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Whether `signers` include at least `threshold` of these keys.
    pub fn approve(&self, signers: &[VerifyingKey]) -> bool {
        self.keys.iter().filter(|key| signers.contains(key)).count() >= self.threshold
    }

    /// For keeping: the threshold as one byte, then the keys.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![self.threshold as u8];
        for key in &self.keys {
            bytes.extend_from_slice(key.as_bytes());
        }
        bytes
    }

    /// Reads what [`Authorities::to_bytes`] wrote; `None` if it is not that.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&threshold, keys) = bytes.split_first()?;
        if keys.len() % 32 != 0 {
            return None;
        }
        let keys = keys
            .chunks_exact(32)
            .map(|chunk| VerifyingKey::try_from(chunk).ok())
            .collect::<Option<Vec<_>>>()?;
        Self::new(keys, usize::from(threshold)).ok()
    }
}

impl std::fmt::Display for Authorities {
    /// `<key>` for one authority, `2 of <key>, <key>, <key>` for several.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.keys.len() > 1 {
            write!(f, "{} of ", self.threshold)?;
        }
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|key| hex::encode(key.as_bytes()))
            .collect();
        f.write_str(&keys.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    fn key(n: u8) -> VerifyingKey {
        SigningKey::from_bytes(&[n; 32]).verifying_key()
    }

    #[test]
    fn a_threshold_of_listed_keys_approves() {
        let three = Authorities::new(vec![key(1), key(2), key(3)], 2).unwrap();
        assert!(three.approve(&[key(1), key(3)]));
        assert!(!three.approve(&[key(2)]));
        assert!(
            !three.approve(&[key(2), key(9)]),
            "unlisted keys do not count"
        );
        assert_eq!(Authorities::majority(vec![key(1)]).unwrap().threshold(), 1);
        assert_eq!(
            Authorities::majority(vec![key(1), key(2)])
                .unwrap()
                .threshold(),
            2
        );
        assert_eq!(
            Authorities::from_bytes(&three.to_bytes()),
            Some(three.clone())
        );
        assert_eq!(Authorities::from_bytes(&[1, 2, 3]), None);
        assert!(three.to_string().starts_with("2 of "));
    }

    #[test]
    fn refuses_sets_that_cannot_work() {
        assert_eq!(
            Authorities::new(vec![], 1),
            Err(DirectoryError::AuthorityCount(0))
        );
        assert_eq!(
            Authorities::new(vec![key(1), key(1)], 1),
            Err(DirectoryError::DuplicateAuthority)
        );
        assert_eq!(
            Authorities::new(vec![key(1)], 2),
            Err(DirectoryError::Threshold {
                threshold: 2,
                authorities: 1
            })
        );
        assert!(Authorities::new(vec![key(1)], 0).is_err());
    }
}
