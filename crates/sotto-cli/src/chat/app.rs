//! The chat's state and what each key does, apart from any terminal: the device is reached
//! through its handle (`sotto_app::AppHandle`), so tests drive an `App` with keys and read its
//! screen.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use sotto_app::{
    AppEvent, AppHandle, Change, Command, ConnectionState, Contact, GroupSummary, MessageId,
    MessageView, Reply,
};

use super::group::group_command;
use super::scroll::Scroll;

/// What the composer line is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Typing a message to the selected contact.
    Message,
    /// Pasting a link to connect with.
    Connect,
    /// Showing a link just made, with its QR code.
    Invite { link: String, qr: String },
    /// Giving one of this device's messages a new text.
    Edit { id: MessageId },
    /// Waiting for Enter to delete one of this device's messages for both sides.
    Delete { id: MessageId },
}

pub struct App {
    pub(super) device: AppHandle,
    pub contacts: Vec<Contact>,
    /// Listed after the contacts: `selected` counts through both.
    pub groups: Vec<GroupSummary>,
    pub selected: usize,
    /// The selected conversation, oldest first.
    pub messages: Vec<MessageView>,
    pub scroll: Scroll,
    pub composer: String,
    pub mode: Mode,
    /// The message the next one replies to.
    pub reply_to: Option<MessageView>,
    pub status: String,
    pub online: Option<bool>,
    /// Transfers under way: bytes done and in all, and whether this device sends the file.
    pub transfers: BTreeMap<MessageId, Progress>,
    pub quit: bool,
}

/// How far one transfer got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub outgoing: bool,
    pub done: u64,
    pub total: u64,
}

/// What the chat says if the device answered with another kind of reply than the command's:
/// a bug, never something the person did.
pub(super) const UNEXPECTED: &str = "the device gave an unexpected answer";
/// The reaction Ctrl-L gives.
const LIKE: &str = "👍";

impl App {
    pub async fn new(device: AppHandle) -> Self {
        let mut app = Self {
            device,
            contacts: Vec::new(),
            groups: Vec::new(),
            selected: 0,
            messages: Vec::new(),
            scroll: Scroll::default(),
            composer: String::new(),
            mode: Mode::Message,
            reply_to: None,
            status: "connecting to the network...".into(),
            online: None,
            transfers: BTreeMap::new(),
            quit: false,
        };
        app.refresh().await;
        app
    }

    pub fn selected_alias(&self) -> Option<&str> {
        match self.contacts.get(self.selected) {
            Some(contact) => Some(&contact.alias),
            None => self.selected_group().map(String::as_str),
        }
    }

    /// The selected conversation's alias if it is a group's.
    pub fn selected_group(&self) -> Option<&String> {
        let index = self.selected.checked_sub(self.contacts.len())?;
        self.groups.get(index).map(|g| &g.alias)
    }

    fn conversations(&self) -> usize {
        self.contacts.len() + self.groups.len()
    }

    /// The unread count of the conversation `alias`, a contact's or a group's.
    fn unread_of(&mut self, alias: &str) -> Option<&mut u64> {
        match self.contacts.iter_mut().find(|c| c.alias == alias) {
            Some(contact) => Some(&mut contact.unread),
            None => self
                .groups
                .iter_mut()
                .find(|g| g.alias == alias)
                .map(|g| &mut g.unread),
        }
    }

    /// Selects the conversation `alias` and shows it.
    pub(super) async fn select(&mut self, alias: &str) {
        let contacts = self.contacts.iter().map(|c| &c.alias);
        if let Some(index) = contacts
            .chain(self.groups.iter().map(|g| &g.alias))
            .position(|a| a == alias)
        {
            self.selected = index;
            self.scroll.follow_newest();
            self.refresh().await;
        }
    }

