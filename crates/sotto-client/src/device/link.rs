//! Connecting without identifiers: `invite` makes a one-time link, `connect` answers one, and
//! `sync` (through `accept_answers`) turns an answer into a conversation.

use ed25519_dalek::SigningKey;

use sotto_proto::conversation::{Content, Invitation};
use sotto_proto::{ErrorCode, LinkUri, MailboxKind};

use super::{Device, Network};
use crate::conversation::mls;
use crate::conversation::start::{forget, join, start};
use crate::conversation::{encoding, ConversationError, Event};
use crate::store::{self, Store};
use crate::{ClientError, Link, LinkKey, MailboxOptions, ReadCap, WriteCap};

/// How long a link's data stays at its host unless answered: a week.
const LINK_TTL_SECS: u32 = 7 * 24 * 3600;
/// How long a conversation's mailbox and its messages may sit unused at the host: the
/// longest hosts grant by default (90 days).
pub(super) const CONVERSATION_TTL_SECS: u32 = 90 * 24 * 3600;

impl<N: Network> Device<N> {
    /// Makes a one-time link: a request mailbox for the answer and, behind a random link id,
    /// this device's key package, display name and the right to write that mailbox, sealed
    /// with a key that exists only in the link.
    pub async fn invite(&mut self) -> Result<LinkUri, ConversationError> {
        let (host, voucher) = self.paid_host().await?;
        let client = self.host(host).await?;
        let request = client
            .create_paid(
                MailboxOptions {
                    ttl_secs: LINK_TTL_SECS,
                    ..MailboxOptions::new(MailboxKind::OneTimeRequest)
                },
                voucher,
            )
            .await?;
        let name = self.name()?;
        // The key package's private half is stored now; it must outlive the process.
        let (key_package, signer_public) = self.store.transaction(|store| {
            let provider = store.provider();
            let (signer, credential) = mls::new_signer(&provider)?;
            let key_package = mls::key_package_bytes(&provider, &signer, credential)?;
            Ok::<_, ConversationError>((key_package, signer.public().to_vec()))
        })?;
        let invitation = Invitation {
            name,
            key_package,
            request: request.write.grant(&host),
        };
        let data = invitation.encode().map_err(encoding("the invitation"))?;
        // The key package's private half must outlive a power cut before the link goes out.
        self.store.make_durable()?;
        // On a voucher network the link data goes where its voucher is good, which may be
        // another host than the request mailbox's; elsewhere it stays beside the mailbox.
        let (link_host, link_client, voucher) = match self.directory.issuer() {
            None => (host, client, None),
            Some(_) => {
                let (link_host, voucher) = self.paid_host().await?;
                (link_host, self.host(link_host).await?, voucher)
            }
        };
        let (link, link_cap) = link_client
            .put_link_paid(LINK_TTL_SECS, &data, voucher)
            .await?;
        let uri = LinkUri {
            host: link_host,
            id: link.id,
            key: *link.content.as_bytes(),
        };
        self.store.add_invitation(
            &uri.to_string(),
            &host,
            &request.read,
            &link_cap,
            &signer_public,
        )?;
        self.listening.mailbox_added();
        Ok(uri)
    }

    /// Answers a link: makes the conversation mailbox and the MLS group, adds the link's
    /// maker, and writes the Welcome and an introduction to the link's request mailbox.
    /// Returns the new contact's alias. On any failure nothing is kept.
    pub async fn connect(
        &mut self,
        link: &str,
        alias: Option<&str>,
    ) -> Result<String, ConversationError> {
        let uri: LinkUri = link.parse()?;
        let client = self.host(uri.host).await?;
        let link = Link {
            id: uri.id,
            content: LinkKey::from_bytes(uri.key),
        };
        let data = client.get_link(&link).await.map_err(|e| match e {
            ClientError::Host(ErrorCode::Auth) => ConversationError::LinkUsed,
            ClientError::Content(_) => {
                ConversationError::LinkDamaged("its key does not open the data it points to".into())
            }
            other => other.into(),
        })?;
        let invitation = Invitation::decode(&data)
            .map_err(|e| ConversationError::LinkDamaged(format!("its data: {e}")))?;
        let alias = match alias {
            Some(alias) if self.store.conversation(alias)?.is_some() => {
                return Err(ConversationError::AliasTaken(alias.to_string()))
            }
            Some(alias) => alias.to_string(),
            None => self.store.free_alias(&invitation.name)?,
        };
        let key_package = mls::their_key_package(&self.store.provider(), &invitation.key_package)
            .map_err(ConversationError::LinkDamaged)?;

        let (host, voucher) = self.paid_host().await?;
        let conversation_client = self.host(host).await?;
        let mailbox = conversation_client
            .create_paid(
                MailboxOptions {
                    ttl_secs: CONVERSATION_TTL_SECS,
                    ..MailboxOptions::new(MailboxKind::Conversation)
                },
                voucher,
            )
            .await?;
        let theirs = conversation_client.add_reader(&mailbox.read).await?;
        let introduction = Content::Introduction {
            name: self.name()?,
            mailbox: mailbox.write.grant(&host),
            read_id: theirs.id,
            read_key: theirs.key.to_bytes(),
        };
        let (group_id, answer) = self.store.transaction(|store| {
            let (group_id, answer) = start(store, key_package, &introduction)?;
            store.add_conversation(
                &group_id,
                &alias,
                &invitation.name,
                &host,
                &mailbox.write,
                &mailbox.read,
            )?;
            Ok::<_, ConversationError>((group_id, answer.encode().map_err(encoding("the answer"))?))
        })?;

        let request = WriteCap::from_grant(&invitation.request);
        let written = match self.host(invitation.request.host).await {
            Ok(request_client) => {
                request_client
                    .write(&request, &answer)
                    .await
                    .map_err(|e| match e {
                        ClientError::Host(ErrorCode::Auth | ErrorCode::Quota) => {
                            ConversationError::LinkUsed
                        }
                        other => other.into(),
                    })
            }
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            forget(&self.store, &group_id)?;
            let _ = conversation_client.delete(&mailbox.read).await;
            return Err(error);
        }
        self.listening.mailbox_added();
        Ok(alias)
    }

