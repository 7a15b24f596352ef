//! The commits an owner or admin makes: adding, removing, and changing the roster (roles,
//! name). Each is pending until the host's order decides it (see `conversation::apply`): the
//! first commit of an epoch wins, and a device whose commit lost makes it again on the new
//! epoch.

use openmls::prelude::*;
use sotto_proto::group::{Member, Role, Roster};

use super::roster::{extensions, identity, roster};
use super::rules::{check_commit, CommitChange};
use crate::conversation::apply::digest;
use crate::conversation::mls::{self, failed};
use crate::conversation::ConversationError;
use crate::files::MAX_OBJECT_LEN;
use crate::store::{Conversation, OutboxEntry, Store};

/// A commit to write, and the Welcome for those it adds.
pub struct Staged {
    pub wire: Vec<u8>,
    pub welcome: Option<Vec<u8>>,
}

/// Someone to add: their checked key package, and the roster entry they get.
#[derive(Clone)]
pub struct Joiner {
    pub key_package: KeyPackage,
    pub role: Role,
    pub name: String,
    pub read_id: sotto_proto::Id,
}

/// A change of the group, as its committer asks for it.
pub enum Edit {
    Add(Vec<Joiner>),
    /// Members to remove, by identity.
    Remove(Vec<Vec<u8>>),
    /// A member's new role, by identity.
    Role(Vec<u8>, Role),
    /// The group's new name and description.
    Rename {
        name: String,
        description: String,
    },
}

/// Stages the commit `edit` asks for, in the group's current epoch, recorded in the outbox in
/// the same transaction. Refused, before anything is made, when the roster does not allow it
/// this device (every member would reject it), or with [`ConversationError::Busy`] when a
/// commit of this device waits for the host's order.
pub fn stage(
    store: &Store,
    conversation: &Conversation,
    edit: Edit,
) -> Result<Staged, ConversationError> {
    stage_checked(store, conversation, edit, true)
}

/// [`stage`], skipping the roster's check when `check` is false: what a modified client
/// does, for the tests that show every other member rejects it.
pub(crate) fn stage_checked(
    store: &Store,
    conversation: &Conversation,
    edit: Edit,
    check: bool,
) -> Result<Staged, ConversationError> {
    store.transaction(|store| {
        let provider = store.provider();
        let mut group = mls::load_group(&provider, &conversation.group_id)?;
        if group.pending_commit().is_some() {
            return Err(ConversationError::Busy);
        }
        let signer = mls::own_signer(&provider, &group)?;
        let own = own_identity(&group)?;
        let before = roster(&group)?;
        let mut after = before.clone();
        let (mut adds, mut removals, mut added, mut removed) = (vec![], vec![], vec![], vec![]);
        match edit {
            Edit::Add(joiners) => {
                for joiner in joiners {
                    let id = identity(joiner.key_package.leaf_node().credential())
                        .map_err(ConversationError::Rejected)?;
                    after.put(Member {
                        identity: id.clone(),
                        role: joiner.role,
                        name: joiner.name,
                        read_id: joiner.read_id,
                    });
                    added.push(id);
                    adds.push(joiner.key_package);
                }
            }
            Edit::Remove(identities) => {
                for id in identities {
                    removals.push(leaf_of(&group, &id)?);
                    after.take(&id);
                    removed.push(id);
                }
            }
            Edit::Role(id, role) => {
                let mut member = after
                    .member(&id)
                    .cloned()
                    .ok_or(ConversationError::NoMember)?;
                member.role = role;
                after.put(member);
            }
            Edit::Rename { name, description } => {
                after.name = name;
                after.description = description;
            }
        }
        let change = CommitChange {
            sender: &own,
            added,
            removed,
            after: &after,
        };
        if check {
            check_commit(&before, &change).map_err(ConversationError::NotAllowed)?;
        }
        let epoch = group.epoch().as_u64();
        let mut builder = group.commit_builder();
        if !adds.is_empty() {
            builder = builder.propose_adds(adds);
        }
        if !removals.is_empty() {
            builder = builder.propose_removals(removals);
        }
        let bundle = builder
            .propose_group_context_extensions(extensions(&after)?)
            .map_err(failed("changing the group's roster"))?
            .load_psks(provider.storage())
            .map_err(failed("making a group commit"))?
            .build(provider.rand(), provider.crypto(), &signer, |_| true)
            .map_err(failed("making a group commit"))?
            .stage_commit(&provider)
            .map_err(failed("making a group commit"))?;
        let (commit, welcome, _) = bundle.into_messages();
        let wire = mls::to_bytes(&commit)?;
        let welcome = welcome.as_ref().map(mls::to_bytes).transpose()?;
        // Refused here, before anything is written. A commit or a Welcome too big for one
        // message travels as a file object (`device::mls_objects`), up to the bound on those.
        fits("commit", wire.len(), MAX_OBJECT_LEN as usize)?;
        if let Some(welcome) = &welcome {
            fits("welcome", welcome.len(), MAX_OBJECT_LEN as usize)?;
        }
        store.add_outbox(
            conversation.number,
            &OutboxEntry {
                digest: digest(&wire),
                epoch,
                content: None,
            },
        )?;
        Ok(Staged { wire, welcome })
    })
}

/// Refuses an MLS message larger than the file objects it would travel as may be.
fn fits(what: &'static str, len: usize, max: usize) -> Result<(), ConversationError> {
    if len > max {
        return Err(ConversationError::TooBig { what, len, max });
    }
    Ok(())
}

/// This device's identity in `group`.
pub(crate) fn own_identity(group: &MlsGroup) -> Result<Vec<u8>, ConversationError> {
    let leaf = group.own_leaf_node().ok_or(ConversationError::Mls {
        context: "reading this device's place in the group",
        detail: "the device is no longer in the group".into(),
    })?;
    identity(leaf.credential()).map_err(|detail| ConversationError::Mls {
        context: "reading this device's place in the group",
        detail,
    })
}

fn leaf_of(group: &MlsGroup, id: &[u8]) -> Result<LeafNodeIndex, ConversationError> {
    group
        .members()
        .find(|member| identity(&member.credential).is_ok_and(|m| m == id))
        .map(|member| member.index)
        .ok_or(ConversationError::NoMember)
}

/// Who reads the group mailbox when this device's pending commit lands there: the members,
/// and those the commit adds (their readers are registered before it is written).
pub(crate) fn pending_readers(
    store: &Store,
    conversation: &Conversation,
) -> Result<u16, ConversationError> {
    let group = mls::load_group(&store.provider(), &conversation.group_id)?;
    let added = group
        .pending_commit()
        .map_or(0, |staged| staged.add_proposals().count());
    let readers = group.members().count() + added;
    Ok(u16::try_from(readers).unwrap_or(u16::MAX))
}

/// The roster of the group `conversation` is, as this device has it now.
pub fn current_roster(
    store: &Store,
    conversation: &Conversation,
) -> Result<(Roster, Vec<u8>), ConversationError> {
    let group = mls::load_group(&store.provider(), &conversation.group_id)?;
    Ok((roster(&group)?, own_identity(&group)?))
}