    /// Reloads the contacts, the groups and the selected conversation (marking it read).
    pub async fn refresh(&mut self) {
        match self.device.call(Command::Contacts).await {
            Ok(Reply::Contacts { contacts, .. }) => self.contacts = contacts,
            Ok(_) => self.status = UNEXPECTED.into(),
            Err(error) => self.status = error.to_string(),
        }
        match self.device.call(Command::Groups).await {
            Ok(Reply::Groups(groups)) => self.groups = groups,
            Ok(_) => self.status = UNEXPECTED.into(),
            Err(error) => self.status = error.to_string(),
        }
        self.selected = self.selected.min(self.conversations().saturating_sub(1));
        let Some(alias) = self.selected_alias().map(str::to_string) else {
            self.messages.clear();
            return;
        };
        let _ = self
            .device
            .call(Command::Read {
                contact: Some(alias.clone()),
            })
            .await;
        if let Some(unread) = self.unread_of(&alias) {
            *unread = 0;
        }
        match self.device.call(Command::Messages { contact: alias }).await {
            Ok(Reply::Messages(messages)) => self.messages = messages,
            Ok(_) => self.status = UNEXPECTED.into(),
            Err(error) => self.status = error.to_string(),
        }
    }

    pub async fn on_event(&mut self, event: AppEvent) {
        match event {
            AppEvent::Message(message) => {
                // A group's message is the group's conversation's; `contact` is who wrote it.
                let conversation = message.group.as_ref().unwrap_or(&message.contact).clone();
                if Some(conversation.as_str()) == self.selected_alias() {
                    // A refresh run for an earlier event may have read it from the store.
                    if self.messages.iter().all(|m| m.id != message.id) {
                        self.messages.push(message);
                        self.scroll.arrived();
                    }
                } else if let Some(unread) = self.unread_of(&conversation) {
                    *unread += 1;
                    self.status = match &message.group {
                        Some(group) => format!("new message from {} in {group}", message.contact),
                        None => format!("new message from {conversation}"),
                    };
                }
            }
            AppEvent::Delivered { .. } => self.refresh().await,
            AppEvent::Timer { contact, seconds } => {
                self.status = match seconds {
                    0 => format!("{contact}: messages stay"),
                    _ => format!("{contact}: messages disappear {seconds} s after they arrive"),
                };
            }
            AppEvent::Changed { contact, .. } => {
                if Some(contact.as_str()) == self.selected_alias() {
                    self.refresh().await;
                }
            }
            AppEvent::Connected { contact } => {
                self.status = format!("{contact} connected with you");
                self.mode = Mode::Message;
                self.refresh().await;
            }
            AppEvent::Rejected { contact, reason } => {
                self.status = format!("in {contact}: rejected a message: {reason}")
            }
            AppEvent::Removed { contact } => {
                self.status = format!("{contact} removed you from the conversation")
            }
            // Its message came as `Message`.
            AppEvent::Offer(_) => {}
            AppEvent::FileProgress {
                id,
                outgoing,
                done,
                total,
                ..
            } => {
                self.transfers.insert(
                    id,
                    Progress {
                        outgoing,
                        done,
                        total,
                    },
                );
            }
            AppEvent::FileDone {
                id, outgoing, path, ..
            } => {
                self.transfers.remove(&id);
                self.status = if outgoing {
                    format!("file {} sent", hex::encode(&id[..4]))
                } else {
                    format!("file saved to {}", path.display())
                };
                self.refresh().await;
            }
            AppEvent::FileFailed { id, reason, .. } => {
                self.transfers.remove(&id);
                self.status = format!(
                    "file {} stopped: {reason} (the same command goes on with it)",
                    hex::encode(&id[..4])
                );
            }
            AppEvent::JoinedGroup { group } => {
                self.refresh().await;
                self.status = format!("you joined the group {group}");
            }
            AppEvent::AddedToGroup { group, member } => {
                self.refresh().await;
                self.status = format!("{member} is in the group {group} now");
            }
            AppEvent::Connection(state) => {
                self.online = Some(state == ConnectionState::Online);
                self.status = match state {
                    ConnectionState::Online => "messages arrive as they are sent".into(),
                    ConnectionState::Offline { reason } => format!("offline, retrying: {reason}"),
                };
            }
        }
    }

