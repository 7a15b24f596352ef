//! Groups over the network: founding one with its mailbox, inviting contacts and committing
//! their answers, removing members, changing roles, deleting a group; and what front ends
//! list (groups, members with names and roles). The MLS and roster side is `crate::group`.

use ed25519_dalek::VerifyingKey;
use rand::RngCore;
use sotto_proto::conversation::{Content, MAX_MLS_LEN, MAX_NAME_LEN};
use sotto_proto::group::{Role, Roster};
use sotto_proto::MailboxKind;

use super::link::CONVERSATION_TTL_SECS;
use super::sync::report;
use super::{Device, Network};
use crate::conversation::mls::their_key_package;
use crate::conversation::seal::update_pending;
use crate::conversation::start::forget;
use crate::conversation::{encoding, ConversationError, Event};
use crate::group::commit::{self, current_roster, Edit, Joiner};
use crate::group::start::found;
use crate::store::{Conversation, GroupInvite};
use crate::MailboxOptions;

/// How many times a device makes its commit again when other members' commits keep winning
/// the epoch first.
const COMMIT_ATTEMPTS: usize = 5;

/// One group as `sotto groups` lists it.
#[derive(Debug, Clone)]
pub struct GroupSummary {
    pub alias: String,
    pub name: String,
    pub description: String,
    pub members: usize,
    /// This device's role.
    pub role: Role,
    pub unread: u64,
}

/// One member as `sotto group members` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub name: String,
    pub role: Role,
    /// This device.
    pub you: bool,
}

