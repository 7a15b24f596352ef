//! The API's JSON at its edge: requests become the app's typed commands, and its typed replies
//! and events become the JSON of `docs/api.md` (also what the person commands print with
//! `--json`).

use base64::prelude::{Engine, BASE64_STANDARD};
use serde_json::{json, Value};
use sotto_app::{
    AppEvent, Change, Command, ConnectionState, FileSummary, GroupMember, GroupSummary,
    MessageView, Reply, Role,
};
use sotto_proto::file_offer::{FileKind, Media};

/// The app's command for an API request, or why there is none (a role that does not exist).
pub fn command(command: sotto_api::Command) -> Result<Command, String> {
    use sotto_api::Command as Api;
    let role = |name: &str| {
        name.parse::<Role>()
            .map_err(|_| format!("no role '{name}': owner, admin, member or observer"))
    };
    Ok(match command {
        Api::Invite => Command::Invite,
        Api::Connect { link, alias } => Command::Connect { link, alias },
        Api::Contacts => Command::Contacts,
        Api::Send {
            contact,
            text,
            reply_to,
        } => Command::Send {
            contact,
            text,
            reply_to,
        },
        Api::Edit {
            contact,
            message,
            text,
        } => Command::Change {
            contact,
            message,
            change: Change::Edit(text),
        },
        Api::Delete { contact, message } => Command::Change {
            contact,
            message,
            change: Change::Delete,
        },
        Api::React {
            contact,
            message,
            emoji,
        } => Command::Change {
            contact,
            message,
            change: Change::React(emoji),
        },
        Api::Timer { contact, seconds } => Command::SetTimer { contact, seconds },
        Api::Read { contact } => Command::Read { contact },
        Api::Messages { contact } => Command::Messages { contact },
        Api::Files => Command::Files,
        Api::SendFile {
            contact,
            path,
            caption,
        } => Command::SendFile {
            contact,
            path: path.into(),
            caption,
        },
        Api::Download { file, out } => Command::Download {
            file,
            out: out.map(Into::into),
        },
        Api::GroupCreate { name } => Command::CreateGroup { name },
        Api::GroupAdd {
            group,
            contacts,
            role: name,
        } => Command::AddToGroup {
            group,
            contacts,
            role: name.as_deref().map_or(Ok(Role::Member), role)?,
        },
        Api::GroupRemove { group, member } => Command::RemoveFromGroup { group, member },
        Api::GroupRole {
            group,
            member,
            role: name,
        } => Command::SetGroupRole {
            group,
            member,
            role: role(&name)?,
        },
        Api::GroupLeave { group } => Command::LeaveGroup { group },
        Api::GroupDelete { group } => Command::DeleteGroup { group },
        Api::Groups => Command::Groups,
        Api::GroupMembers { group } => Command::GroupMembers { group },
    })
}

/// A reply's `result` object.
pub fn result(reply: Reply) -> Value {
    let messages = |messages: Vec<MessageView>| -> Vec<sotto_api::MessageView> {
        messages.iter().map(api_message).collect()
    };
    match reply {
        Reply::Link(link) => {
            let link = link.to_string();
            // A link always fits a QR code; were one not to, the page shows the link alone.
            let qr_svg = crate::person::qr::svg(&link).ok();
            json!({ "link": link, "qr_svg": qr_svg })
        }
        Reply::Connected { alias } => json!({ "alias": alias }),
        // Pending links are for the command line's summary; the API keeps its documented shape.
        Reply::Contacts { contacts, .. } => {
            let contacts: Vec<sotto_api::Contact> = contacts
                .into_iter()
                .map(|c| sotto_api::Contact {
                    alias: c.alias,
                    name: c.name,
                    unread: c.unread,
                    timer: c.disappear_secs,
                })
                .collect();
            json!({ "contacts": contacts })
        }
        Reply::Sent { id } | Reply::Changed { id } => json!({ "id": hex::encode(id) }),
        Reply::TimerSet => json!({}),
        Reply::Messages(list) => json!({ "messages": messages(list) }),
        Reply::History(history) => {
            json!({ "me": history.me, "messages": messages(history.messages) })
        }
        Reply::Files(files) => {
            let files: Vec<sotto_api::FileTransfer> = files.iter().map(api_file).collect();
            json!({ "files": files })
        }
        Reply::Transfer { id, path } => {
            json!({ "id": hex::encode(id), "path": path.display().to_string() })
        }
        Reply::GroupCreated { alias } => json!({ "group": alias }),
        Reply::GroupChanged => json!({}),
        Reply::Groups(groups) => {
            json!({ "groups": groups.iter().map(group_json).collect::<Vec<_>>() })
        }
        Reply::GroupMembers(members) => {
            json!({ "members": members.iter().map(member_json).collect::<Vec<_>>() })
        }
    }
}

