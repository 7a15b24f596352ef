//! The network's voucher issuer, as the network file names it: the relay that signs vouchers
//! and its public keys, one per key epoch. A network file without `[issuer]` asks for no
//! vouchers.
//!
//! ```toml
//! [issuer]
//! relay = "<64 hex: the issuer relay's fingerprint; one of the [[relay]]s>"
//! keys = [{ epoch = 1, public_key = "<hex: RSA-2048 public key, DER>" }]
//! ```
//!
//! Its signed bytes follow the relays' (see the seal module): `u8 1 | [32] relay |
//! u32 key count | per key: u32 epoch | u32 length | DER`. A file without an issuer adds
//! nothing, so files signed before vouchers existed keep their signatures.

use serde::Deserialize;
use sotto_proto::voucher::VoucherKey;
use sotto_proto::Fingerprint;

use super::DirectoryError;

/// Most issuer keys a network file lists: a key per epoch while older vouchers are spent.
pub const MAX_ISSUER_KEYS: usize = 8;

/// Who issues the network's vouchers, and the keys hosts accept them under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherIssuer {
    relay: Fingerprint,
    keys: Vec<VoucherKey>,
}

impl VoucherIssuer {
    /// An issuer with at least one and at most [`MAX_ISSUER_KEYS`] keys, epochs distinct.
    pub fn new(relay: Fingerprint, keys: Vec<VoucherKey>) -> Result<Self, DirectoryError> {
        if keys.is_empty() || keys.len() > MAX_ISSUER_KEYS {
            return Err(DirectoryError::IssuerKeyCount(keys.len()));
        }
        for (index, key) in keys.iter().enumerate() {
            if keys[..index].iter().any(|k| k.epoch() == key.epoch()) {
                return Err(DirectoryError::IssuerEpochTwice(key.epoch()));
            }
        }
        Ok(Self { relay, keys })
    }

    /// The relay that answers `issue` requests.
    pub fn relay(&self) -> &Fingerprint {
        &self.relay
    }

    /// The keys hosts accept vouchers under, in file order.
    pub fn keys(&self) -> &[VoucherKey] {
        &self.keys
    }

    /// The key new vouchers are asked for: the highest epoch.
    pub fn newest(&self) -> &VoucherKey {
        // `new` refuses an issuer without keys.
        self.keys
            .iter()
            .max_by_key(|key| key.epoch())
            .unwrap_or(&self.keys[0])
    }

    pub(super) fn signed_bytes(&self, bytes: &mut Vec<u8>) {
        bytes.push(1);
        bytes.extend_from_slice(self.relay.as_bytes());
        put_u32(bytes, self.keys.len());
        for key in &self.keys {
            bytes.extend_from_slice(&key.epoch().to_be_bytes());
            put_u32(bytes, key.der().len());
            bytes.extend_from_slice(key.der());
        }
    }

    /// The `[issuer]` section alone, as the issuer relay hands it to the authorities.
    pub fn to_toml(&self) -> String {
        self.toml_lines().trim_start().to_string()
    }

    /// Reads a file holding only an `[issuer]` section (what [`VoucherIssuer::to_toml`]
    /// writes), checked as the network file checks it, except that whether its relay is
    /// admitted is the directory's to say.
    pub fn from_toml(text: &str) -> Result<Self, DirectoryError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Section {
            issuer: IssuerEntry,
        }
        let section: Section = super::descriptor::from_toml(text)?;
        section.issuer.decode()
    }

    pub(super) fn toml_lines(&self) -> String {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|key| {
                format!(
                    "{{ epoch = {}, public_key = \"{}\" }}",
                    key.epoch(),
                    hex::encode(key.der())
                )
            })
            .collect();
        format!(
            "\n[issuer]\nrelay = \"{}\"\nkeys = [{}]\n",
            hex::encode(self.relay.as_bytes()),
            keys.join(", ")
        )
    }
}

fn put_u32(bytes: &mut Vec<u8>, len: usize) {
    bytes.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

/// `[issuer]` as written, before any check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IssuerEntry {
    relay: String,
    keys: Vec<IssuerKeyEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerKeyEntry {
    epoch: u32,
    public_key: String,
}

impl IssuerEntry {
    pub(super) fn decode(self) -> Result<VoucherIssuer, DirectoryError> {
        let mut relay = [0u8; 32];
        hex::decode_to_slice(&self.relay, &mut relay).map_err(|_| DirectoryError::IssuerRelay)?;
        let keys = self
            .keys
            .into_iter()
            .map(|entry| {
                let der = hex::decode(&entry.public_key)
                    .map_err(|_| DirectoryError::IssuerKey(entry.epoch))?;
                VoucherKey::from_der(entry.epoch, &der)
                    .map_err(|_| DirectoryError::IssuerKey(entry.epoch))
            })
            .collect::<Result<Vec<_>, _>>()?;
        VoucherIssuer::new(Fingerprint::from_bytes(relay), keys)
    }
}
