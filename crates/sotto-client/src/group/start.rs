//! Founding a group and joining one. Neither opens a transaction: the caller stores the
//! group's record in the same one.

use openmls::prelude::*;
use sotto_proto::group::{Member, Role, Roster};
use sotto_proto::Id;

use super::roster::{capabilities, extensions, identity, roster};
use crate::conversation::mls::{self, failed};
use crate::conversation::ConversationError;
use crate::store::Store;

/// Founds a group named `name` with this device alone in it, as its owner, shown as
/// `own_name` and reading the group mailbox with `read_id`. Returns the group id.
pub fn found(
    store: &Store,
    name: &str,
    own_name: &str,
    read_id: Id,
) -> Result<Vec<u8>, ConversationError> {
    let provider = store.provider();
    let (signer, credential) = mls::new_signer(&provider)?;
    let roster = Roster {
        name: name.to_string(),
        description: String::new(),
        members: vec![Member {
            identity: identity(&credential.credential).map_err(|detail| {
                ConversationError::Mls {
                    context: "founding a group",
                    detail,
                }
            })?,
            role: Role::Owner,
            name: own_name.to_string(),
            read_id,
        }],
    };
    let config = mls::config_builder()
        .capabilities(capabilities())
        .with_group_context_extensions(extensions(&roster)?)
        .build();
    let group = MlsGroup::new(&provider, &signer, &config, credential)
        .map_err(failed("founding a group"))?;
    Ok(group.group_id().as_slice().to_vec())
}

/// A fresh key package for joining one group: its own signature key and random identity,
/// and a leaf that supports the roster. Returns the package and its signature key's public
/// half (whose private half is stored).
pub fn key_package(store: &Store) -> Result<(Vec<u8>, Vec<u8>), ConversationError> {
    let provider = store.provider();
    let (signer, credential) = mls::new_signer(&provider)?;
    let builder = KeyPackage::builder().leaf_node_capabilities(capabilities());
    let bytes = mls::key_package_bytes_from(builder, &provider, &signer, credential)?;
    Ok((bytes, signer.public().to_vec()))
}

/// Joins the group `welcome` brings this device into. Returns the group id and its roster,
/// which must list this device reading with `read_id`. Anything that does not verify is
/// [`ConversationError::Rejected`], and leaves nothing behind.
pub fn join(
    store: &Store,
    welcome: &[u8],
    read_id: &Id,
) -> Result<(Vec<u8>, Roster), ConversationError> {
    let rejected = ConversationError::Rejected;
    let provider = store.provider();
    let welcome = mls::welcome(welcome).map_err(rejected)?;
    let group = StagedWelcome::new_from_welcome(&provider, &mls::join_config(), welcome, None)
        .and_then(|staged| staged.into_group(&provider))
        .map_err(|e| rejected(format!("the group's welcome does not open: {e}")))?;
    let roster = roster(&group).map_err(|e| rejected(e.to_string()))?;
    let own = group
        .own_leaf_node()
        .map(|leaf| identity(leaf.credential()))
        .transpose()
        .map_err(rejected)?
        .and_then(|own| roster.member(&own).cloned());
    match own {
        Some(member) if member.read_id == *read_id => {
            Ok((group.group_id().as_slice().to_vec(), roster))
        }
        _ => Err(rejected(
            "the group's roster does not list this device with its reader".into(),
        )),
    }
}