pub fn group_json(group: &GroupSummary) -> Value {
    json!({"group": group.alias, "name": group.name, "description": group.description,
           "members": group.members, "role": group.role.name(), "unread": group.unread})
}

pub fn member_json(member: &GroupMember) -> Value {
    json!({"name": member.name, "role": member.role.name(), "you": member.you})
}

fn api_message(m: &MessageView) -> sotto_api::MessageView {
    sotto_api::MessageView {
        from: m.contact.clone(),
        text: m.text.clone(),
        id: hex::encode(m.id),
        sent_at: m.sent_at_ms,
        reply_to: m.reply_to.map(hex::encode),
        outgoing: m.outgoing,
        delivered: m.delivered,
        edited: m.edited,
        deleted: m.deleted,
        my_reaction: m.my_reaction.clone(),
        their_reaction: m.their_reaction.clone(),
        file: m
            .file
            .as_ref()
            .map(|file| file_info(&file.name, file.size, file.kind, file.media.as_ref())),
        group: m.group.clone(),
    }
}

fn file_info(name: &str, size: u64, kind: FileKind, media: Option<&Media>) -> sotto_api::FileInfo {
    let mut preview = sotto_api::FilePreview::default();
    match media {
        Some(Media::Image {
            width,
            height,
            thumbnail,
        }) => {
            preview.width = Some(*width);
            preview.height = Some(*height);
            preview.thumbnail = Some(BASE64_STANDARD.encode(thumbnail));
        }
        Some(Media::Voice {
            duration_ms,
            waveform,
        }) => {
            preview.duration_ms = Some(*duration_ms);
            preview.waveform = Some(waveform.clone());
        }
        None => {}
    }
    sotto_api::FileInfo {
        name: name.to_string(),
        size,
        kind: kind.name().to_string(),
        preview: Box::new(preview),
    }
}

pub fn api_file(file: &FileSummary) -> sotto_api::FileTransfer {
    sotto_api::FileTransfer {
        id: hex::encode(file.id),
        contact: file.alias.clone(),
        outgoing: file.outgoing,
        file: file_info(&file.name, file.size, file.kind, file.media.as_ref()),
        state: file.state.name().to_string(),
        chunks_done: file.chunks_done,
        chunks: file.chunks,
        path: file.path.as_ref().map(|p| p.display().to_string()),
    }
}

pub fn api_event(event: AppEvent) -> sotto_api::Event {
    use sotto_api::Event as Api;
    match event {
        AppEvent::Message(m) => Api::Message(api_message(&m)),
        AppEvent::Connected { contact } => Api::Connected { alias: contact },
        AppEvent::Delivered { contact, count } => Api::Delivered { to: contact, count },
        AppEvent::Rejected { contact, reason } => Api::Rejected {
            conversation: contact,
            reason,
        },
        AppEvent::Removed { contact } => Api::Removed {
            conversation: contact,
        },
        AppEvent::Changed { contact, id } => Api::Changed {
            conversation: contact,
            id: hex::encode(id),
        },
        AppEvent::Timer { contact, seconds } => Api::Timer {
            conversation: contact,
            seconds,
        },
        AppEvent::Connection(ConnectionState::Online) => Api::Connection {
            state: sotto_api::ConnectionState::Online,
            detail: None,
        },
        AppEvent::Connection(ConnectionState::Offline { reason }) => Api::Connection {
            state: sotto_api::ConnectionState::Offline,
            detail: Some(reason),
        },
        AppEvent::Offer(m) => Api::Offer(api_message(&m)),
        AppEvent::FileProgress {
            id,
            contact,
            outgoing,
            done,
            total,
        } => Api::Progress {
            id: hex::encode(id),
            contact,
            outgoing,
            done,
            total,
        },
        AppEvent::FileDone {
            id,
            contact,
            outgoing,
            path,
        } => Api::Done {
            id: hex::encode(id),
            contact,
            outgoing,
            path: path.display().to_string(),
        },
        AppEvent::FileFailed {
            id,
            contact,
            outgoing,
            reason,
        } => Api::Failed {
            id: hex::encode(id),
            contact,
            outgoing,
            reason,
        },
        AppEvent::JoinedGroup { group } => Api::JoinedGroup { group },
        AppEvent::AddedToGroup { group, member } => Api::AddedToGroup { group, member },
    }
}
