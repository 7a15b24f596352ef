//! Groups in the chat, typed in the composer: `/group create NAME` founds one and selects it,
//! `/group add CONTACT` invites a contact into the selected group, `/members` lists its
//! members with their roles on the status line.

use sotto_app::{Command, Reply, Role};

use super::app::{App, UNEXPECTED};

/// A group command typed in the composer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupCommand {
    Create { name: String },
    Add { contact: String },
    Members,
}

/// What `line` asks for, if it is a group command; a name or alias is the rest of the line,
/// spaces and all.
pub fn group_command(line: &str) -> Option<GroupCommand> {
    let line = line.trim();
    if line == "/members" {
        return Some(GroupCommand::Members);
    }
    let rest = line.strip_prefix("/group ")?.trim_start();
    let (verb, argument) = rest.split_once(' ')?;
    let argument = argument.trim().to_string();
    if argument.is_empty() {
        return None;
    }
    match verb {
        "create" => Some(GroupCommand::Create { name: argument }),
        "add" => Some(GroupCommand::Add { contact: argument }),
        _ => None,
    }
}

impl App {
    pub(super) async fn group_command(&mut self, command: GroupCommand) {
        match command {
            GroupCommand::Create { name } => self.create_group(name).await,
            GroupCommand::Add { contact } => {
                let Some(group) = self.selected_group() else {
                    self.status = "select a group first (↑↓), then /group add CONTACT".into();
                    return;
                };
                let command = Command::AddToGroup {
                    group: group.clone(),
                    contacts: vec![contact.clone()],
                    role: Role::Member,
                };
                self.status = match self.device.call(command).await {
                    Ok(_) => {
                        format!("{contact} invited into {group}; in once their device answers")
                    }
                    Err(error) => format!("not added: {error}"),
                };
            }
            GroupCommand::Members => self.show_members().await,
        }
    }

    async fn create_group(&mut self, name: String) {
        match self.device.call(Command::CreateGroup { name }).await {
            Ok(Reply::GroupCreated { alias }) => {
                self.refresh().await;
                self.select(&alias).await;
                self.status = format!("group {alias} made; /group add CONTACT invites someone");
            }
            Ok(_) => self.status = UNEXPECTED.into(),
            Err(error) => self.status = format!("no group: {error}"),
        }
    }

    async fn show_members(&mut self) {
        let Some(group) = self.selected_group() else {
            self.status = "/members lists a group's members: select a group first".into();
            return;
        };
        let command = Command::GroupMembers {
            group: group.clone(),
        };
        self.status = match self.device.call(command).await {
            Ok(Reply::GroupMembers(members)) => {
                let listed: Vec<String> = members
                    .iter()
                    .map(|m| {
                        let you = if m.you { ", you" } else { "" };
                        format!("{} ({}{you})", m.name, m.role.name())
                    })
                    .collect();
                format!("members of {group}: {}", listed.join(", "))
            }
            Ok(_) => UNEXPECTED.into(),
            Err(error) => format!("no members: {error}"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::{group_command, GroupCommand};

    #[test]
    fn group_commands_are_read_from_the_composer() {
        assert_eq!(
            group_command("/group create Book club"),
            Some(GroupCommand::Create {
                name: "Book club".into()
            })
        );
        assert_eq!(
            group_command(" /group add Bob "),
            Some(GroupCommand::Add {
                contact: "Bob".into()
            })
        );
        assert_eq!(group_command("/members"), Some(GroupCommand::Members));
        for not_one in [
            "/group create",
            "/group add ",
            "/group rename x",
            "/groups",
            "hi",
        ] {
            assert_eq!(group_command(not_one), None, "{not_one}");
        }
    }
}
