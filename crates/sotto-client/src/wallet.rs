//! The device's vouchers: how one is kept in the store, and when the wallet refills.
//!
//! A wallet entry is `version u8 = 1 | issuer key digest [32] | host [32] | voucher (292
//! bytes)`. The digest (SHA-256 of the issuer key's DER) says under which key the voucher was
//! issued, so a device spends only vouchers the network file it reads still accepts; the host
//! is the one relay the voucher is good at, drawn by stake when it was issued, as a new
//! mailbox's host is: the mailbox it pays for goes there.

use sha2::{Digest, Sha256};
use sotto_proto::voucher::{Voucher, VoucherKey};
use sotto_proto::{DecodeError, Fingerprint};

const VERSION: u8 = 1;
/// Below this many usable vouchers the wallet refills before the next creation.
pub const LOW_WATER: usize = 3;
/// How many vouchers a refill asks for at most (the issuer's allowance may allow fewer).
pub const REFILL: usize = 8;

/// The SHA-256 of an issuer key's DER: how wallet entries name their key.
pub fn key_digest(key: &VoucherKey) -> [u8; 32] {
    Sha256::digest(key.der()).into()
}

/// One stored voucher, the issuer key it belongs to and the host it is good at.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    pub key_digest: [u8; 32],
    pub host: Fingerprint,
    pub voucher: Voucher,
}

sotto_proto::redacted_debug!(Entry);

impl Entry {
    /// Bytes of an encoded entry.
    pub const LEN: usize = 1 + 32 + 32 + Voucher::LEN;

    pub fn new(key: &VoucherKey, host: Fingerprint, voucher: Voucher) -> Self {
        Self {
            key_digest: key_digest(key),
            host,
            voucher,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN);
        out.push(VERSION);
        out.extend_from_slice(&self.key_digest);
        out.extend_from_slice(self.host.as_bytes());
        self.voucher.encode(&mut out);
        out
    }

    /// Reads one entry: refuses another version, a short or long record.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (&version, rest) = bytes.split_first().ok_or(DecodeError::Truncated {
            what: "wallet entry version",
            needed: 1,
        })?;
        if version != VERSION {
            return Err(DecodeError::UnknownCode {
                what: "wallet entry version",
                code: version,
            });
        }
        let (key_digest, rest) = split32(rest, "wallet entry key digest")?;
        let (host, voucher) = split32(rest, "wallet entry host")?;
        Ok(Self {
            key_digest,
            host: Fingerprint::from_bytes(host),
            voucher: Voucher::from_bytes(voucher)?,
        })
    }
}

fn split32<'a>(bytes: &'a [u8], what: &'static str) -> Result<([u8; 32], &'a [u8]), DecodeError> {
    if bytes.len() < 32 {
        return Err(DecodeError::Truncated {
            what,
            needed: 32 - bytes.len(),
        });
    }
    let (head, rest) = bytes.split_at(32);
    let mut out = [0u8; 32];
    out.copy_from_slice(head);
    Ok((out, rest))
}

/// How many vouchers to ask for before a creation, holding `usable`: none while the wallet is
/// above its low-water mark, so a person never waits for a refill they did not need.
pub fn refill_count(usable: usize) -> usize {
    if usable >= LOW_WATER {
        0
    } else {
        REFILL - usable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_proto::voucher::{BLIND_LEN, VOUCHER_NONCE_LEN};

    fn entry() -> Entry {
        Entry {
            key_digest: [4; 32],
            host: Fingerprint::from_bytes([7; 32]),
            voucher: Voucher {
                epoch: 9,
                nonce: [5; VOUCHER_NONCE_LEN],
                signature: [6; BLIND_LEN],
            },
        }
    }

    #[test]
    fn entries_read_back() {
        let bytes = entry().encode();
        assert_eq!(bytes.len(), Entry::LEN);
        assert_eq!(Entry::decode(&bytes).unwrap(), entry());
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        let bytes = entry().encode();
        assert!(matches!(
            Entry::decode(&[]),
            Err(DecodeError::Truncated {
                what: "wallet entry version",
                ..
            })
        ));
        let mut other = bytes.clone();
        other[0] = 2;
        assert!(matches!(
            Entry::decode(&other),
            Err(DecodeError::UnknownCode { code: 2, .. })
        ));
        assert!(matches!(
            Entry::decode(&bytes[..20]),
            Err(DecodeError::Truncated {
                what: "wallet entry key digest",
                ..
            })
        ));
        assert!(matches!(
            Entry::decode(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated { .. })
        ));
        let mut long = bytes;
        long.push(0);
        assert!(matches!(
            Entry::decode(&long),
            Err(DecodeError::Trailing(1))
        ));
    }

    proptest::proptest! {
        /// Any entry reads back from its bytes, and any bytes that read as an entry are its
        /// one encoding.
        #[test]
        fn entries_round_trip(
            digest in proptest::prelude::any::<[u8; 32]>(),
            host in proptest::prelude::any::<[u8; 32]>(),
            epoch in proptest::prelude::any::<u32>(),
            nonce in proptest::prelude::any::<[u8; VOUCHER_NONCE_LEN]>(),
            signature in proptest::collection::vec(proptest::prelude::any::<u8>(), BLIND_LEN),
            cut in 0..Entry::LEN,
        ) {
            let entry = Entry {
                key_digest: digest,
                host: Fingerprint::from_bytes(host),
                voucher: Voucher {
                    epoch,
                    nonce,
                    signature: signature.try_into().unwrap_or([0; BLIND_LEN]),
                },
            };
            let bytes = entry.encode();
            proptest::prop_assert_eq!(Entry::decode(&bytes).unwrap(), entry);
            proptest::prop_assert!(Entry::decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn the_wallet_refills_only_when_low() {
        assert_eq!(refill_count(LOW_WATER), 0);
        assert_eq!(refill_count(REFILL), 0);
        assert_eq!(refill_count(0), REFILL);
        assert_eq!(refill_count(LOW_WATER - 1), REFILL - LOW_WATER + 1);
    }
}
