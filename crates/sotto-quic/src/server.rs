//! The relay's side of a pinned connection: a TLS certificate self-signed with the relay's
//! identity key, which is what clients pin ([`crate::pinned_client_config`]), and the QUIC
//! stateless-reset key, derived from the same identity.

use std::sync::Arc;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use quinn::crypto::rustls::QuicServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sotto_proto::ALPN;

use crate::TlsError;

/// A QUIC server configuration presenting a TLS 1.3 certificate self-signed with `identity`.
pub fn server_config(identity: &SigningKey) -> Result<quinn::ServerConfig, TlsError> {
    let pkcs8 = identity.to_pkcs8_der()?;
    let pkcs8 = PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec());
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)?;
    let params = rcgen::CertificateParams::new(vec!["sotto-relay".to_string()])?;
    let cert = params.self_signed(&key_pair)?;
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(chain, PrivateKeyDer::Pkcs8(pkcs8))?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let tls = QuicServerConfig::try_from(tls)?;
    Ok(quinn::ServerConfig::with_crypto(Arc::new(tls)))
}

/// An endpoint configuration whose stateless resets are signed with a key derived from
/// `identity`, so a relay that restarted after a crash resets its old connections at once
/// instead of leaving clients waiting for an idle timeout.
pub fn endpoint_config(identity: &SigningKey) -> quinn::EndpointConfig {
    let identity = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &identity.to_bytes());
    let derived = ring::hmac::sign(&identity, b"sotto/quic-stateless-reset/v1");
    let reset_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref());
    quinn::EndpointConfig::new(Arc::new(reset_key))
}

#[cfg(test)]
mod tests;
