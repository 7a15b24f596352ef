//! What every member checks, before merging or storing anything, of a message in a group's
//! mailbox: that the roster allows it its sender (see `rules`).

use openmls::prelude::*;

use super::roster::{identity, roster, roster_in};
use super::rules::{check_commit, check_message, CommitChange};
use crate::conversation::ConversationError;

/// Who sent a group's application message, as the roster names them.
pub struct Sender {
    pub identity: Vec<u8>,
    pub name: String,
}

/// Refuses (as [`ConversationError::Rejected`]) what the roster does not allow the sender of
/// `processed`; for an application message, returns its sender.
pub(crate) fn admit(
    group: &MlsGroup,
    processed: &ProcessedMessage,
) -> Result<Option<Sender>, ConversationError> {
    let rejected = ConversationError::Rejected;
    let before = roster(group).map_err(|e| rejected(e.to_string()))?;
    let sender = identity(processed.credential()).map_err(rejected)?;
    match processed.content() {
        ProcessedMessageContent::ApplicationMessage(_) => {
            check_message(&before, &sender).map_err(rejected)?;
            let name = before
                .member(&sender)
                .map(|m| m.name.clone())
                .unwrap_or_default();
            Ok(Some(Sender {
                identity: sender,
                name,
            }))
        }
        ProcessedMessageContent::StagedCommitMessage(staged) => {
            let unexpected = staged.queued_proposals().any(|queued| {
                !matches!(
                    queued.proposal(),
                    Proposal::Add(_) | Proposal::Remove(_) | Proposal::GroupContextExtensions(_)
                )
            });
            if unexpected {
                return Err(rejected(
                    "a commit with proposals sotto groups do not use".into(),
                ));
            }
            let added = staged
                .add_proposals()
                .map(|add| identity(add.add_proposal().key_package().leaf_node().credential()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(rejected)?;
            let removed = staged
                .remove_proposals()
                .map(|remove| {
                    group
                        .member(remove.remove_proposal().removed())
                        .ok_or_else(|| "it removes an empty place".to_string())
                        .and_then(identity)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(rejected)?;
            let after = roster_in(staged.group_context().extensions()).map_err(rejected)?;
            check_commit(
                &before,
                &CommitChange {
                    sender: &sender,
                    added,
                    removed,
                    after: &after,
                },
            )
            .map_err(rejected)?;
            Ok(None)
        }
        _ => Err(rejected("proposals are not used in sotto groups".into())),
    }
}
