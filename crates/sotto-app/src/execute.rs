//! Running one command on the device, the same way for the long-lived loop and for a one-shot
//! command.

use std::path::Path;

use sotto_client::store::Records;
use sotto_client::{ConversationError, Device};
use sotto_proto::conversation::MessageId;

use crate::command::{views, Command, History, Reply};
use crate::error::AppError;
use crate::files;

/// The fewest hex digits of a message id that pick it out: fewer would often match several.
pub(crate) const MIN_ID_PREFIX: usize = 8;

/// Runs `command` to its end (a file transfer included); `files_dir` is where a download
/// given no path goes.
pub(crate) async fn execute(
    device: &mut Device,
    command: Command,
    files_dir: Option<&Path>,
) -> Result<Reply, AppError> {
    Ok(match command {
        Command::Invite => Reply::Link(device.invite().await?),
        Command::Connect { link, alias } => Reply::Connected {
            alias: device.connect(&link, alias.as_deref()).await?,
        },
        Command::Contacts => Reply::Contacts {
            contacts: device.contacts()?,
            pending_links: device.records().pending_links()?,
        },
        Command::Send {
            contact,
            text,
            reply_to,
        } => {
            let reply_to = reply_to
                .map(|prefix| find_message(device.records(), &contact, &prefix))
                .transpose()?;
            Reply::Sent {
                id: device.send(&contact, &text, reply_to).await?,
            }
        }
        Command::Change {
            contact,
            message,
            change,
        } => {
            let id = find_message(device.records(), &contact, &message)?;
            device.change(&contact, id, change).await?;
            Reply::Changed { id }
        }
        Command::SetTimer { contact, seconds } => {
            device.set_timer(&contact, seconds).await?;
            Reply::TimerSet
        }
        Command::Read { contact } => {
            Reply::Messages(views(device.records().take_unshown(contact.as_deref())?))
        }
        Command::Messages { contact } => {
            Reply::Messages(views(device.records().messages(&contact)?))
        }
        Command::History { contact, limit } => {
            Reply::History(history(device.records(), &contact, limit)?)
        }
        Command::Files => Reply::Files(device.records().files()?),
        Command::SendFile {
            contact,
            path,
            caption,
        } => {
            let limit = sotto_client::DEFAULT_MAX_FILE_SIZE;
            let no_progress = &mut |_: &MessageId, _: &sotto_client::files::ChunkSet| true;
            let (_, id) =
                files::send_file(device, &contact, &path, None, &caption, limit, no_progress)
                    .await?;
            Reply::Transfer { id, path }
        }
        Command::Download { file, out } => {
            let (file, out) = files::destination(device, &file, out, files_dir)?;
            let no_progress = &mut |_: &MessageId, _: &sotto_client::files::ChunkSet| true;
            let path = device.download(&file.id, &out, no_progress).await?;
            Reply::Transfer { id: file.id, path }
        }
        Command::CreateGroup { name } => Reply::GroupCreated {
            alias: device.create_group(&name).await?,
        },
        Command::AddToGroup {
            group,
            contacts,
            role,
        } => {
            let contacts: Vec<&str> = contacts.iter().map(String::as_str).collect();
            device.invite_to_group(&group, &contacts, role).await?;
            Reply::GroupChanged
        }
        Command::RemoveFromGroup { group, member } => {
            device.remove_from_group(&group, &member).await?;
            Reply::GroupChanged
        }
        Command::SetGroupRole {
            group,
            member,
            role,
        } => {
            device.set_group_role(&group, &member, role).await?;
            Reply::GroupChanged
        }
        Command::LeaveGroup { group } => {
            device.leave_group(&group).await?;
            Reply::GroupChanged
        }
        Command::DeleteGroup { group } => {
            device.delete_group(&group).await?;
            Reply::GroupChanged
        }
        Command::Groups => Reply::Groups(device.groups()?),
        Command::GroupMembers { group } => Reply::GroupMembers(device.group_members(&group)?),
    })
}

/// A conversation as the store has it; nothing is marked read.
pub(crate) fn history(
    records: Records<'_>,
    contact: &str,
    limit: Option<usize>,
) -> Result<History, AppError> {
    let me = records.name()?.ok_or(ConversationError::NotInitialized)?;
    known(records, contact)?;
    let mut messages = records.messages(contact)?;
    if let Some(limit) = limit {
        messages.drain(..messages.len().saturating_sub(limit));
    }
    Ok(History {
        me,
        messages: views(messages),
    })
}

/// Refuses a contact the device does not have.
pub(crate) fn known(records: Records<'_>, contact: &str) -> Result<(), AppError> {
    if records.has_contact(contact)? {
        Ok(())
    } else {
        Err(ConversationError::UnknownContact(contact.to_string()).into())
    }
}

/// The id of the message in `contact`'s conversation whose hex id starts with `prefix`.
fn find_message(records: Records<'_>, contact: &str, prefix: &str) -> Result<MessageId, AppError> {
    let prefix = prefix.to_ascii_lowercase();
    if prefix.len() < MIN_ID_PREFIX {
        return Err(AppError::ShortMessageId);
    }
    let matches: Vec<MessageId> = records
        .messages(contact)?
        .into_iter()
        .map(|m| m.id)
        .filter(|id| hex::encode(id).starts_with(&prefix))
        .collect();
    match matches.as_slice() {
        [id] => Ok(*id),
        [] => Err(AppError::NoSuchMessage {
            prefix,
            contact: contact.to_string(),
        }),
        _ => Err(AppError::AmbiguousMessageId { prefix }),
    }
}