    pub async fn on_key(&mut self, key: KeyEvent) {
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        match (key.code, control) {
            (KeyCode::Char('c') | KeyCode::Char('q'), true) => self.quit = true,
            (KeyCode::Char('n'), true) => self.invite().await,
            (KeyCode::Char('o'), true) => {
                self.mode = Mode::Connect;
                self.composer.clear();
                self.status = "paste the link you were given, then Enter (Esc cancels)".into();
            }
            (KeyCode::Char('r'), true) => {
                self.reply_to = match self.reply_to {
                    Some(_) => None,
                    None => self.messages.iter().rev().find(|m| !m.outgoing).cloned(),
                };
            }
            (KeyCode::Char('e'), true) => {
                if let Some((id, text)) = self.last_of_mine().map(|m| (m.id, m.text.clone())) {
                    self.composer = text;
                    self.mode = Mode::Edit { id };
                    self.status = "edit your last message, then Enter (Esc cancels)".into();
                }
            }
            (KeyCode::Char('d'), true) => {
                if let Some(id) = self.last_of_mine().map(|m| m.id) {
                    self.mode = Mode::Delete { id };
                    self.status =
                        "Enter deletes your last message for both of you (Esc keeps it)".into();
                }
            }
            (KeyCode::Char('l'), true) => {
                if let Some(theirs) = self
                    .messages
                    .iter()
                    .rev()
                    .find(|m| !m.outgoing && !m.deleted)
                {
                    // The same reaction again takes it back.
                    let emoji = match theirs.my_reaction.as_deref() {
                        Some(LIKE) => "",
                        _ => LIKE,
                    };
                    let id = theirs.id;
                    self.change(id, Change::React(emoji.into())).await;
                }
            }
            (KeyCode::Esc, _) => {
                self.mode = Mode::Message;
                self.composer.clear();
                self.reply_to = None;
            }
            (KeyCode::Up, _) if self.selected > 0 => {
                self.selected -= 1;
                self.scroll.follow_newest();
                self.refresh().await;
            }
            (KeyCode::Down, _) if self.selected + 1 < self.conversations() => {
                self.selected += 1;
                self.scroll.follow_newest();
                self.refresh().await;
            }
            (KeyCode::PageUp, _) => self.scroll.page_up(),
            (KeyCode::PageDown, _) => self.scroll.page_down(),
            (KeyCode::Home, _) => self.scroll.jump_to_oldest(),
            (KeyCode::End, _) => self.scroll.follow_newest(),
            (KeyCode::Enter, _) => self.enter().await,
            (KeyCode::Backspace, _) => {
                self.composer.pop();
            }
            (KeyCode::Char(c), false) => self.composer.push(c),
            _ => {}
        }
    }

    async fn invite(&mut self) {
        match self.device.call(Command::Invite).await {
            Ok(Reply::Link(link)) => {
                let link = link.to_string();
                let qr = crate::person::qr::terminal(&link).unwrap_or_default();
                self.status = "give this link to one person; it works once (Esc hides it)".into();
                self.mode = Mode::Invite { link, qr };
            }
            Ok(_) => self.status = format!("no link: {UNEXPECTED}"),
            Err(error) => self.status = format!("no link: {error}"),
        }
    }

    /// The conversation's file messages, oldest first: `/download N` takes the Nth.
    pub fn file_messages(&self) -> impl Iterator<Item = &MessageView> {
        self.messages.iter().filter(|m| m.file.is_some())
    }

    async fn file_command(&mut self, contact: String, command: FileCommand) {
        let command = match command {
            FileCommand::Send { path, caption } => Command::SendFile {
                contact,
                path,
                caption,
            },
            FileCommand::Download { number, out } => {
                let file = number
                    .checked_sub(1)
                    .and_then(|index| self.file_messages().nth(index));
                let Some(file) = file else {
                    self.status = format!("no file #{number} in this conversation");
                    return;
                };
                Command::Download {
                    file: hex::encode(file.id),
                    out,
                }
            }
        };
        match self.device.call(command).await {
            Ok(Reply::Transfer { id, .. }) => {
                self.status = format!("file {} on its way", hex::encode(&id[..4]));
            }
            Ok(_) => self.status = UNEXPECTED.into(),
            Err(error) => self.status = format!("no transfer: {error}"),
        }
    }

