//! Applying one message from a conversation mailbox, in the host's order.
//!
//! The host gives every member the same order, and that order decides:
//! - **commits**: the first commit of an epoch wins. A device's own commit counts only when it
//!   comes back while the group is still in the epoch it was made for; if another commit came
//!   first, the device dropped its own when it applied that one.
//! - **application messages**: a message counts if its epoch is the group's epoch where it
//!   stands in the order. One that crossed a commit is stale: receivers skip it (they keep no
//!   past epochs, for forward secrecy) and its sender, seeing its own message come back after
//!   the commit, seals it again in the new epoch. Ids make the resend harmless.
//!
//! Each message is applied in one transaction with the mailbox position it came from, so after
//! a crash nothing is applied twice or lost. A message that does not verify changes nothing but
//! that position.

use openmls::prelude::*;
use sha2::{Digest, Sha256};
use sotto_proto::conversation::{Content, MessageId};
use sotto_proto::mls_object::MlsObject;
use sotto_proto::Message;

use super::change::Change;
use super::mls::{failed, load_group, protocol_message};
use super::ConversationError;
use crate::group::admit::admit;
use crate::group::invitation;
use crate::group::Sender as GroupSender;
use crate::mailbox::MAX_SEQ;
use crate::store::{Conversation, Provider, Store, TextParts};

#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// Already applied before (the host delivered it again).
    Again,
    /// A text from the other side; `new` is false for a duplicate id.
    Text { id: MessageId, new: bool },
    /// The other side set the conversation's disappearing timer.
    Timer { seconds: u32 },
    /// The other side's change (edit, deletion, reaction) of message `target`.
    Changed { target: MessageId },
    /// Receipts for this device's messages.
    Receipt { count: usize },
    /// A part of a long text from the other side; the text comes whole with its last part.
    Part,
    /// A commit (theirs, or this device's own that won its epoch).
    Commit,
    /// This device's own message, counted where it stands.
    Confirmed,
    /// This device's own message that crossed a commit: encoded content to send again.
    Resend(Vec<u8>),
    /// Someone's message from an epoch already left; its sender sends it again.
    Stale,
    /// This device was removed from the conversation.
    Removed,
    /// The conversation ended for this device before (it was removed): nothing to apply.
    Ended,
    /// It did not verify; skipped.
    Rejected(String),
    /// An invitation into a group, answered: encoded content to send back (see `group`).
    Answer(Vec<u8>),
    /// A contact's answer to this device's invitation into a group: the device commits it.
    GroupAnswered,
    /// This device joined the group it now knows as `alias`.
    JoinedGroup { alias: String },
    /// A Welcome into a group came as a file object: the device fetches it and joins.
    WelcomeFile,
    /// A member asked to leave the group: owners and admins remove it.
    LeaveAsked,
}

pub fn digest(wire: &[u8]) -> [u8; 32] {
    Sha256::digest(wire).into()
}

pub fn apply(
    store: &Store,
    conversation: &Conversation,
    message: &Message,
) -> Result<Applied, ConversationError> {
    if conversation.removed {
        return Ok(Applied::Ended);
    }
    if message.seq <= conversation.applied_seq {
        return Ok(Applied::Again);
    }
    if message.seq > MAX_SEQ {
        // Not recorded as applied: the store keeps positions as SQLite integers, and this one
        // would stop every later message.
        return Ok(Applied::Rejected(format!(
            "its host gave it the impossible position {}",
            message.seq
        )));
    }
    if MlsObject::is_one(&message.body) {
        // Its message was put in its place when it could be had (`Device::resolve_mls_objects`).
        store.set_applied_seq(conversation.number, message.seq)?;
        return Ok(Applied::Rejected(
            "a large message whose file object is gone, altered, or not what its record binds"
                .into(),
        ));
    }
    let outcome = store.transaction(|store| {
        let provider = store.provider();
        let mut group = load_group(&provider, &conversation.group_id)?;
        let applied = match store.take_outbox(conversation.number, &digest(&message.body))? {
            Some(entry) => own(store, &provider, &mut group, conversation, entry)?,
            None => theirs(store, &provider, &mut group, conversation, &message.body)?,
        };
        store.set_applied_seq(conversation.number, message.seq)?;
        Ok(applied)
    });
    match outcome {
        Err(ConversationError::Rejected(reason)) => {
            store.set_applied_seq(conversation.number, message.seq)?;
            Ok(Applied::Rejected(reason))
        }
        other => other,
    }
}

