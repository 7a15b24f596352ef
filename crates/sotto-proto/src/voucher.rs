//! Vouchers: unlinkable one-use tokens by RFC 9474 blind RSA (RSABSSA-SHA384-PSS-Deterministic,
//! 2048-bit keys), which a network's issuer signs blind and a host accepts once for a mailbox
//! creation or a link.
//!
//! A voucher is `key epoch u32 | nonce [32] | signature [256]`: the issuer's signature over
//! [`VOUCHER_CONTEXT`], the epoch, the fingerprint of the one host it may be spent at, and the
//! nonce. The client draws the nonce and the host and blinds them; the issuer signs the blinded
//! message without seeing either, so the voucher a host later sees cannot be matched to the
//! issuance. The host is not on the wire: each host checks the signature with its own
//! fingerprint, so a voucher spends at one host only, once (its spent set).

use blind_rsa_signatures::{
    BlindSignature, BlindingResult, DefaultRng, KeyPairSha384PSSDeterministic as KeyPair,
    PublicKeySha384PSSDeterministic as PublicKey, SecretKeySha384PSSDeterministic as SecretKey,
    Signature,
};
use thiserror::Error;

use crate::cursor::Cursor;
use crate::{DecodeError, Fingerprint};

/// The issuer's key size: a blinded message, a blind signature and a signature are each this
/// many bytes.
pub const VOUCHER_KEY_BITS: usize = 2048;
/// Bytes of an RSA-2048 signature, blinded message or blind signature.
pub const BLIND_LEN: usize = VOUCHER_KEY_BITS / 8;
/// Bytes of a voucher's random nonce.
pub const VOUCHER_NONCE_LEN: usize = 32;
/// Largest number of vouchers one `issue` request asks for: its blinded messages and the
/// answer's blind signatures fit one frame.
pub const MAX_ISSUE: usize = 32;
/// Largest link data a paid `put_link` carries: the voucher takes 292 bytes of the frame.
pub const MAX_PAID_LINK_DATA_LEN: usize = 13_889;
/// What the issuer's signature covers before the epoch and nonce.
pub const VOUCHER_CONTEXT: &[u8] = b"sotto voucher v1\0";

/// Why a voucher key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VoucherError {
    #[error("the issuer key is not a {VOUCHER_KEY_BITS}-bit RSA public key in DER")]
    PublicKey,
    #[error("the issuer secret key is not a {VOUCHER_KEY_BITS}-bit RSA private key in DER")]
    SecretKey,
    #[error("the issuer's blind signature does not finalize to a valid voucher")]
    BadBlindSignature,
    #[error("blind RSA failed: {0}")]
    Rsa(String),
}

/// One spendable voucher.
#[derive(Clone, PartialEq, Eq)]
pub struct Voucher {
    /// The epoch of the issuer key that signed it.
    pub epoch: u32,
    pub nonce: [u8; VOUCHER_NONCE_LEN],
    pub signature: [u8; BLIND_LEN],
}

crate::redacted_debug!(Voucher);

impl Voucher {
    /// Bytes of an encoded voucher.
    pub const LEN: usize = 4 + VOUCHER_NONCE_LEN + BLIND_LEN;

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.signature);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN);
        self.encode(&mut out);
        out
    }

    /// Decodes exactly one voucher: no trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut cur = Cursor::new(bytes);
        let voucher = Self::decode(&mut cur)?;
        cur.finish()?;
        Ok(voucher)
    }

    pub(crate) fn decode(cur: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            epoch: cur.u32("voucher key epoch")?,
            nonce: cur.array("voucher nonce")?,
            signature: cur.array("voucher signature")?,
        })
    }

    /// What the spent set keys the voucher by: its epoch and nonce. The signature is not part
    /// of it, so no second signature over the same nonce can spend it again.
    pub fn spent_key(&self) -> [u8; 4 + VOUCHER_NONCE_LEN] {
        let mut key = [0u8; 4 + VOUCHER_NONCE_LEN];
        key[..4].copy_from_slice(&self.epoch.to_be_bytes());
        key[4..].copy_from_slice(&self.nonce);
        key
    }
}

fn signed_message(epoch: u32, host: &Fingerprint, nonce: &[u8; VOUCHER_NONCE_LEN]) -> Vec<u8> {
    let mut message = Vec::with_capacity(VOUCHER_CONTEXT.len() + 4 + 32 + VOUCHER_NONCE_LEN);
    message.extend_from_slice(VOUCHER_CONTEXT);
    message.extend_from_slice(&epoch.to_be_bytes());
    message.extend_from_slice(host.as_bytes());
    message.extend_from_slice(nonce);
    message
}

