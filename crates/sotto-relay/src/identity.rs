//! The relay's long-term Ed25519 identity: its fingerprint is what clients pin, and its TLS
//! certificate is self-signed with the same key, so a connection is to this relay or fails.

use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sotto_proto::{Fingerprint, ALPN};
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
    #[error("cannot make the TLS certificate: {0}")]
    Certificate(String),
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

    /// Writes the secret key readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), IdentityError> {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let error = |source| IdentityError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(path).map_err(error)?;
        file.write_all(hex::encode(self.key.to_bytes()).as_bytes())
            .map_err(error)?;
        file.sync_all().map_err(error)
    }

    /// The key that signs QUIC stateless resets. Derived from the identity, so a relay that
    /// restarted after a crash resets its old connections at once instead of leaving clients
    /// waiting for an idle timeout.
    pub fn stateless_reset_key(&self) -> ring::hmac::Key {
        let identity = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.key.to_bytes());
        let derived = ring::hmac::sign(&identity, b"sotto/quic-stateless-reset/v1");
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref())
    }

    /// A TLS 1.3 server configuration presenting a certificate self-signed with the identity key.
    pub fn tls_server_config(&self) -> Result<rustls::ServerConfig, IdentityError> {
        let cert_error = |e: &dyn std::fmt::Display| IdentityError::Certificate(e.to_string());
        let pkcs8 = self.key.to_pkcs8_der().map_err(|e| cert_error(&e))?;
        let pkcs8 = PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec());
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)
            .map_err(|e| cert_error(&e))?;
        let params = rcgen::CertificateParams::new(vec!["sotto-relay".to_string()])
            .map_err(|e| cert_error(&e))?;
        let cert = params.self_signed(&key_pair).map_err(|e| cert_error(&e))?;
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| cert_error(&e))?
            .with_no_client_auth()
            .with_single_cert(chain, PrivateKeyDer::Pkcs8(pkcs8))
            .map_err(|e| cert_error(&e))?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
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

    #[test]
    fn the_certificate_is_made() {
        assert!(Identity::generate().tls_server_config().is_ok());
    }
}
