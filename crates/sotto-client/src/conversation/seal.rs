//! Sealing what a device writes to a conversation mailbox: application messages and
//! self-updates, each recorded in the outbox in the same transaction (see `apply`).

use openmls::prelude::*;

use super::apply::digest;
use super::mls::{self, failed};
use super::ConversationError;
use crate::store::{Conversation, OutboxEntry, Store, StoreError};

/// Seals encoded `content` in the conversation's current epoch. `record` stores what goes with
/// it, in the same transaction. Returns the bytes to write.
pub fn seal(
    store: &Store,
    conversation: &Conversation,
    content: Vec<u8>,
    record: impl FnOnce(&Store) -> Result<(), StoreError>,
) -> Result<Vec<u8>, ConversationError> {
    store.transaction(|store| {
        let provider = store.provider();
        let mut group = mls::load_group(&provider, &conversation.group_id)?;
        let signer = mls::own_signer(&provider, &group)?;
        let message = group
            .create_message(&provider, &signer, &content)
            .map_err(failed("sealing a message"))?;
        let wire = mls::to_bytes(&message)?;
        store.add_outbox(
            conversation.number,
            &OutboxEntry {
                digest: digest(&wire),
                epoch: group.epoch().as_u64(),
                content: Some(content),
            },
        )?;
        record(store)?;
        Ok(wire)
    })
}

/// A commit giving this device a fresh leaf key, pending until the host's order decides it.
pub fn seal_self_update(
    store: &Store,
    conversation: &Conversation,
) -> Result<Vec<u8>, ConversationError> {
    store.transaction(|store| {
        let provider = store.provider();
        let mut group = mls::load_group(&provider, &conversation.group_id)?;
        let signer = mls::own_signer(&provider, &group)?;
        let epoch = group.epoch().as_u64();
        let bundle = group
            .self_update(&provider, &signer, LeafNodeParameters::default())
            .map_err(failed("making a self-update"))?;
        let wire = mls::to_bytes(&bundle.into_contents().0)?;
        store.add_outbox(
            conversation.number,
            &OutboxEntry {
                digest: digest(&wire),
                epoch,
                content: None,
            },
        )?;
        Ok(wire)
    })
}

/// Drops a commit of this device (a self-update, a group change) that never reached the host.
pub fn drop_pending_commit(
    store: &Store,
    conversation: &Conversation,
) -> Result<(), ConversationError> {
    store.transaction(|store| {
        let provider = store.provider();
        let mut group = mls::load_group(&provider, &conversation.group_id)?;
        group
            .clear_pending_commit(provider.storage())
            .map_err(failed("dropping an unsent commit"))
    })
}

/// Whether the conversation waits for the host's order to decide a commit of this device.
pub fn update_pending(
    store: &Store,
    conversation: &Conversation,
) -> Result<bool, ConversationError> {
    let provider = store.provider();
    Ok(mls::load_group(&provider, &conversation.group_id)?
        .pending_commit()
        .is_some())
}