impl<N: Network> Device<N> {
    /// Founds a group named `name` on a host this device picks, with this device as its owner.
    /// The name is the group's alias here too, so it must differ from every contact's and
    /// group's.
    pub async fn create_group(&mut self, name: &str) -> Result<String, ConversationError> {
        let name = name.trim();
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(ConversationError::BadName);
        }
        if self.store.conversation(name)?.is_some() {
            return Err(ConversationError::NameTaken(name.to_string()));
        }
        let (host, voucher) = self.paid_host().await?;
        let mailbox = self
            .host(host)
            .await?
            .create_paid(
                MailboxOptions {
                    ttl_secs: CONVERSATION_TTL_SECS,
                    ..MailboxOptions::new(MailboxKind::Conversation)
                },
                voucher,
            )
            .await?;
        let own_name = self.name()?;
        self.store.transaction(|store| {
            let group_id = found(store, name, &own_name, mailbox.read.id)?;
            store.add_conversation(&group_id, name, name, &host, &mailbox.write, &mailbox.read)?;
            let number = store
                .conversation(name)?
                .ok_or_else(|| ConversationError::UnknownGroup(name.to_string()))?
                .number;
            Ok::<_, ConversationError>(store.mark_group(number)?)
        })?;
        self.listening.mailbox_added();
        Ok(name.to_string())
    }

    /// Invites `contacts` into `group` with `role`, over the conversation with each. Their
    /// devices answer by themselves; this device commits each answer and welcomes the contact
    /// when it next reads (`sync`, or the loop's follow-up).
    pub async fn invite_to_group(
        &mut self,
        group: &str,
        contacts: &[&str],
        role: Role,
    ) -> Result<(), ConversationError> {
        let number = self.group_number(group)?;
        let (roster, own) =
            current_roster(&self.store, &self.store.conversation_by_number(number)?)?;
        if !roster.member(&own).is_some_and(|m| m.role.manages()) {
            return Err(ConversationError::NotAllowed(
                "only owners and admins add members".into(),
            ));
        }
        let mut numbers = Vec::with_capacity(contacts.len());
        for contact in contacts {
            numbers.push(self.contact_number(contact)?);
        }
        for contact in numbers {
            let mut invite = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut invite);
            let content = Content::GroupInvite {
                invite,
                group: roster.name.clone(),
            }
            .encode()
            .map_err(encoding("a group invitation"))?;
            self.catch_up_to_write(contact).await?;
            let conversation = self.store.conversation_by_number(contact)?;
            let record = |store: &crate::store::Store| {
                store.add_group_invite(&invite, number, contact, role)
            };
            self.write_content(&conversation, content, record).await?;
        }
        Ok(())
    }

    /// Commits the answers to this device's group invitations and welcomes the joiners: the
    /// answers waiting for one group go in one commit with one Welcome, so a group of N made at
    /// once costs its members one commit, not N (each later joiner applying every add after
    /// its own). A joiner whose answer does not verify is its group's event and ends; what a
    /// retry may change is tried again next time.
    pub(super) async fn complete_group_adds(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Result<(), ConversationError> {
        let mut by_group: std::collections::BTreeMap<i64, Vec<GroupInvite>> = Default::default();
        for invite in self.store.answered_group_invites()? {
            if invite.answer.is_some() {
                by_group.entry(invite.group).or_default().push(invite);
            }
        }
        for (number, invites) in by_group {
            let alias = self.store.conversation_by_number(number)?.alias;
            let ids: Vec<[u8; 16]> = invites.iter().map(|invite| invite.invite).collect();
            match self.complete_group_batch(number, invites, events).await {
                Ok(()) => {}
                // What no retry changes ends the invitations, said once.
                Err(
                    error @ (ConversationError::TooBig { .. }
                    | ConversationError::NotAllowed(_)
                    | ConversationError::Rejected(_)),
                ) => {
                    for id in &ids {
                        self.store.remove_group_invite(id)?;
                    }
                    report(alias, error, events)?;
                }
                Err(error) => report(alias, error, events)?,
            }
        }
        Ok(())
    }

    /// Adds the answered invitations of group `number` in one commit and sends each joiner
    /// the Welcome (one file object for all of them when it is past one message).
    async fn complete_group_batch(
        &mut self,
        number: i64,
        invites: Vec<GroupInvite>,
        events: &mut Vec<Event>,
    ) -> Result<(), ConversationError> {
        let group = self.store.conversation_by_number(number)?;
        let mut joining = Vec::new();
        for invite in invites {
            match self.joiner(&group, &invite).await {
                Ok((joiner, identity)) => joining.push((invite, joiner, identity)),
                Err(error @ ConversationError::Rejected(_)) => {
                    self.store.remove_group_invite(&invite.invite)?;
                    report(group.alias.clone(), error, events)?;
                }
                Err(error) => return Err(error),
            }
        }
        if joining.is_empty() {
            return Ok(());
        }
        let edit = || {
            Edit::Add(
                joining
                    .iter()
                    .map(|(_, joiner, _)| joiner.clone())
                    .collect(),
            )
        };
        let welcome = self
            .commit_group(number, edit, |roster| {
                joining
                    .iter()
                    .all(|(_, _, identity)| roster.member(identity).is_some())
            })
            .await?
            .ok_or_else(|| ConversationError::Mls {
                context: "adding to a group",
                detail: "the commit that added them brought no welcome".into(),
            })?;
        let mailbox = group.write.grant(&group.host);
        // Every joiner reads the one Welcome; past one message it is uploaded once for all.
        let shared = match welcome.len() <= MAX_MLS_LEN {
            true => None,
            false => {
                let readers = u16::try_from(joining.len()).unwrap_or(u16::MAX);
                Some(self.put_mls_object(&welcome, readers, 0).await?)
            }
        };
        for (invite, joiner, _) in joining {
            let content = match &shared {
                None => Content::GroupWelcome {
                    invite: invite.invite,
                    welcome: welcome.clone(),
                    mailbox: mailbox.clone(),
                    read_id: joiner.read_id,
                },
                Some(offer) => Content::GroupWelcomeFile {
                    invite: invite.invite,
                    offer: offer.clone(),
                    mailbox: mailbox.clone(),
                    read_id: joiner.read_id,
                },
            }
            .encode()
            .map_err(encoding("a group welcome"))?;
            self.catch_up_to_write(invite.contact).await?;
            let contact = self.store.conversation_by_number(invite.contact)?;
            let record = |store: &crate::store::Store| store.remove_group_invite(&invite.invite);
            self.write_content(&contact, content, record).await?;
            events.push(Event::AddedToGroup {
                alias: group.alias.clone(),
                member: joiner.name,
            });
        }
        Ok(())
    }

    /// The member an answered invitation adds, with its identity in the roster: its reader is
    /// registered at the group's host first (once: a retry reuses the read id kept).
    async fn joiner(
        &mut self,
        group: &Conversation,
        invite: &GroupInvite,
    ) -> Result<(Joiner, Vec<u8>), ConversationError> {
        let Some((key_package, reader_key, name)) = &invite.answer else {
            return Err(ConversationError::Rejected(
                "an invitation without its answer".into(),
            ));
        };
        let read_id = match invite.read_id {
            Some(read_id) => read_id,
            None => {
                let reader = VerifyingKey::from_bytes(reader_key).map_err(|_| {
                    ConversationError::Rejected("a joiner's reader key is no Ed25519 key".into())
                })?;
                let client = self.host(group.host).await?;
                let read_id = client.add_reader_key(&group.read, reader).await?;
                // Kept, so that a retry registers no second reader.
                self.store
                    .set_group_invite_reader(&invite.invite, &read_id)?;
                read_id
            }
        };
        let key_package = their_key_package(&self.store.provider(), key_package)
            .map_err(ConversationError::Rejected)?;
        let identity = crate::group::roster::identity(key_package.leaf_node().credential())
            .map_err(ConversationError::Rejected)?;
        let joiner = Joiner {
            key_package,
            role: invite.role,
            name: name.clone(),
            read_id,
        };
        Ok((joiner, identity))
    }

    /// Removes the members who asked to leave, from the groups this device may remove from;
    /// elsewhere forgets the request (an owner or admin does it).
    pub(super) async fn remove_leavers(
        &mut self,
        events: &mut Vec<Event>,
    ) -> Result<(), ConversationError> {
        for (number, identity) in self.store.group_leaves()? {
            let conversation = self.store.conversation_by_number(number)?;
            let may = !conversation.removed && {
                let (roster, own) = current_roster(&self.store, &conversation)?;
                roster.member(&own).is_some_and(|m| m.role.manages())
                    && roster.member(&identity).is_some()
            };
            if may {
                let removed = self
                    .commit_group(
                        number,
                        || Edit::Remove(vec![identity.clone()]),
                        |roster| roster.member(&identity).is_none(),
                    )
                    .await;
                // Its reader went with it: nothing to take away at the host.
                if let Err(error) = removed {
                    report(conversation.alias, error, events)?;
                    continue;
                }
            }
            self.store.remove_group_leave(number, &identity)?;
        }
        Ok(())
    }

    /// Removes the member named `member` from `group`: an MLS remove (keys rotate, so it
    /// reads nothing sent later), then its reader goes from the group mailbox.
    pub async fn remove_from_group(
        &mut self,
        group: &str,
        member: &str,
    ) -> Result<(), ConversationError> {
        let number = self.group_number(group)?;
        let (roster, _) = current_roster(&self.store, &self.store.conversation_by_number(number)?)?;
        let gone = named(&roster, member)?.clone();
        let identity = gone.identity.clone();
        self.commit_group(
            number,
            || Edit::Remove(vec![identity.clone()]),
            |roster| roster.member(&identity).is_none(),
        )
        .await?;
        let conversation = self.store.conversation_by_number(number)?;
        let client = self.host(conversation.host).await?;
        client
            .remove_reader(&conversation.read, gone.read_id)
            .await?;
        Ok(())
    }

    /// Gives the member named `member` of `group` the role `role`.
    pub async fn set_group_role(
        &mut self,
        group: &str,
        member: &str,
        role: Role,
    ) -> Result<(), ConversationError> {
        let number = self.group_number(group)?;
        let (roster, _) = current_roster(&self.store, &self.store.conversation_by_number(number)?)?;
        let identity = named(&roster, member)?.identity.clone();
        self.commit_group(
            number,
            || Edit::Role(identity.clone(), role),
            |roster| roster.member(&identity).is_some_and(|m| m.role == role),
        )
        .await?;
        Ok(())
    }

    /// Deletes `group` for everyone (its owner only): the group mailbox goes from its host,
    /// and this device forgets the group.
    pub async fn delete_group(&mut self, group: &str) -> Result<(), ConversationError> {
        let number = self.group_number(group)?;
        let conversation = self.store.conversation_by_number(number)?;
        let (roster, own) = current_roster(&self.store, &conversation)?;
        if !roster.member(&own).is_some_and(|m| m.role == Role::Owner) {
            return Err(ConversationError::NotAllowed(
                "only an owner deletes the group".into(),
            ));
        }
        let client = self.host(conversation.host).await?;
        client.delete(&conversation.read).await?;
        forget(&self.store, &conversation.group_id)
    }

    /// Leaves `group`: asks the owners and admins to remove this device (Content kind 15,
    /// which their devices commit when they next read), takes its reader from the group
    /// mailbox, and forgets the group (its keys included).
    pub async fn leave_group(&mut self, group: &str) -> Result<(), ConversationError> {
        let number = self.group_number(group)?;
        self.catch_up_to_write(number).await?;
        let conversation = self.store.conversation_by_number(number)?;
        let leave = Content::GroupLeave
            .encode()
            .map_err(encoding("a request to leave"))?;
        self.write_content(&conversation, leave, |_| Ok(())).await?;
        let client = self.host(conversation.host).await?;
        client
            .remove_reader(&conversation.read, conversation.read.id)
            .await?;
        forget(&self.store, &conversation.group_id)
    }

    /// Makes the commit `edit` asks for and writes it, until `done` says the roster has what
    /// it asked: another member's commit may win the epoch first, and then this device makes
    /// its commit again on the new epoch. Returns the Welcome of this device's winning commit.
    async fn commit_group(
        &mut self,
        number: i64,
        edit: impl Fn() -> Edit,
        done: impl Fn(&Roster) -> bool,
    ) -> Result<Option<Vec<u8>>, ConversationError> {
        let mut welcome = None;
        for _ in 0..COMMIT_ATTEMPTS {
            self.catch_up_to_write(number).await?;
            let conversation = self.store.conversation_by_number(number)?;
            if done(&current_roster(&self.store, &conversation)?.0) {
                return Ok(welcome);
            }
            let staged = commit::stage(&self.store, &conversation, edit())?;
            self.write_commit(&conversation, &staged.wire).await?;
            welcome = staged.welcome;
        }
        let conversation = self.store.conversation_by_number(number)?;
        if !update_pending(&self.store, &conversation)?
            && done(&current_roster(&self.store, &conversation)?.0)
        {
            return Ok(welcome);
        }
        Err(ConversationError::Mls {
            context: "a group commit",
            detail: "other members' commits kept winning; try again".into(),
        })
    }

    /// Refuses, before anything is sealed, what every other member would reject anyway: a
    /// message from an observer of a group.
    pub(super) fn may_send(&self, number: i64) -> Result<(), ConversationError> {
        let conversation = self.store.conversation_by_number(number)?;
        if !conversation.group {
            return Ok(());
        }
        let (roster, own) = current_roster(&self.store, &conversation)?;
        match roster.member(&own) {
            Some(member) if member.role != Role::Observer => Ok(()),
            _ => Err(ConversationError::Observer(conversation.alias)),
        }
    }

    /// This device's groups.
    pub fn groups(&self) -> Result<Vec<GroupSummary>, ConversationError> {
        self.store
            .conversations()?
            .into_iter()
            .filter(|c| c.group && !c.removed)
            .map(|c| {
                let (roster, own) = current_roster(&self.store, &c)?;
                Ok(GroupSummary {
                    unread: self.store.unread_count(c.number)?,
                    role: roster.member(&own).map_or(Role::Observer, |m| m.role),
                    members: roster.members.len(),
                    name: roster.name,
                    description: roster.description,
                    alias: c.alias,
                })
            })
            .collect()
    }

    /// The members of `group`, with their names and roles, in the roster's order.
    pub fn group_members(&self, group: &str) -> Result<Vec<GroupMember>, ConversationError> {
        let number = self.group_number(group)?;
        let (roster, own) =
            current_roster(&self.store, &self.store.conversation_by_number(number)?)?;
        Ok(roster
            .members
            .into_iter()
            .map(|m| GroupMember {
                you: m.identity == own,
                name: m.name,
                role: m.role,
            })
            .collect())
    }

    /// Who else reads what this device sends in conversation `number`: the other side, or the
    /// group's other members (one upload for all of them).
    pub(super) fn recipients(&self, number: i64) -> Result<u16, ConversationError> {
        let conversation = self.store.conversation_by_number(number)?;
        if !conversation.group {
            return Ok(1);
        }
        let members = current_roster(&self.store, &conversation)?.0.members.len();
        Ok(u16::try_from(members.saturating_sub(1).max(1)).unwrap_or(u16::MAX))
    }

    fn group_number(&self, alias: &str) -> Result<i64, ConversationError> {
        match self.store.conversation(alias)? {
            Some(Conversation {
                group: true,
                removed: false,
                number,
                ..
            }) => Ok(number),
            Some(Conversation {
                group: true,
                removed: true,
                ..
            }) => Err(ConversationError::RemovedFrom(alias.to_string())),
            _ => Err(ConversationError::UnknownGroup(alias.to_string())),
        }
    }

    fn contact_number(&self, alias: &str) -> Result<i64, ConversationError> {
        match self.store.conversation(alias)? {
            Some(c) if !c.group && !c.removed => Ok(c.number),
            Some(c) if !c.group => Err(ConversationError::RemovedFrom(alias.to_string())),
            _ => Err(ConversationError::UnknownContact(alias.to_string())),
        }
    }
}

/// The one member of `roster` named `name`.
fn named<'a>(
    roster: &'a Roster,
    name: &str,
) -> Result<&'a sotto_proto::group::Member, ConversationError> {
    let mut found = roster.members.iter().filter(|m| m.name == name);
    match (found.next(), found.next()) {
        (Some(member), None) => Ok(member),
        (None, _) => Err(ConversationError::NoMember),
        (Some(_), Some(_)) => Err(ConversationError::SeveralMembers(name.to_string())),
    }
}
