//! The chat's state and what each key does, apart from any terminal: the device is reached
//! through its task (`serve::device`), so tests drive an `App` with keys and read its screen.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;
use sotto_api::{Command, ConnectionState, Contact, Event, MessageView};
use tokio::sync::{mpsc, oneshot};

use super::scroll::Scroll;
use crate::serve::device::Job;

/// What the composer line is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Typing a message to the selected contact.
    Message,
    /// Pasting a link to connect with.
    Connect,
    /// Showing a link just made, with its QR code.
    Invite { link: String, qr: String },
}

pub struct App {
    jobs: mpsc::Sender<Job>,
    pub contacts: Vec<Contact>,
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
    pub quit: bool,
}

fn field<T: serde::de::DeserializeOwned>(mut value: Value, name: &str) -> Result<T, String> {
    serde_json::from_value(value.get_mut(name).map(Value::take).unwrap_or_default())
        .map_err(|e| e.to_string())
}

impl App {
    pub async fn new(jobs: mpsc::Sender<Job>) -> Self {
        let mut app = Self {
            jobs,
            contacts: Vec::new(),
            selected: 0,
            messages: Vec::new(),
            scroll: Scroll::default(),
            composer: String::new(),
            mode: Mode::Message,
            reply_to: None,
            status: "connecting to the network...".into(),
            online: None,
            quit: false,
        };
        app.refresh().await;
        app
    }

    async fn call(&self, command: Command) -> Result<Value, String> {
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Job { command, reply })
            .await
            .map_err(|_| "the client stopped".to_string())?;
        result
            .await
            .unwrap_or_else(|_| Err("the client stopped".into()))
    }

    pub fn selected_alias(&self) -> Option<&str> {
        self.contacts.get(self.selected).map(|c| c.alias.as_str())
    }

    /// Reloads the contact list and the selected conversation (marking it read).
    pub async fn refresh(&mut self) {
        match self
            .call(Command::Contacts)
            .await
            .and_then(|v| field(v, "contacts"))
        {
            Ok(contacts) => self.contacts = contacts,
            Err(error) => self.status = error,
        }
        self.selected = self.selected.min(self.contacts.len().saturating_sub(1));
        let Some(alias) = self.selected_alias().map(str::to_string) else {
            self.messages.clear();
            return;
        };
        let _ = self
            .call(Command::Read {
                contact: Some(alias.clone()),
            })
            .await;
        if let Some(contact) = self.contacts.get_mut(self.selected) {
            contact.unread = 0;
        }
        match self
            .call(Command::Messages { contact: alias })
            .await
            .and_then(|v| field(v, "messages"))
        {
            Ok(messages) => self.messages = messages,
            Err(error) => self.status = error,
        }
    }

    pub async fn on_event(&mut self, event: Event) {
        match event {
            Event::Message(message) => {
                if Some(message.from.as_str()) == self.selected_alias() {
                    self.messages.push(message);
                    self.scroll.arrived();
                } else if let Some(contact) =
                    self.contacts.iter_mut().find(|c| c.alias == message.from)
                {
                    contact.unread += 1;
                    self.status = format!("new message from {}", message.from);
                }
            }
            Event::Delivered { .. } => self.refresh().await,
            Event::Connected { alias } => {
                self.status = format!("{alias} connected with you");
                self.mode = Mode::Message;
                self.refresh().await;
            }
            Event::Rejected {
                conversation,
                reason,
            } => self.status = format!("in {conversation}: rejected a message: {reason}"),
            Event::Removed { conversation } => {
                self.status = format!("{conversation} removed you from the conversation")
            }
            Event::Connection { state, detail } => {
                self.online = Some(state == ConnectionState::Online);
                self.status = match (state, detail) {
                    (ConnectionState::Online, _) => "messages arrive as they are sent".into(),
                    (ConnectionState::Offline, detail) => format!(
                        "offline, retrying: {}",
                        detail.unwrap_or_else(|| "the network cannot be reached".into())
                    ),
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
            (KeyCode::Down, _) if self.selected + 1 < self.contacts.len() => {
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
        match self
            .call(Command::Invite)
            .await
            .and_then(|v| field::<String>(v, "link"))
        {
            Ok(link) => {
                let qr = crate::person::qr::terminal(&link).unwrap_or_default();
                self.status = "give this link to one person; it works once (Esc hides it)".into();
                self.mode = Mode::Invite { link, qr };
            }
            Err(error) => self.status = format!("no link: {error}"),
        }
    }

    async fn enter(&mut self) {
        let text = std::mem::take(&mut self.composer);
        if text.trim().is_empty() {
            return;
        }
        match self.mode {
            Mode::Connect => {
                let command = Command::Connect {
                    link: text.trim().to_string(),
                    alias: None,
                };
                match self
                    .call(command)
                    .await
                    .and_then(|v| field::<String>(v, "alias"))
                {
                    Ok(alias) => {
                        self.mode = Mode::Message;
                        self.status = format!("connected with {alias}");
                        self.refresh().await;
                        if let Some(index) = self.contacts.iter().position(|c| c.alias == alias) {
                            self.selected = index;
                            self.scroll.follow_newest();
                            self.refresh().await;
                        }
                    }
                    Err(error) => self.status = error,
                }
            }
            Mode::Invite { .. } => self.mode = Mode::Message,
            Mode::Message => {
                let Some(contact) = self.selected_alias().map(str::to_string) else {
                    self.status = "no contact yet: Ctrl-N makes a link, Ctrl-O uses one".into();
                    return;
                };
                let command = Command::Send {
                    contact,
                    text: text.clone(),
                    reply_to: self.reply_to.take().map(|m| m.id),
                };
                match self.call(command).await {
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
