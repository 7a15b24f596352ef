//! `sotto group create|add|remove|role|members|info|leave|delete`: groups of contacts.

use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::json;
use sotto_app::{Command, Reply, Role};

use super::{ClientArgs, UNEXPECTED};
use crate::serve::json::{group_json, member_json};

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Found a group, with you as its owner, on a mailbox host sotto picks.
    ///
    /// Its name is also what you call it in `send`, `read` and `history`, so it must differ
    /// from your contacts' and other groups' names.
    Create(CreateArgs),
    /// Invite contacts into a group (owners and admins).
    ///
    /// Their devices answer by themselves; each is in the group once your device has read
    /// their answer (`sotto read`, or a running `sotto serve`/`chat`), and they are once
    /// their device reads your welcome.
    Add(AddArgs),
    /// Remove a member (owners and admins): the group's keys change, so they read nothing
    /// sent from then on.
    Remove(MemberArgs),
    /// Give a member a role: owner, admin, member or observer (reads only).
    Role(RoleArgs),
    /// List a group's members with their roles (--json: one object per member with `name`,
    /// `role`, `you`).
    Members(GroupArgs),
    /// A group's name, description, size and your role.
    Info(GroupArgs),
    /// Leave a group: your device asks to be removed (owners' and admins' devices do it when
    /// they next read), stops reading it and forgets it.
    Leave(GroupArgs),
    /// Delete a group for everyone (its owner): its mailbox goes from its host.
    Delete(GroupArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    name: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct AddArgs {
    group: String,
    /// Contacts' aliases, as `sotto contacts` lists them.
    #[arg(required = true)]
    contacts: Vec<String>,
    /// Their role in the group.
    #[arg(long, default_value = "member")]
    role: Role,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct MemberArgs {
    group: String,
    /// The member's name in the group, as `sotto group members` lists it.
    member: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct RoleArgs {
    group: String,
    member: String,
    /// owner, admin, member or observer.
    role: Role,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct GroupArgs {
    group: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

impl GroupCommand {
    pub fn client_args(&mut self) -> &mut ClientArgs {
        match self {
            Self::Create(args) => &mut args.client,
            Self::Add(args) => &mut args.client,
            Self::Remove(args) => &mut args.client,
            Self::Role(args) => &mut args.client,
            Self::Members(args) | Self::Info(args) | Self::Leave(args) | Self::Delete(args) => {
                &mut args.client
            }
        }
    }
}

pub async fn run_group(mut command: GroupCommand) -> anyhow::Result<()> {
    let client = command.client_args().clone();
    let output = client.output();
    let mut app = client.app()?;
    // What waits (answers to invitations, welcomes, commits) is applied before anything else.
    let events = app.catch_up().await?;
    output.events(&events);
    let (call, done) = match command {
        GroupCommand::Create(args) => (Command::CreateGroup { name: args.name }, "created"),
        GroupCommand::Add(args) => (
            Command::AddToGroup {
                group: args.group,
                contacts: args.contacts,
                role: args.role,
            },
            "invited",
        ),
        GroupCommand::Remove(args) => (
            Command::RemoveFromGroup {
                group: args.group,
                member: args.member,
            },
            "removed",
        ),
        GroupCommand::Role(args) => (
            Command::SetGroupRole {
                group: args.group,
                member: args.member,
                role: args.role,
            },
            "role set",
        ),
        GroupCommand::Leave(args) => (Command::LeaveGroup { group: args.group }, "left"),
        GroupCommand::Delete(args) => (Command::DeleteGroup { group: args.group }, "deleted"),
        GroupCommand::Members(args) => {
            let call = Command::GroupMembers { group: args.group };
            let Reply::GroupMembers(members) = app.call(call).await? else {
                bail!(UNEXPECTED);
            };
            for member in &members {
                output.emit(member_json(member), || {
                    let you = if member.you { " (you)" } else { "" };
                    format!("{}{you}  {}", member.name, member.role)
                });
            }
            return Ok(());
        }
        GroupCommand::Info(args) => {
            let Reply::Groups(groups) = app.call(Command::Groups).await? else {
                bail!(UNEXPECTED);
            };
            let Some(group) = groups.iter().find(|g| g.alias == args.group) else {
                bail!("no group named '{}'", args.group);
            };
            output.emit(group_json(group), || {
                format!(
                    "{}: {} member(s), you are {}{}",
                    group.name,
                    group.members,
                    group.role,
                    match group.description.as_str() {
                        "" => String::new(),
                        d => format!("\n{d}"),
                    }
                )
            });
            return Ok(());
        }
    };
    match app.call(call).await? {
        Reply::GroupCreated { alias } => output
            .emit(json!({"event": "group_created", "group": alias}), || {
                format!("Group {alias} created; `sotto group add {alias} CONTACT` invites.")
            }),
        Reply::GroupChanged => {
            output.emit(json!({"event": "group", "done": done}), || done.to_string())
        }
        _ => bail!(UNEXPECTED),
    }
    Ok(())
}
