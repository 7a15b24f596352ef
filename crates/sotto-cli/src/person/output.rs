//! What the person commands print: friendly text, or with `--json` one JSON object per line
//! (each with an `event` field) for scripts.

use std::path::Path;

use serde_json::{json, Value};
use sotto_app::{AppEvent, ConnectionState, Contact, FileSummary, MessageId, MessageView};
use sotto_client::KeyPlace;

use super::printable::{as_read, printable, Form};
use crate::serve::json::{api_event, api_file};

/// The first 8 hex digits of a message id: enough for `--reply-to`.
fn short_id(id: &MessageId) -> String {
    hex::encode(&id[..4])
}

/// A peer-chosen name (an alias, a display name) as text output shows it.
fn name(text: &str) -> std::borrow::Cow<'_, str> {
    printable(text, Form::Line)
}

pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn emit(&self, value: Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", text());
        }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    pub fn file_resumed(&self, id: &MessageId) {
        self.emit(
            json!({"event": "file_resumed", "id": hex::encode(id)}),
            || {
                format!(
                    "finished the upload an earlier run left (id {})",
                    short_id(id)
                )
            },
        );
    }

    pub fn downloaded(&self, file: &FileSummary, path: &Path) {
        self.emit(
            json!({"event": "downloaded", "id": hex::encode(file.id), "path": path,
                   "size": file.size}),
            || {
                format!(
                    "{} ({} bytes) written to {}",
                    name(&file.name),
                    file.size,
                    path.display()
                )
            },
        );
    }

    /// Every transfer: direction, state, how far.
    pub fn cancelled(&self, file: &FileSummary) {
        self.emit(
            json!({"event": "cancelled", "id": hex::encode(file.id)}),
            || {
                format!(
                    "cancelled {} (id {}): its chunks are deleted at their hosts",
                    name(&file.name),
                    short_id(&file.id)
                )
            },
        );
    }

    pub fn files(&self, files: &[FileSummary]) {
        if files.is_empty() && !self.json {
            println!("No files yet. `sotto send CONTACT --file PATH` sends one.");
        }
        for file in files {
            let mut value = json!(api_file(file));
            value["event"] = json!("file");
            self.emit(value, || {
                let way = if file.outgoing { "to" } else { "from" };
                format!(
                    "{}  {} ({} bytes) {way} {}: {} {}/{} chunks   [id {}]",
                    file.kind.name(),
                    name(&file.name),
                    file.size,
                    name(&file.alias),
                    file.state.name(),
                    file.chunks_done,
                    file.chunks,
                    short_id(&file.id)
                )
            });
        }
    }

    pub fn initialized(&self, name: &str, home: &Path) {
        self.emit(
            json!({"event": "initialized", "name": name, "home": home}),
            || {
                format!(
                    "Hello {name}. Your device lives in {}.\n\
                     Next: `sotto invite` makes a one-time link for someone to connect with you.",
                    home.display()
                )
            },
        );
    }

    /// Where the store's key is now, after `sotto passphrase`.
    pub fn unlocked_by(&self, place: &KeyPlace, home: &Path) {
        let (kept, text) = match place {
            KeyPlace::Passphrase => (
                "passphrase",
                "The store now opens with your passphrase alone; no key for it is kept.".to_owned(),
            ),
            KeyPlace::Keyring(entry) => (
                "keyring",
                format!("The store's key is now kept in the OS keyring (service sotto, {entry})."),
            ),
            KeyPlace::KeyFile => (
                "key-file",
                format!(
                    "The store's key is now kept in {}.",
                    home.join(sotto_client::KEY_FILE).display()
                ),
            ),
        };
        self.emit(json!({"event": "rekeyed", "unlocked_by": kept}), || text);
    }

    pub fn invited(&self, link: &str, qr: Option<&str>, png: Option<&Path>) {
        self.emit(
            json!({"event": "invited", "link": link, "qr_png": png}),
            || {
                let mut text = String::new();
                if let Some(qr) = qr {
                    text.push_str(qr);
                    text.push('\n');
                }
                text.push_str(&format!(
                    "Your one-time link (it works once; send it privately):\n\n  {link}\n\n\
                 The other person runs: sotto connect '{link}'\n\
                 Then `sotto read --wait 60` here shows when they have connected."
                ));
                if let Some(png) = png {
                    text.push_str(&format!("\nQR code written to {}.", png.display()));
                }
                text
            },
        );
    }

    pub fn connected(&self, alias: &str) {
        self.emit(json!({"event": "connected", "alias": alias}), || {
            let alias = name(alias);
            format!("Connected with {alias}. Say hi: sotto send '{alias}' 'hi'")
        });
    }

    pub fn sent(&self, to: &str, id: &MessageId) {
        self.emit(
            json!({"event": "sent", "to": to, "id": hex::encode(id)}),
            || format!("sent to {} (id {})", name(to), short_id(id)),
        );
    }

    pub fn changed(&self, contact: &str, id: &MessageId, done: &str) {
        self.emit(
            json!({"event": "changed", "conversation": contact, "id": hex::encode(id)}),
            || format!("{done} message {} (with {})", short_id(id), name(contact)),
        );
    }

    pub fn timer(&self, contact: &str, seconds: u32) {
        self.emit(
            json!({"event": "timer", "conversation": contact, "seconds": seconds}),
            || timer_text(None, contact, seconds),
        );
    }

    pub fn contacts(&self, contacts: &[Contact], pending_links: usize) {
        for contact in contacts {
            self.emit(
                json!({"event": "contact", "alias": contact.alias, "name": contact.name,
                       "unread": contact.unread}),
                || {
                    let unread = match contact.unread {
                        0 => String::new(),
                        n => format!("  ({n} unread)"),
                    };
                    let alias = name(&contact.alias);
                    if contact.alias == contact.name {
                        format!("{alias}{unread}")
                    } else {
                        format!("{alias} ({}){unread}", name(&contact.name))
                    }
                },
            );
        }
        if contacts.is_empty() && !self.json {
            println!(
                "No contacts yet. `sotto invite` makes a link; `sotto connect LINK` uses one."
            );
        }
        if pending_links > 0 {
            self.emit(
                json!({"event": "pending_links", "count": pending_links}),
                || format!("{pending_links} link(s) of yours not answered yet"),
            );
        }
    }

    pub fn events(&self, events: &[AppEvent]) {
        for event in events {
            let text = match event {
                AppEvent::Message(m) => {
                    let reply = m
                        .reply_to
                        .map(|r| format!(" (reply to {})", short_id(&r)))
                        .unwrap_or_default();
                    let file = m
                        .file
                        .as_ref()
                        .map(|f| {
                            format!(
                                "[{} {}, {} bytes; sotto download {} --out PATH] ",
                                f.kind.name(),
                                name(&f.name),
                                f.size,
                                short_id(&m.id)
                            )
                        })
                        .unwrap_or_default();
                    let group = m
                        .group
                        .as_ref()
                        .map(|g| format!(" in {}", name(g)))
                        .unwrap_or_default();
                    format!(
                        "{}{group}{reply}: {file}{}   [id {}]",
                        name(&m.contact),
                        as_read(m),
                        short_id(&m.id)
                    )
                }
                AppEvent::Timer { contact, seconds } => {
                    timer_text(Some(contact), contact, *seconds)
                }
                AppEvent::Changed { contact, id } => {
                    format!(
                        "{} changed message {} (see `sotto history`)",
                        name(contact),
                        short_id(id)
                    )
                }
                AppEvent::Connected { contact } => {
                    format!("{} connected with you.", name(contact))
                }
                AppEvent::Delivered { contact, count } => {
                    format!("{count} message(s) delivered to {}", name(contact))
                }
                AppEvent::Rejected { contact, reason } => {
                    format!("warning: in {}: {}", name(contact), name(reason))
                }
                AppEvent::Removed { contact } => {
                    format!(
                        "{} removed this device from the conversation",
                        name(contact)
                    )
                }
                AppEvent::Connection(ConnectionState::Online) => "online".to_string(),
                AppEvent::Connection(ConnectionState::Offline { reason }) => {
                    format!("offline: {}", printable(reason, Form::Text))
                }
                AppEvent::Offer(m) => format!(
                    "{} offers file {} (sotto download {} --out PATH)",
                    name(&m.contact),
                    m.file.as_ref().map(|f| name(&f.name)).unwrap_or_default(),
                    short_id(&m.id)
                ),
                AppEvent::FileProgress {
                    id, done, total, ..
                } => format!("file {}: {done} of {total} bytes", short_id(id)),
                AppEvent::FileDone { id, path, .. } => {
                    format!("file {}: done, {}", short_id(id), path.display())
                }
                AppEvent::FileFailed { id, reason, .. } => format!(
                    "file {}: stopped: {}",
                    short_id(id),
                    printable(reason, Form::Text)
                ),
                AppEvent::JoinedGroup { group } => format!("You joined the group {}.", name(group)),
                AppEvent::AddedToGroup { group, member } => {
                    format!("{} is in the group {} now.", name(member), name(group))
                }
            };
            self.emit(json!(api_event(event.clone())), || text);
        }
    }

    pub fn messages(&self, messages: &[MessageView]) {
        let events: Vec<AppEvent> = messages.iter().cloned().map(AppEvent::Message).collect();
        self.events(&events);
    }

    /// A conversation, oldest first. In JSON `from` is the sender's name (yours for your
    /// messages, `mine` says which), `sent_at` unix milliseconds by the sender's clock, and
    /// `delivered` is there for yours only: receipts come back for what you sent.
    pub fn history(&self, contact: &str, me: &str, messages: &[MessageView]) {
        if messages.is_empty() && !self.json {
            println!("No messages with {contact} yet.");
        }
        for m in messages {
            let id = hex::encode(m.id);
            let reply_to = m.reply_to.map(hex::encode);
            // In a group, the sender is the member, not the group.
            let sender = if m.group.is_some() {
                &m.contact
            } else {
                contact
            };
            let mut value = json!({"event": "message", "from": if m.outgoing { me } else { sender },
                                   "mine": m.outgoing, "text": m.text, "id": id,
                                   "sent_at": m.sent_at_ms});
            if let Some(group) = &m.group {
                value["group"] = json!(group);
            }
            if let Some(reply_to) = &reply_to {
                value["reply_to"] = json!(reply_to);
            }
            if m.outgoing {
                value["delivered"] = json!(m.delivered);
            }
            for (field, set) in [("edited", m.edited), ("deleted", m.deleted)] {
                if set {
                    value[field] = json!(true);
                }
            }
            for (field, reaction) in [
                ("my_reaction", &m.my_reaction),
                ("their_reaction", &m.their_reaction),
            ] {
                if let Some(reaction) = reaction {
                    value[field] = json!(reaction);
                }
            }
            self.emit(value, || {
                let (who, mark) = match (m.outgoing, m.delivered) {
                    (false, _) => (sender, ""),
                    (true, false) => ("me", " ✓"),
                    (true, true) => ("me", " ✓✓"),
                };
                let reply = reply_to
                    .as_ref()
                    .map(|r| format!(" (reply to {})", &r[..8]))
                    .unwrap_or_default();
                format!("{who}{reply}: {}{mark}   [id {}]", as_read(m), &id[..8])
            });
        }
    }

    pub fn warning(&self, text: &str) {
        if self.json {
            println!("{}", json!({"event": "warning", "text": text}));
        } else {
            eprintln!("warning: {}", printable(text, Form::Text));
        }
    }
}

/// What a timer set on a conversation means, said of the one who set it (`None`: you).
fn timer_text(by: Option<&str>, contact: &str, seconds: u32) -> String {
    let what = match seconds {
        0 => "stay".to_string(),
        _ => format!("disappear {seconds} s after they arrive"),
    };
    match by {
        None => format!("messages with {} now {what}", name(contact)),
        Some(by) => format!("{} set messages to {what}", name(by)),
    }
}
