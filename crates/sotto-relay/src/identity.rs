//! The relay's long-term Ed25519 identity: its fingerprint is what clients pin, and its TLS
//! certificate is self-signed with the same key (`sotto_quic::server`), so a connection is to
//! this relay or fails.

use std::path::Path;

use ed25519_dalek::SigningKey;
use sotto_proto::Fingerprint;
use sotto_quic::{write_private, Placement};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum IdentityError {
    #[error("cannot read the identity key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the identity key {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("identity key file {path} must hold 64 hex digits")]
    Format { path: String },
}

pub struct Identity {
    key: SigningKey,
}

impl Identity {
    pub fn generate() -> Self {
        Self {
            key: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// The key itself, for signing with it. The same key file format serves the network's
    /// authority, whose key signs the network file (`sotto network authority`).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_key(self.key.verifying_key().as_bytes())
    }

    /// Reads a key written by [`Identity::save`].
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let text = std::fs::read_to_string(path).map_err(|source| IdentityError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| IdentityError::Format {
                path: path.display().to_string(),
            })?;
        Ok(Self {
            key: SigningKey::from_bytes(&bytes),
        })
    }

    /// Writes the secret key readable by its owner only, never over an existing key.
    pub fn save(&self, path: &Path) -> Result<(), IdentityError> {
        let hex = hex::encode(self.key.to_bytes());
        write_private(path, hex.as_bytes(), Placement::New).map_err(|source| IdentityError::Write {
            path: path.display().to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_identity_loads_with_the_same_fingerprint() {
        let path = std::env::temp_dir().join(format!("sotto-identity-{}", rand::random::<u64>()));
        let identity = Identity::generate();
        identity.save(&path).unwrap();
        assert!(
            identity.save(&path).is_err(),
            "an existing key is never overwritten"
        );
        assert_eq!(
            Identity::load(&path).unwrap().fingerprint(),
            identity.fingerprint()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_file(&path).unwrap();
    }
}
