//! `issuer.toml` in a relay's data directory: present only on the relay the network file names
//! as its voucher issuer. Owner-only (0600): it holds the issuer's RSA secret keys.
//!
//! ```toml
//! per_device_per_day = 10
//! [[key]]
//! epoch = 1
//! secret_key = "<hex: RSA-2048 private key, PKCS#8 DER>"
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use sotto_onion::directory::Directory;
use sotto_proto::voucher::IssuerKey;
use sotto_proto::Fingerprint;
use sotto_quic::{write_private, Placement};
use thiserror::Error;

use crate::host::{Issuer, VoucherPolicy};

pub const ISSUER_FILE: &str = "issuer.toml";

#[derive(Debug, Error)]
pub enum IssuerFileError {
    #[error(
        "the network file names this relay as its voucher issuer, but {0} is missing; copy the \
         issuer's keys there (see docs/operator.md)"
    )]
    Missing(String),
    #[error("cannot use {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid issuer file: {reason}")]
    Parse { path: String, reason: String },
    #[error(
        "{path} has no key for issuer epoch {epoch}, which the network file lists; the relay \
         would issue vouchers no host accepts"
    )]
    NoKeyFor { path: String, epoch: u32 },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerFile {
    per_device_per_day: u32,
    key: Vec<KeyEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    epoch: u32,
    secret_key: String,
}

/// Writes a new issuer file with one fresh key of `epoch` (refuses to replace one).
pub fn create(dir: &Path, epoch: u32, per_device_per_day: u32) -> Result<Issuer, IssuerFileError> {
    let path = dir.join(ISSUER_FILE);
    let parse = |reason: String| IssuerFileError::Parse {
        path: path.display().to_string(),
        reason,
    };
    let key = IssuerKey::generate(epoch).map_err(|e| parse(e.to_string()))?;
    let file = IssuerFile {
        per_device_per_day,
        key: vec![KeyEntry {
            epoch,
            secret_key: hex::encode(key.to_der().map_err(|e| parse(e.to_string()))?),
        }],
    };
    let text = toml::to_string(&file).map_err(|e| parse(e.to_string()))?;
    write_private(&path, text.as_bytes(), Placement::New).map_err(|source| {
        IssuerFileError::Io {
            path: path.display().to_string(),
            source,
        }
    })?;
    Ok(Issuer {
        keys: vec![key],
        per_device_per_day,
    })
}

/// Reads the issuer file in `dir`; `None` if there is none.
pub fn load(dir: &Path) -> Result<Option<Issuer>, IssuerFileError> {
    let path = dir.join(ISSUER_FILE);
    let named = path.display().to_string();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(IssuerFileError::Io {
                path: named,
                source,
            })
        }
    };
    let parse = |reason: String| IssuerFileError::Parse {
        path: named.clone(),
        reason,
    };
    let file: IssuerFile = toml::from_str(&text).map_err(|e| parse(e.to_string()))?;
    let keys = file
        .key
        .iter()
        .map(|entry| {
            let der = hex::decode(&entry.secret_key)
                .map_err(|_| parse(format!("key of epoch {}: not hex", entry.epoch)))?;
            IssuerKey::from_der(entry.epoch, &der)
                .map_err(|e| parse(format!("key of epoch {}: {e}", entry.epoch)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Issuer {
        keys,
        per_device_per_day: file.per_device_per_day,
    }))
}

/// What the relay `own` with data in `dir` asks and issues on the network `directory`: no
/// vouchers without an issuer; the issuer's keys at every host; the issuer role, from its
/// file, on the issuer relay, which must hold the key of every epoch the file lists.
pub fn policy(
    directory: &Directory,
    own: &Fingerprint,
    dir: &Path,
) -> Result<VoucherPolicy, IssuerFileError> {
    let Some(listed) = directory.issuer() else {
        return Ok(VoucherPolicy::default());
    };
    let issuer = if listed.relay() == own {
        let path = dir.join(ISSUER_FILE);
        let issuer =
            load(dir)?.ok_or_else(|| IssuerFileError::Missing(path.display().to_string()))?;
        for key in listed.keys() {
            if !issuer.keys.iter().any(|k| k.public() == key) {
                return Err(IssuerFileError::NoKeyFor {
                    path: path.display().to_string(),
                    epoch: key.epoch(),
                });
            }
        }
        Some(issuer)
    } else {
        None
    };
    Ok(VoucherPolicy {
        accepted: listed.keys().to_vec(),
        own: *own,
        issuer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir::TempDir;

    #[test]
    fn an_issuer_file_reads_back_owner_only() {
        let dir = TempDir::new("issuer-file");
        let made = create(&dir.0, 2, 7).unwrap();
        let read = load(&dir.0).unwrap().unwrap();
        assert_eq!(read.per_device_per_day, 7);
        assert!(read.keys[0].public() == made.keys[0].public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.0.join(ISSUER_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            create(&dir.0, 2, 7).is_err(),
            "an issuer key is never overwritten"
        );
    }

    #[test]
    fn a_damaged_issuer_file_says_what_is_wrong() {
        let dir = TempDir::new("issuer-file");
        assert!(load(&dir.0).unwrap().is_none());
        std::fs::write(
            dir.0.join(ISSUER_FILE),
            "per_device_per_day = 1\n[[key]]\nepoch = 1\nsecret_key = \"zz\"\n",
        )
        .unwrap();
        let error = load(&dir.0).err().unwrap().to_string();
        assert!(error.contains("epoch 1: not hex"), "{error}");
    }
}
