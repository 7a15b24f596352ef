//! Bringing a contact into a group over the one-to-one conversation with them (Content kinds
//! 12 to 14), applied where it arrives:
//! 1. the adder sends `GroupInvite`;
//! 2. the contact's device answers by itself with `GroupJoin`: a fresh key package (a
//!    signature key and identity for this group alone), the public key of a reader key it
//!    keeps, and its display name ([`invited`]);
//! 3. the adder registers that reader key at the group's host (`add_reader`, so the adder
//!    never holds the joiner's read key), commits the Add with the joiner in the roster, and
//!    once the host's order made the commit win, sends `GroupWelcome` with the write capability
//!    and the read id ([`answered`] records the answer; `device::groups` does the rest);
//! 4. the contact joins ([`welcomed`]).

use ed25519_dalek::{SigningKey, VerifyingKey};
use sotto_proto::conversation::{Content, MailboxGrant};
use sotto_proto::Id;

use super::start;
use crate::conversation::apply::Applied;
use crate::conversation::mls::their_key_package;
use crate::conversation::{encoding, ConversationError};
use crate::store::{Conversation, Store};
use crate::{ReadCap, WriteCap};

fn rejected(reason: &str) -> ConversationError {
    ConversationError::Rejected(reason.to_string())
}

/// Answers an invitation into a group from the contact of `conversation`.
pub(crate) fn invited(
    store: &Store,
    conversation: &Conversation,
    invite: [u8; 16],
) -> Result<Applied, ConversationError> {
    let name = store
        .profile()?
        .ok_or(ConversationError::NotInitialized)?
        .name;
    let (key_package, signer_public) = start::key_package(store)?;
    let reader = SigningKey::generate(&mut rand::rngs::OsRng);
    store.add_group_join(&invite, conversation.number, &reader, &signer_public)?;
    let answer = Content::GroupJoin {
        invite,
        key_package,
        reader_key: reader.verifying_key().to_bytes(),
        name,
    }
    .encode()
    .map_err(encoding("the answer to a group invitation"))?;
    Ok(Applied::Answer(answer))
}

/// Records the contact's answer to this device's invitation, for the device to commit.
pub(crate) fn answered(
    store: &Store,
    conversation: &Conversation,
    invite: [u8; 16],
    key_package: &[u8],
    reader_key: &[u8; 32],
    name: &str,
) -> Result<Applied, ConversationError> {
    their_key_package(&store.provider(), key_package).map_err(ConversationError::Rejected)?;
    VerifyingKey::from_bytes(reader_key)
        .map_err(|_| rejected("the reader key of a group join is no Ed25519 key"))?;
    if !store.answer_group_invite(&invite, conversation.number, key_package, reader_key, name)? {
        return Err(rejected(
            "an answer to a group invitation this device did not send them",
        ));
    }
    Ok(Applied::GroupAnswered)
}

/// Keeps a Welcome that came as a file object (Content kind 16) from the contact of
/// `conversation`, for the device to fetch and join from (`Device::join_from_welcome_files`).
pub(crate) fn welcome_offered(
    store: &Store,
    conversation: &Conversation,
    content: &Content,
) -> Result<Applied, ConversationError> {
    let Content::GroupWelcomeFile { invite, .. } = content else {
        return Err(rejected("not a welcome by file"));
    };
    let encoded = content
        .encode()
        .map_err(encoding("a welcome into a group by file"))?;
    if !store.set_group_welcome_file(invite, conversation.number, &encoded)? {
        return Err(rejected(
            "a welcome into a group this device did not answer",
        ));
    }
    Ok(Applied::WelcomeFile)
}

/// Joins the group a Welcome from the contact of `conversation` brings this device into.
pub(crate) fn welcomed(
    store: &Store,
    conversation: &Conversation,
    invite: [u8; 16],
    welcome: &[u8],
    mailbox: &MailboxGrant,
    read_id: Id,
) -> Result<Applied, ConversationError> {
    let (reader, _) = store
        .take_group_join(&invite, conversation.number)?
        .ok_or_else(|| rejected("a welcome into a group this device did not answer"))?;
    let (group_id, roster) = start::join(store, welcome, &read_id)?;
    let alias = store.free_alias(&roster.name)?;
    let write = WriteCap::from_grant(mailbox);
    let read = ReadCap {
        id: read_id,
        key: reader,
        content: write.content.clone(),
    };
    store.add_conversation(
        &group_id,
        &alias,
        &roster.name,
        &mailbox.host,
        &write,
        &read,
    )?;
    let number = store
        .conversation(&alias)?
        .ok_or_else(|| ConversationError::UnknownGroup(alias.clone()))?
        .number;
    store.mark_group(number)?;
    Ok(Applied::JoinedGroup { alias })
}
