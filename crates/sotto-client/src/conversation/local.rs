//! Two devices joined in one process, without a network: the same steps as `invite`,
//! `connect` and the answer, with made-up mailbox capabilities. For tests, benchmarks and load
//! tools that exercise MLS and the store alone.

use ed25519_dalek::SigningKey;
use sotto_proto::conversation::{Content, MailboxGrant};
use sotto_proto::{Fingerprint, Id};

use super::start::{join, start};
use super::{encoding, mls, ConversationError};
use crate::store::Store;
use crate::{ContentKey, ReadCap, WriteCap};

/// Joins a new conversation between the devices of `alice` and `bob`, recorded in each store
/// under the alias `alias_at_alice` / `alias_at_bob`. Returns each side's conversation number.
pub fn pair(
    alice: &Store,
    bob: &Store,
    alias_at_alice: &str,
    alias_at_bob: &str,
) -> Result<(i64, i64), ConversationError> {
    let key_package = alice.transaction(|s| {
        let provider = s.provider();
        let (signer, credential) = mls::new_signer(&provider)?;
        mls::key_package_bytes(&provider, &signer, credential)
    })?;
    let theirs = mls::their_key_package(&bob.provider(), &key_package)
        .map_err(ConversationError::Rejected)?;
    let content = ContentKey::random();
    let key = || SigningKey::generate(&mut rand::rngs::OsRng);
    let write = WriteCap {
        id: Id::from_bytes(rand::random()),
        key: key(),
        content: content.clone(),
    };
    let read = ReadCap {
        id: Id::from_bytes(rand::random()),
        key: key(),
        content,
    };
    let host = Fingerprint::from_bytes([0; 32]);
    let introduction = Content::Introduction {
        name: alias_at_alice.into(),
        mailbox: MailboxGrant {
            host,
            write_id: write.id,
            write_key: write.key.to_bytes(),
            content_key: *write.content.as_bytes(),
            content_binding: *write.content.binding(),
        },
        read_id: read.id,
        read_key: read.key.to_bytes(),
    };
    let bob_number = bob.transaction(|s| {
        let (group_id, answer) = start(s, theirs, &introduction)?;
        s.add_conversation(&group_id, alias_at_bob, alias_at_bob, &host, &write, &read)?;
        Ok::<_, ConversationError>((group_id, answer))
    })?;
    let (group_id, answer) = bob_number;
    let answer = answer.encode().map_err(encoding("the answer"))?;
    alice.transaction(|s| {
        let (joined, _) = join(s, &answer)?;
        if joined != group_id {
            return Err(ConversationError::Rejected("joined another group".into()));
        }
        s.add_conversation(
            &group_id,
            alias_at_alice,
            alias_at_alice,
            &host,
            &write,
            &read,
        )?;
        Ok(())
    })?;
    let number = |store: &Store, alias: &str| -> Result<i64, ConversationError> {
        Ok(store
            .conversation(alias)?
            .ok_or_else(|| ConversationError::UnknownContact(alias.into()))?
            .number)
    };
    Ok((number(alice, alias_at_alice)?, number(bob, alias_at_bob)?))
}