    /// This device's last message in the conversation that is still there.
    fn last_of_mine(&self) -> Option<&MessageView> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.outgoing && !m.deleted)
    }

    /// Changes message `id` of the selected conversation on both sides and shows the result.
    async fn change(&mut self, id: MessageId, change: Change) {
        let Some(contact) = self.selected_alias().map(str::to_string) else {
            return;
        };
        let command = Command::Change {
            contact,
            message: hex::encode(id),
            change,
        };
        match self.device.call(command).await {
            Ok(_) => self.refresh().await,
            Err(error) => self.status = format!("not changed: {error}"),
        }
    }

    async fn enter(&mut self) {
        let text = std::mem::take(&mut self.composer);
        if let Mode::Delete { id } = self.mode {
            self.mode = Mode::Message;
            self.change(id, Change::Delete).await;
            return;
        }
        if text.trim().is_empty() {
            return;
        }
        match self.mode {
            Mode::Edit { id } => {
                self.mode = Mode::Message;
                self.change(id, Change::Edit(text)).await;
            }
            Mode::Delete { .. } => {}
            Mode::Connect => {
                let command = Command::Connect {
                    link: text.trim().to_string(),
                    alias: None,
                };
                match self.device.call(command).await {
                    Ok(Reply::Connected { alias }) => {
                        self.mode = Mode::Message;
                        self.status = format!("connected with {alias}");
                        self.refresh().await;
                        self.select(&alias).await;
                    }
                    Ok(_) => self.status = UNEXPECTED.into(),
                    Err(error) => self.status = error.to_string(),
                }
            }
            Mode::Invite { .. } => self.mode = Mode::Message,
            Mode::Message => {
                if let Some(command) = group_command(&text) {
                    self.group_command(command).await;
                    return;
                }
                if text.trim_start().starts_with("/group") {
                    self.composer = text;
                    self.status =
                        "/group create NAME, or /group add CONTACT into the selected group".into();
                    return;
                }
                let Some(contact) = self.selected_alias().map(str::to_string) else {
                    self.status = "no contact yet: Ctrl-N makes a link, Ctrl-O uses one".into();
                    return;
                };
                if let Some(command) = file_command(&text) {
                    self.file_command(contact, command).await;
                    return;
                }
                let command = Command::Send {
                    contact,
                    text: text.clone(),
                    reply_to: self.reply_to.take().map(|m| hex::encode(m.id)),
                };
                match self.device.call(command).await {
                    Ok(_) => {
                        // What one just sent is what one wants to see.
                        self.scroll.follow_newest();
                        self.refresh().await;
                    }
                    Err(error) => {
                        self.composer = text;
                        self.status = format!("not sent: {error}");
                    }
                }
            }
        }
    }
}

/// A file command typed in the composer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCommand {
    /// `/file PATH [CAPTION]`
    Send { path: PathBuf, caption: String },
    /// `/download N [PATH]`: the conversation's Nth file (as the chat numbers them).
    Download { number: usize, out: Option<PathBuf> },
}

/// What `line` asks for, if it is a file command. Paths are taken as typed, unquoted: the
/// path of `/file` ends at the first space (the caption follows), that of `/download` is the
/// rest of the line.
pub fn file_command(line: &str) -> Option<FileCommand> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("/file ") {
        let (path, caption) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
        return Some(FileCommand::Send {
            path: PathBuf::from(path),
            caption: caption.trim().to_string(),
        });
    }
    let rest = line.strip_prefix("/download ")?.trim();
    let (number, out) = rest.split_once(' ').unwrap_or((rest, ""));
    let out = out.trim();
    Some(FileCommand::Download {
        number: number.parse().ok()?,
        out: (!out.is_empty()).then(|| PathBuf::from(out)),
    })
}