/// An issuer's public key for one epoch, as the network file lists it.
#[derive(Clone, PartialEq, Eq)]
pub struct VoucherKey {
    epoch: u32,
    key: PublicKey,
    der: Vec<u8>,
}

impl std::fmt::Debug for VoucherKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoucherKey")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// The client's half of one voucher being issued: the nonce and the blinding secret, which
/// never leave the device.
#[derive(Clone)]
pub struct Blinded {
    host: Fingerprint,
    nonce: [u8; VOUCHER_NONCE_LEN],
    message: [u8; BLIND_LEN],
    blinding: BlindingResult,
}

crate::redacted_debug!(Blinded);

impl Blinded {
    /// The host the voucher will be good at.
    pub fn host(&self) -> &Fingerprint {
        &self.host
    }

    /// What the issuer signs.
    pub fn message(&self) -> [u8; BLIND_LEN] {
        self.message
    }
}

impl VoucherKey {
    /// Reads an issuer key from its DER (SubjectPublicKeyInfo or PKCS#1).
    pub fn from_der(epoch: u32, der: &[u8]) -> Result<Self, VoucherError> {
        let key = PublicKey::from_der(der).map_err(|_| VoucherError::PublicKey)?;
        if key.components().n().len() != BLIND_LEN {
            return Err(VoucherError::PublicKey);
        }
        Ok(Self {
            epoch,
            key,
            der: der.to_vec(),
        })
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The DER bytes the key was read from.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Whether this key signed the voucher for spending at `host`.
    pub fn verifies(&self, voucher: &Voucher, host: &Fingerprint) -> bool {
        voucher.epoch == self.epoch
            && self
                .key
                .verify(
                    &Signature(voucher.signature.to_vec()),
                    None,
                    signed_message(voucher.epoch, host, &voucher.nonce),
                )
                .is_ok()
    }

    /// Draws a fresh nonce and blinds it, for a voucher of this key to spend at `host`.
    pub fn blind(&self, host: &Fingerprint) -> Result<Blinded, VoucherError> {
        let mut nonce = [0u8; VOUCHER_NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let blinding = self
            .key
            .blind(&mut DefaultRng, signed_message(self.epoch, host, &nonce))
            .map_err(|e| VoucherError::Rsa(e.to_string()))?;
        let message = <[u8; BLIND_LEN]>::try_from(blinding.blind_message.as_slice())
            .map_err(|_| VoucherError::Rsa("blinded message of the wrong length".into()))?;
        Ok(Blinded {
            host: *host,
            nonce,
            message,
            blinding,
        })
    }

    /// Unblinds the issuer's answer into a voucher, and checks it: an issuer that signed with
    /// another key, or signed something else, gives no voucher.
    pub fn finalize(
        &self,
        blinded: &Blinded,
        blind_signature: &[u8; BLIND_LEN],
    ) -> Result<Voucher, VoucherError> {
        let signature = self
            .key
            .finalize(
                &BlindSignature(blind_signature.to_vec()),
                &blinded.blinding,
                signed_message(self.epoch, &blinded.host, &blinded.nonce),
            )
            .map_err(|_| VoucherError::BadBlindSignature)?;
        let signature = <[u8; BLIND_LEN]>::try_from(signature.0.as_slice())
            .map_err(|_| VoucherError::BadBlindSignature)?;
        Ok(Voucher {
            epoch: self.epoch,
            nonce: blinded.nonce,
            signature,
        })
    }
}

/// An issuer's secret key for one epoch.
#[derive(Clone)]
pub struct IssuerKey {
    epoch: u32,
    secret: SecretKey,
    public: VoucherKey,
}

crate::redacted_debug!(IssuerKey);

impl IssuerKey {
    /// A new key (takes a second or so: it finds two 1024-bit primes).
    pub fn generate(epoch: u32) -> Result<Self, VoucherError> {
        let pair = KeyPair::generate(&mut DefaultRng, VOUCHER_KEY_BITS)
            .map_err(|e| VoucherError::Rsa(e.to_string()))?;
        let der = pair.pk.to_der().map_err(|_| VoucherError::PublicKey)?;
        Ok(Self {
            epoch,
            public: VoucherKey::from_der(epoch, &der)?,
            secret: pair.sk,
        })
    }

    /// Reads a secret key from its PKCS#8 or PKCS#1 DER.
    pub fn from_der(epoch: u32, der: &[u8]) -> Result<Self, VoucherError> {
        let secret = SecretKey::from_der(der).map_err(|_| VoucherError::SecretKey)?;
        let public = secret.public_key().map_err(|_| VoucherError::SecretKey)?;
        let der = public.to_der().map_err(|_| VoucherError::SecretKey)?;
        Ok(Self {
            epoch,
            public: VoucherKey::from_der(epoch, &der).map_err(|_| VoucherError::SecretKey)?,
            secret,
        })
    }

    pub fn to_der(&self) -> Result<Vec<u8>, VoucherError> {
        self.secret.to_der().map_err(|_| VoucherError::SecretKey)
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn public(&self) -> &VoucherKey {
        &self.public
    }

    /// Signs one blinded message. The issuer learns nothing of the nonce inside.
    pub fn sign(&self, blinded: &[u8; BLIND_LEN]) -> Result<[u8; BLIND_LEN], VoucherError> {
        let signature = self
            .secret
            .blind_sign(blinded)
            .map_err(|e| VoucherError::Rsa(e.to_string()))?;
        let bytes = signature.0.as_slice();
        let mut out = [0u8; BLIND_LEN];
        let start = BLIND_LEN
            .checked_sub(bytes.len())
            .ok_or_else(|| VoucherError::Rsa("blind signature longer than the key".into()))?;
        out[start..].copy_from_slice(bytes);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// One key for every test here: generating one takes a while.
    pub(crate) fn issuer() -> &'static IssuerKey {
        static KEY: OnceLock<IssuerKey> = OnceLock::new();
        KEY.get_or_init(|| IssuerKey::generate(7).unwrap())
    }

    const HOST: Fingerprint = Fingerprint::from_bytes([3; 32]);

    fn issue(key: &IssuerKey) -> (Blinded, Voucher) {
        let blinded = key.public().blind(&HOST).unwrap();
        let signed = key.sign(&blinded.message()).unwrap();
        let voucher = key.public().finalize(&blinded, &signed).unwrap();
        (blinded, voucher)
    }

    #[test]
    fn an_issued_voucher_verifies_and_round_trips() {
        let (_, voucher) = issue(issuer());
        assert!(issuer().public().verifies(&voucher, &HOST));
        assert!(
            !issuer()
                .public()
                .verifies(&voucher, &Fingerprint::from_bytes([4; 32])),
            "a voucher is good at its own host only"
        );
        let bytes = voucher.to_bytes();
        assert_eq!(bytes.len(), Voucher::LEN);
        assert!(Voucher::from_bytes(&bytes).unwrap() == voucher);
    }

    #[test]
    fn the_issuer_never_sees_what_the_host_sees() {
        let (blinded, voucher) = issue(issuer());
        let message = blinded.message();
        let signed = issuer().sign(&message).unwrap();
        let spent = voucher.to_bytes();
        for seen in [&message[..], &signed[..]] {
            assert!(!spent.windows(16).any(|w| seen.windows(16).any(|s| s == w)));
        }
    }

    #[test]
    fn a_changed_voucher_does_not_verify() {
        let (_, voucher) = issue(issuer());
        let mut nonce = voucher.clone();
        nonce.nonce[0] ^= 1;
        let mut signature = voucher.clone();
        signature.signature[100] ^= 1;
        let mut epoch = voucher.clone();
        epoch.epoch += 1;
        for bad in [nonce, signature, epoch] {
            assert!(!issuer().public().verifies(&bad, &HOST));
        }
    }

    #[test]
    fn a_blind_signature_by_another_key_gives_no_voucher() {
        let other = IssuerKey::from_der(7, &issuer().to_der().unwrap()).unwrap();
        assert!(other.public() == issuer().public());
        let blinded = issuer().public().blind(&HOST).unwrap();
        let mut signed = issuer().sign(&blinded.message()).unwrap();
        signed[10] ^= 1;
        assert_eq!(
            issuer().public().finalize(&blinded, &signed).err(),
            Some(VoucherError::BadBlindSignature)
        );
    }

    #[test]
    fn bad_keys_and_truncated_vouchers_are_refused() {
        assert_eq!(
            VoucherKey::from_der(1, &[0x30, 0x03, 1, 2, 3]).err(),
            Some(VoucherError::PublicKey)
        );
        assert!(matches!(
            Voucher::from_bytes(&[0; Voucher::LEN - 1]),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            Voucher::from_bytes(&[0; Voucher::LEN + 1]),
            Err(DecodeError::Trailing(1))
        ));
    }
}