    /// Looks for answers to this device's links and joins the conversations they start.
    pub(super) async fn accept_answers(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Result<(), ConversationError> {
        for invitation in self.store.invitations()? {
            let client = self.host(invitation.request_host).await?;
            let waiting = match client.fetch(&invitation.request).await {
                Ok(waiting) => waiting,
                Err(ClientError::Host(ErrorCode::Auth)) => {
                    self.store.remove_invitation(invitation.number)?;
                    events.push(Event::Rejected {
                        alias: invitation.link.clone(),
                        reason: "this link expired before anyone used it".into(),
                    });
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            if let Some(answer) = waiting.into_iter().next() {
                self.take_answer(&invitation, &answer.body, events)?;
                self.forget_link(&invitation).await?;
            }
        }
        Ok(())
    }

    /// Joins the conversation an answer to `invitation` starts; whether it did. The link is
    /// spent either way: delete it from its host with [`forget_link`](Self::forget_link).
    pub(super) fn take_answer(
        &mut self,
        invitation: &store::Invitation,
        answer: &[u8],
        events: &mut Vec<Event>,
    ) -> Result<bool, ConversationError> {
        let outcome = self.store.transaction(|store| {
            let alias = accept(store, answer)?;
            store.remove_invitation(invitation.number)?;
            Ok::<_, ConversationError>(alias)
        });
        match outcome {
            Ok(alias) => {
                self.listening.mailbox_added();
                events.push(Event::Connected { alias });
                Ok(true)
            }
            Err(ConversationError::Rejected(reason)) => {
                // A one-time mailbox takes one write: this link is spent either way.
                self.store.remove_invitation(invitation.number)?;
                events.push(Event::Rejected {
                    alias: invitation.link.clone(),
                    reason: format!("the answer to your link: {reason}"),
                });
                Ok(false)
            }
            Err(other) => Err(other),
        }
    }

    /// Deletes a spent link's mailbox and data. Both are gone on their own later; removing
    /// them now leaves the host nothing.
    pub(super) async fn forget_link(
        &mut self,
        invitation: &store::Invitation,
    ) -> Result<(), ConversationError> {
        let client = self.host(invitation.request_host).await?;
        let _ = client.delete(&invitation.request).await;
        // The link data's host is the link's (on a voucher network it may not be the
        // mailbox's); a link this device wrote always parses.
        let link_host = invitation
            .link
            .parse::<LinkUri>()
            .map_or(invitation.request_host, |uri| uri.host);
        let link_client = self.host(link_host).await?;
        let _ = link_client.delete_link(&invitation.link_cap).await;
        Ok(())
    }
}

/// Joins the group an answer welcomes this device to and records the conversation its
/// introduction describes. Returns the new contact's alias.
fn accept(store: &Store, answer: &[u8]) -> Result<String, ConversationError> {
    let (group_id, introduction) = join(store, answer)?;
    let Content::Introduction {
        name,
        mailbox,
        read_id,
        read_key,
    } = introduction
    else {
        return Err(ConversationError::Rejected(
            "the answer carries no introduction".into(),
        ));
    };
    let write = WriteCap::from_grant(&mailbox);
    let read = ReadCap {
        id: read_id,
        key: SigningKey::from_bytes(&read_key),
        content: write.content.clone(),
    };
    let alias = store.free_alias(&name)?;
    store.add_conversation(&group_id, &alias, &name, &mailbox.host, &write, &read)?;
    Ok(alias)
}
