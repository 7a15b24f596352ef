//! Starting a conversation: the answering side creates the MLS group with the link maker's key
//! package ([`start`]); the link maker joins from the answer ([`join`]). Neither opens a
//! transaction: the caller stores the conversation in the same one. [`forget`] undoes either.

use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use sotto_proto::conversation::{Answer, Content};

use super::mls::{self, failed};
use super::{encoding, ConversationError};
use crate::store::Store;

/// Creates a group of this device and the owner of `theirs`, and seals `introduction` in it.
/// Returns the group id and the answer for the other side.
pub fn start(
    store: &Store,
    theirs: KeyPackage,
    introduction: &Content,
) -> Result<(Vec<u8>, Answer), ConversationError> {
    let provider = store.provider();
    let (signer, credential) = mls::new_signer(&provider)?;
    let mut group = MlsGroup::new(&provider, &signer, &mls::create_config(), credential)
        .map_err(failed("creating the conversation"))?;
    let (_commit, welcome, _) = group
        .add_members(&provider, &signer, &[theirs])
        .map_err(failed("adding the contact"))?;
    group
        .merge_pending_commit(&provider)
        .map_err(failed("adding the contact"))?;
    let introduction = introduction
        .encode()
        .map_err(encoding("the introduction"))?;
    let introduction = group
        .create_message(&provider, &signer, &introduction)
        .map_err(failed("sealing the introduction"))?;
    let answer = Answer {
        welcome: mls::to_bytes(&welcome)?,
        introduction: mls::to_bytes(&introduction)?,
    };
    Ok((group.group_id().as_slice().to_vec(), answer))
}

/// Joins the group an answer welcomes this device to. Returns the group id and the
/// introduction. Anything that does not verify is [`ConversationError::Rejected`].
pub fn join(store: &Store, answer: &[u8]) -> Result<(Vec<u8>, Content), ConversationError> {
    let rejected = ConversationError::Rejected;
    let answer = Answer::decode(answer).map_err(|e| rejected(e.to_string()))?;
    let provider = store.provider();
    let welcome = mls::welcome(&answer.welcome).map_err(rejected)?;
    let mut group = StagedWelcome::new_from_welcome(&provider, &mls::join_config(), welcome, None)
        .and_then(|staged| staged.into_group(&provider))
        .map_err(|e| rejected(format!("the welcome does not open: {e}")))?;
    let introduction = mls::protocol_message(&answer.introduction).map_err(rejected)?;
    let processed = group
        .process_message(&provider, introduction)
        .map_err(|e| rejected(format!("the introduction does not verify: {e}")))?;
    let ProcessedMessageContent::ApplicationMessage(plain) = processed.into_content() else {
        return Err(rejected("the introduction is not a message".into()));
    };
    let introduction = Content::decode(&plain.into_bytes()).map_err(|e| rejected(e.to_string()))?;
    Ok((group.group_id().as_slice().to_vec(), introduction))
}

/// Forgets a conversation this device started or joined: its MLS state, its signature key
/// (made for this conversation alone) and its record, in one transaction.
pub fn forget(store: &Store, group_id: &[u8]) -> Result<(), ConversationError> {
    store.transaction(|store| {
        let provider = store.provider();
        let mut group = mls::load_group(&provider, group_id)?;
        let own_key = group
            .own_leaf_node()
            .map(|leaf| leaf.signature_key().as_slice().to_vec());
        group
            .delete(provider.storage())
            .map_err(failed("forgetting the conversation"))?;
        if let Some(key) = own_key {
            SignatureKeyPair::delete(
                provider.storage(),
                &key,
                mls::CIPHERSUITE.signature_algorithm(),
            )
            .map_err(failed("forgetting the conversation's signature key"))?;
        }
        store.remove_conversation(group_id)?;
        Ok(())
    })
}