fn own(
    store: &Store,
    provider: &Provider<'_>,
    group: &mut MlsGroup,
    conversation: &Conversation,
    entry: crate::store::OutboxEntry,
) -> Result<Applied, ConversationError> {
    let current = group.epoch().as_u64();
    Ok(match entry.content {
        None if entry.epoch == current && group.pending_commit().is_some() => {
            group
                .merge_pending_commit(provider)
                .map_err(failed("merging this device's commit"))?;
            store.reset_messages_since_update(conversation.number)?;
            Applied::Commit
        }
        None => Applied::Stale,
        Some(_) if entry.epoch == current => Applied::Confirmed,
        Some(content) => Applied::Resend(content),
    })
}

fn theirs(
    store: &Store,
    provider: &Provider<'_>,
    group: &mut MlsGroup,
    conversation: &Conversation,
    wire: &[u8],
) -> Result<Applied, ConversationError> {
    let message = protocol_message(wire).map_err(ConversationError::Rejected)?;
    if message.group_id() != group.group_id() {
        return Err(ConversationError::Rejected(
            "it belongs to another conversation".into(),
        ));
    }
    let epoch = message.epoch().as_u64();
    let current = group.epoch().as_u64();
    if epoch < current {
        return Ok(Applied::Stale);
    }
    if epoch > current {
        return Err(ConversationError::Rejected(format!(
            "it claims epoch {epoch}, ahead of the conversation's {current}"
        )));
    }
    if message.content_type() == ContentType::Commit && group.pending_commit().is_some() {
        // Their commit came first in the host's order: it wins this epoch, ours is void.
        group
            .clear_pending_commit(provider.storage())
            .map_err(failed("dropping this device's losing commit"))?;
    }
    let processed = group
        .process_message(provider, message)
        .map_err(|e| ConversationError::Rejected(format!("it does not verify: {e}")))?;
    if !matches!(processed.sender(), Sender::Member(_)) {
        return Err(ConversationError::Rejected(
            "it is not from a member of the conversation".into(),
        ));
    }
    let sender = match conversation.group {
        true => admit(group, &processed)?,
        false => None,
    };
    match processed.into_content() {
        ProcessedMessageContent::ApplicationMessage(plain) => {
            let content = Content::decode(&plain.into_bytes())
                .map_err(|e| ConversationError::Rejected(format!("its content: {e}")))?;
            on_content(store, conversation, content, sender.as_ref())
        }
        ProcessedMessageContent::StagedCommitMessage(staged) => {
            if staged.self_removed() {
                // Deleting before merging also deletes this epoch's private keys.
                group
                    .delete(provider.storage())
                    .map_err(failed("deleting the conversation's MLS state"))?;
                store.mark_removed(conversation.number)?;
                return Ok(Applied::Removed);
            }
            group
                .merge_staged_commit(provider, *staged)
                .map_err(failed("merging a commit"))?;
            Ok(Applied::Commit)
        }
        _ => Err(ConversationError::Rejected(
            "proposals are not used in sotto conversations".into(),
        )),
    }
}

