//! The MLS settings every conversation uses and the few openmls calls the rest wraps.

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use rand::RngCore;

use super::ConversationError;
use crate::store::Provider;

/// Post-quantum hybrid (X-Wing: X25519 + ML-KEM-768) key exchange, ChaCha20-Poly1305, Ed25519.
pub const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_256_XWING_CHACHA20POLY1305_SHA256_Ed25519;
/// Application messages are padded to a multiple of this, so the host sees sizes only in
/// steps of it (every packet on the wire has one size anyway).
pub const PADDING: usize = 256;

pub(crate) fn failed<E: std::fmt::Display>(
    context: &'static str,
) -> impl FnOnce(E) -> ConversationError {
    move |error| ConversationError::Mls {
        context,
        detail: error.to_string(),
    }
}

/// No past epoch is kept (`max_past_epochs(0)`): once a commit is merged, the previous epoch's
/// secrets are gone, which is what forward secrecy asks. A message that crossed a commit is
/// sent again by its sender instead (see `apply`).
pub fn create_config() -> MlsGroupCreateConfig {
    config_builder().build()
}

/// The settings of [`create_config`], for a group to add its own to.
pub(crate) fn config_builder() -> MlsGroupCreateConfigBuilder {
    MlsGroupCreateConfig::builder()
        .ciphersuite(CIPHERSUITE)
        .use_ratchet_tree_extension(true)
        .padding_size(PADDING)
        .max_past_epochs(0)
}

pub fn join_config() -> MlsGroupJoinConfig {
    create_config().join_config().clone()
}

/// A fresh signature key for one conversation, stored, with a credential that names nobody:
/// each contact sees a different, random identity.
pub fn new_signer(
    provider: &Provider<'_>,
) -> Result<(SignatureKeyPair, CredentialWithKey), ConversationError> {
    let signer = SignatureKeyPair::new(CIPHERSUITE.signature_algorithm())
        .map_err(failed("making a signature key"))?;
    signer
        .store(provider.storage())
        .map_err(failed("storing a signature key"))?;
    let mut identity = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut identity);
    let credential = CredentialWithKey {
        credential: BasicCredential::new(identity.to_vec()).into(),
        signature_key: signer.public().into(),
    };
    Ok((signer, credential))
}

pub fn signer(
    provider: &Provider<'_>,
    public: &[u8],
) -> Result<SignatureKeyPair, ConversationError> {
    SignatureKeyPair::read(
        provider.storage(),
        public,
        CIPHERSUITE.signature_algorithm(),
    )
    .ok_or(ConversationError::Mls {
        context: "loading this device's signature key",
        detail: "it is missing from the client database".into(),
    })
}

pub fn own_signer(
    provider: &Provider<'_>,
    group: &MlsGroup,
) -> Result<SignatureKeyPair, ConversationError> {
    let leaf = group.own_leaf_node().ok_or(ConversationError::Mls {
        context: "loading this device's signature key",
        detail: "the device is no longer in the group".into(),
    })?;
    signer(provider, leaf.signature_key().as_slice())
}

pub fn load_group(provider: &Provider<'_>, group_id: &[u8]) -> Result<MlsGroup, ConversationError> {
    MlsGroup::load(provider.storage(), &GroupId::from_slice(group_id))
        .map_err(failed("loading the conversation's MLS state"))?
        .ok_or(ConversationError::Mls {
            context: "loading the conversation's MLS state",
            detail: "it is missing from the client database".into(),
        })
}

/// Parses and checks a KeyPackage from someone else: signature, lifetime, and our ciphersuite.
pub fn their_key_package(provider: &Provider<'_>, bytes: &[u8]) -> Result<KeyPackage, String> {
    let key_package = KeyPackageIn::tls_deserialize_exact(bytes)
        .map_err(|e| format!("its key package does not parse: {e}"))?
        .validate(provider.crypto(), ProtocolVersion::Mls10)
        .map_err(|e| format!("its key package does not verify: {e}"))?;
    if key_package.ciphersuite() != CIPHERSUITE {
        return Err(format!(
            "its key package uses ciphersuite {:?}, not {CIPHERSUITE:?}",
            key_package.ciphersuite()
        ));
    }
    Ok(key_package)
}

pub fn key_package_bytes(
    provider: &Provider<'_>,
    signer: &SignatureKeyPair,
    credential: CredentialWithKey,
) -> Result<Vec<u8>, ConversationError> {
    key_package_bytes_from(KeyPackage::builder(), provider, signer, credential)
}

/// A key package made by `builder` (which may set capabilities), encoded.
pub(crate) fn key_package_bytes_from(
    builder: KeyPackageBuilder,
    provider: &Provider<'_>,
    signer: &SignatureKeyPair,
    credential: CredentialWithKey,
) -> Result<Vec<u8>, ConversationError> {
    let bundle = builder
        .build(CIPHERSUITE, provider, signer, credential)
        .map_err(failed("making a key package"))?;
    bundle
        .key_package()
        .tls_serialize_detached()
        .map_err(failed("encoding a key package"))
}

pub fn to_bytes(message: &MlsMessageOut) -> Result<Vec<u8>, ConversationError> {
    message
        .to_bytes()
        .map_err(failed("encoding an MLS message"))
}

/// An MLS message from the wire, as openmls processes it.
pub fn protocol_message(bytes: &[u8]) -> Result<ProtocolMessage, String> {
    MlsMessageIn::tls_deserialize_exact(bytes)
        .map_err(|e| format!("not an MLS message: {e}"))?
        .try_into_protocol_message()
        .map_err(|_| "not an MLS group message".to_string())
}

pub fn welcome(bytes: &[u8]) -> Result<Welcome, String> {
    match MlsMessageIn::tls_deserialize_exact(bytes)
        .map_err(|e| format!("the welcome is not an MLS message: {e}"))?
        .extract()
    {
        MlsMessageBodyIn::Welcome(welcome) => Ok(welcome),
        _ => Err("the welcome is another kind of MLS message".into()),
    }
}
