//! The network file (`network.toml`): the directory as the network's authorities sign it.
//!
//! ```toml
//! # sotto network file: the admitted relays, their stake and onion keys, signed by the authorities.
//! # Epoch e runs from e * epoch_secs to (e + 1) * epoch_secs, unix seconds.
//! epoch_secs = 3600
//! distinct_subnets = true
//! authorities = ["<64 hex: an authority's Ed25519 public key>", "<another>", "<another>"]
//! threshold = 2
//! signatures = [
//!     { authority = "<64 hex>", signature = "<128 hex: over the content; see the seal module>" },
//!     { authority = "<64 hex>", signature = "<128 hex>" },
//! ]
//!
//! [[relay]]
//! address = "sotto-relay://9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a@127.0.0.1:4433"
//! operator = "north"
//! stake = 25000
//! onion_key = { epoch = 481000, valid_from = 1731600000, public_key = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" }
//! next_onion_key = { epoch = 481001, valid_from = 1731603600, public_key = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f" }
//! ```
//!
//! One `[[relay]]` per admitted relay, at least one. Unknown fields are refused rather than
//! ignored, so a misspelt field cannot leave a relay without what the writer meant it to have.
//! `distinct_subnets` may be left out and is then true.
//!
//! Every check of the content comes before the signatures', so a damaged file is refused with
//! what is wrong in it, not only "the signature does not match".

use serde::Deserialize;

use super::descriptor::{from_toml, DescriptorEntry, KeyEntry};
use super::issuer::IssuerEntry;
use super::{seal, Authorities, Directory, DirectoryError, Relay, Stake};

/// The first lines of every network file written, for whoever opens it.
pub(super) const FILE_HEADER: &str = "\
# sotto network file: the admitted relays, their stake and onion keys, signed by the authorities.
# Epoch e runs from e * epoch_secs to (e + 1) * epoch_secs, unix seconds.
";

/// The network file as written, before any check. [`NetworkFile::parse`] turns it into a
/// [`Directory`]; nothing else sees it unchecked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    epoch_secs: u64,
    #[serde(default = "subnet_rule_by_default")]
    distinct_subnets: bool,
    authorities: Vec<String>,
    threshold: u64,
    #[serde(default)]
    serial: u64,
    #[serde(default)]
    signatures: Vec<SignatureEntry>,
    /// Defaults to empty so that a file without relays gets [`DirectoryError::NoRelays`],
    /// which says what to add, rather than a generic missing-field message.
    #[serde(default)]
    relay: Vec<NetworkEntry>,
    /// Present when the network requires vouchers.
    issuer: Option<IssuerEntry>,
}

fn subnet_rule_by_default() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureEntry {
    authority: String,
    signature: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkEntry {
    address: String,
    operator: String,
    stake: u64,
    onion_key: KeyEntry,
    next_onion_key: KeyEntry,
}

impl NetworkFile {
    /// Reads a network file and checks it whole, its signatures last: a directory is either
    /// entirely valid and signed by enough of the authorities it names, or refused. Whether
    /// those are the authorities the reader trusts is the reader's check (see
    /// [`Directory::authorities`]).
    pub fn parse(text: &str) -> Result<Directory, DirectoryError> {
        let directory = Self::parse_unfinished(text)?;
        if !directory.is_approved() {
            return Err(DirectoryError::TooFewSignatures {
                signed: directory.signers().len(),
                needed: directory
                    .authorities()
                    .map_or(1, |authorities| authorities.threshold()),
            });
        }
        Ok(directory)
    }

    /// As [`NetworkFile::parse`], but content with fewer signatures than its threshold is
    /// taken too: for an authority that adds its own (`sotto network cosign`). Every signature
    /// there is must still be a listed authority's and match.
    pub fn parse_unfinished(text: &str) -> Result<Directory, DirectoryError> {
        let file: NetworkFile = from_toml(text)?;
        let relays = file
            .relay
            .into_iter()
            .enumerate()
            .map(|(index, entry)| entry.decode(index + 1))
            .collect::<Result<Vec<_>, _>>()?;
        let keys = file
            .authorities
            .iter()
            .map(|key| seal::authority_from_hex(key))
            .collect::<Result<Vec<_>, _>>()?;
        let threshold = usize::try_from(file.threshold).unwrap_or(usize::MAX);
        let mut directory =
            Directory::with_subnet_rule(file.epoch_secs, file.distinct_subnets, relays)?
                .with_authorities(Authorities::new(keys, threshold)?)
                .with_serial(file.serial);
        if let Some(issuer) = file.issuer {
            directory = directory.with_issuer(issuer.decode()?)?;
        }
        for entry in file.signatures {
            let authority = seal::authority_from_hex(&entry.authority)?;
            let signature = seal::signature_from_hex(&entry.signature)?;
            let named = || hex::encode(authority.as_bytes());
            if !directory
                .authorities()
                .is_some_and(|authorities| authorities.keys().contains(&authority))
            {
                return Err(DirectoryError::NotAnAuthority { authority: named() });
            }
            if directory.signers().contains(&authority) {
                return Err(DirectoryError::SignedTwice { authority: named() });
            }
            seal::verify(&directory, &authority, &signature)?;
            directory.signatures.push((authority, signature));
        }
        Ok(directory)
    }
}

impl NetworkEntry {
    fn decode(self, number: usize) -> Result<Relay, DirectoryError> {
        let descriptor = DescriptorEntry {
            address: self.address,
            onion_key: self.onion_key,
            next_onion_key: self.next_onion_key,
        }
        .decode(number)?;
        Ok(Relay {
            descriptor,
            stake: Stake {
                operator: self.operator,
                weight: self.stake,
            },
        })
    }
}

/// The network file for `directory` with the signatures it carries. Written by hand rather
/// than through serde so that each relay takes five readable lines and nothing here can fail.
pub(super) fn write(directory: &Directory) -> String {
    let quoted = |key: &ed25519_dalek::VerifyingKey| format!("\"{}\"", hex::encode(key.as_bytes()));
    let (keys, threshold) = directory.authorities().map_or((Vec::new(), 0), |a| {
        (a.keys().iter().map(quoted).collect(), a.threshold())
    });
    let mut text = format!(
        "{FILE_HEADER}epoch_secs = {}\ndistinct_subnets = {}\nauthorities = [{}]\nthreshold = {threshold}\nserial = {}\nsignatures = [\n",
        directory.epoch_secs,
        directory.distinct_subnets(),
        keys.join(", "),
        directory.serial,
    );
    for (authority, signature) in &directory.signatures {
        text.push_str(&format!(
            "    {{ authority = {}, signature = \"{}\" }},\n",
            quoted(authority),
            hex::encode(signature.to_bytes())
        ));
    }
    text.push_str("]\n");
    for relay in &directory.relays {
        let admission = format!(
            "operator = {}\nstake = {}\n",
            toml::Value::String(relay.stake.operator.clone()),
            relay.stake.weight
        );
        text.push_str("\n[[relay]]\n");
        text.push_str(&relay.descriptor.toml_lines(&admission));
    }
    if let Some(issuer) = directory.issuer() {
        text.push_str(&issuer.toml_lines());
    }
    text
}