fn on_content(
    store: &Store,
    conversation: &Conversation,
    content: Content,
    sender: Option<&GroupSender>,
) -> Result<Applied, ConversationError> {
    match content {
        Content::Text {
            id,
            sent_at_ms,
            reply_to,
            text,
        } => text_arrived(
            store,
            conversation,
            sender,
            (id, sent_at_ms, reply_to),
            &text,
        ),
        Content::TextPart {
            id,
            sent_at_ms,
            reply_to,
            part,
            parts,
            chunk,
        } => match store.add_text_part(conversation.number, &id, part, parts, &chunk)? {
            TextParts::Waiting => Ok(Applied::Part),
            TextParts::Inconsistent => Err(ConversationError::Rejected(
                "a part of a long text disagrees with the others on their number".into(),
            )),
            TextParts::Whole(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| {
                    ConversationError::Rejected("a long text is not UTF-8 once joined".into())
                })?;
                text_arrived(
                    store,
                    conversation,
                    sender,
                    (id, sent_at_ms, reply_to),
                    &text,
                )
            }
        },
        Content::Receipt { ids } => {
            store.mark_delivered(conversation.number, &ids)?;
            Ok(Applied::Receipt { count: ids.len() })
        }
        Content::Edit { target, text } => {
            change_arrived(store, conversation, sender, target, Change::Edit(text))
        }
        Content::Delete { target } => {
            change_arrived(store, conversation, sender, target, Change::Delete)
        }
        Content::Reaction { target, emoji } => {
            change_arrived(store, conversation, sender, target, Change::React(emoji))
        }
        Content::Timer { seconds } => {
            store.set_timer(conversation.number, seconds)?;
            Ok(Applied::Timer { seconds })
        }
        Content::FileOffer(offer) => {
            let id = offer.id;
            store.add_file(
                conversation.number,
                false,
                &offer,
                &[],
                None,
                crate::store::FileState::Offered,
            )?;
            text_arrived(
                store,
                conversation,
                sender,
                (id, offer.sent_at_ms, None),
                &offer.caption,
            )
        }
        Content::Introduction { .. } => Err(ConversationError::Rejected(
            "an introduction inside a running conversation".into(),
        )),
        Content::GroupLeave => match sender {
            Some(sender) => {
                store.add_group_leave(conversation.number, &sender.identity)?;
                Ok(Applied::LeaveAsked)
            }
            None => Err(ConversationError::Rejected(
                "a request to leave a group outside one".into(),
            )),
        },
        Content::GroupInvite { .. }
        | Content::GroupJoin { .. }
        | Content::GroupWelcome { .. }
        | Content::GroupWelcomeFile { .. }
            if conversation.group =>
        {
            Err(ConversationError::Rejected(
                "an invitation into a group inside a group".into(),
            ))
        }
        Content::GroupInvite { invite, .. } => invitation::invited(store, conversation, invite),
        Content::GroupJoin {
            invite,
            key_package,
            reader_key,
            name,
        } => invitation::answered(
            store,
            conversation,
            invite,
            &key_package,
            &reader_key,
            &name,
        ),
        Content::GroupWelcome {
            invite,
            welcome,
            mailbox,
            read_id,
        } => invitation::welcomed(store, conversation, invite, &welcome, &mailbox, read_id),
        content @ Content::GroupWelcomeFile { .. } => {
            invitation::welcome_offered(store, conversation, &content)
        }
    }
}

/// Stores a text from the other side (deduplicated by id), `(id, sent_at_ms, reply_to)`,
/// with its sender in a group.
fn text_arrived(
    store: &Store,
    conversation: &Conversation,
    sender: Option<&GroupSender>,
    (id, sent_at_ms, reply_to): (MessageId, u64, Option<MessageId>),
    text: &str,
) -> Result<Applied, ConversationError> {
    let new = store.add_message(
        conversation.number,
        &id,
        false,
        text,
        reply_to.as_ref(),
        sent_at_ms,
    )?;
    if new {
        store.count_message_since_update(conversation.number)?;
        if let Some(sender) = sender {
            store.set_sender(conversation.number, &id, &sender.identity, &sender.name)?;
        }
    }
    // Groups have no receipts: one from every member for every message would cost the group
    // a message per member per message.
    if !conversation.group {
        // Again if it came again: its sender may have missed the first receipt.
        store.owe_receipt(conversation.number, &id)?;
    }
    Ok(Applied::Text { id, new })
}

/// Records the other side's change of a message. The host's order puts a message before any
/// change of it, so a change of a message not here (or, for an edit or a deletion, not
/// theirs) is refused, not kept for later.
fn change_arrived(
    store: &Store,
    conversation: &Conversation,
    sender: Option<&GroupSender>,
    target: MessageId,
    change: Change,
) -> Result<Applied, ConversationError> {
    // In a group, "theirs" is the one member's who sent it, not any other side's.
    if let Some(sender) = sender.filter(|_| change.senders_only()) {
        if store.sender_of(conversation.number, &target)? != Some(Some(sender.identity.clone())) {
            return Err(ConversationError::Rejected(
                "a change of a group message by another than its sender".into(),
            ));
        }
    }
    if change.record(store, conversation.number, &target, false)? {
        Ok(Applied::Changed { target })
    } else {
        Err(ConversationError::Rejected(
            "a change of a message that is not here, or not theirs to change".into(),
        ))
    }
}
