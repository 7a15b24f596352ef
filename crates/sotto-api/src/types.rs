//! The API's JSON messages. Client to server: a [`Request`] (an `id` and a `command`). Server to
//! client: a [`Reply`] to each request (same `id`), and [`Event`]s as things happen.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the client; the reply carries it back.
    pub id: u64,
    #[serde(flatten)]
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Make a one-time link. Result: `{"link": "sotto://..."}`.
    Invite,
    /// Answer a link. Result: `{"alias": "..."}`.
    Connect {
        link: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alias: Option<String>,
    },
    /// Result: `{"contacts": [Contact, ...]}`.
    Contacts,
    /// Result: `{"id": "<message id, hex>"}`.
    Send {
        contact: String,
        text: String,
        /// A message id (hex) this one replies to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// Give one of this device's messages (a hex id, or a unique prefix of at least 8 digits)
    /// a new text, for both sides. Result: `{"id": "<message id, hex>"}`.
    Edit {
        contact: String,
        message: String,
        text: String,
    },
    /// Take one of this device's messages back, for both sides. Result as `Edit`.
    Delete { contact: String, message: String },
    /// React to a message of either side with one emoji; an empty one takes the reaction
    /// back. Result as `Edit`.
    React {
        contact: String,
        message: String,
        emoji: String,
    },
    /// Set the conversation's disappearing timer, for both sides: messages stored from then
    /// on go `seconds` later (0: they stay). Result: `{}`.
    Timer { contact: String, seconds: u32 },
    /// Messages not yet shown (to any API client or the CLI), then marked shown.
    /// Result: `{"messages": [MessageView, ...]}`.
    Read {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<String>,
    },
    /// A conversation's whole history. Result: `{"messages": [MessageView, ...]}`.
    Messages { contact: String },
    /// Files sent and offered. Result: `{"files": [FileTransfer, ...]}`.
    Files,
    /// Send the file at `path` on the server's machine. Result: `{"id", "path"}` once the
    /// transfer is recorded; `progress`, then `done` or `failed` events follow.
    SendFile {
        contact: String,
        path: String,
        #[serde(default)]
        caption: String,
    },
    /// Fetch the offered file whose id starts with `file` into `out` on the server's machine,
    /// or without one into the server's files directory. Result and events as `SendFile`.
    Download {
        file: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        out: Option<String>,
    },
    /// Found a group named `name`, this device its owner. Result: `{"group": "<alias>"}`.
    GroupCreate { name: String },
    /// Invite contacts into `group` with `role` (`owner`, `admin`, `member` or `observer`;
    /// `member` if left out). Each joins once its device answered and this one committed the
    /// answer; `added_to_group` tells when. Result: `{}`.
    GroupAdd {
        group: String,
        contacts: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
    },
    /// Remove the member named `member` (keys rotate; it reads nothing later). Result: `{}`.
    GroupRemove { group: String, member: String },
    /// Give the member named `member` another role. Result: `{}`.
    GroupRole {
        group: String,
        member: String,
        role: String,
    },
    /// Leave `group`: this device stops reading it and forgets it. Result: `{}`.
    GroupLeave { group: String },
    /// Delete `group` for everyone (its owner only). Result: `{}`.
    GroupDelete { group: String },
    /// Result: `{"groups": [{"group", "name", "description", "members", "role", "unread"}]}`.
    Groups,
    /// Result: `{"members": [{"name", "role", "you"}]}`.
    GroupMembers { group: String },
}

/// A transfer started: the file's id and where the file is on the server's machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferStarted {
    pub id: String,
    pub path: String,
}

/// A file sent or offered, and how far its transfer got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTransfer {
    pub id: String,
    pub contact: String,
    pub outgoing: bool,
    pub file: FileInfo,
    /// `uploading`, `sent`, `offered`, `downloading` or `done`.
    pub state: String,
    pub chunks_done: u32,
    pub chunks: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub id: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub alias: String,
    pub name: String,
    pub unread: u64,
    /// The conversation's disappearing timer in seconds (0: messages stay).
    #[serde(default)]
    pub timer: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    /// The conversation: the contact's alias.
    pub from: String,
    pub text: String,
    /// 32 hex digits.
    pub id: String,
    /// Unix milliseconds, as the sender's clock had it.
    pub sent_at: u64,
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Sent by this device (only in `messages` results).
    #[serde(default)]
    pub outgoing: bool,
    /// For outgoing messages: a receipt came back.
    #[serde(default)]
    pub delivered: bool,
    /// Its sender changed its text.
    #[serde(default)]
    pub edited: bool,
    /// Its sender took it back for everyone; `text` is empty.
    #[serde(default)]
    pub deleted: bool,
    /// This device's reaction to it.
    #[serde(default)]
    pub my_reaction: Option<String>,
    /// The other side's reaction to it.
    #[serde(default)]
    pub their_reaction: Option<String>,
    /// A file message: the file it offers (`text` is its caption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileInfo>,
    /// A group's message: the group's alias (`from` is then the sender's name in the group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The file a message offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// `file`, `image` or `voice`.
    pub kind: String,
    /// What a front end shows before the file is fetched (boxed: most files have none, and
    /// events stay small).
    #[serde(flatten)]
    pub preview: Box<FilePreview>,
}

/// An image's or a voice message's preview, as fields of its [`FileInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePreview {
    /// An image's size in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// An image's thumbnail: a JPEG of at most 128 pixels a side, in base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    /// A voice message's length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u32>,
    /// A voice message's loudness over its length: up to 64 levels, 0 (silence) to 255 (its
    /// loudest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waveform: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Subscribed to every mailbox; messages are pushed as they arrive.
    Online,
    /// The network cannot be reached; the client keeps trying.
    Offline,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A new message from a contact.
    Message(MessageView),
    /// Receipts came back for `count` messages sent to `to`.
    Delivered { to: String, count: usize },
    /// Someone used one of this device's links.
    Connected { alias: String },
    /// A message in `conversation` did not verify and was skipped.
    Rejected {
        conversation: String,
        reason: String,
    },
    /// This device was removed from `conversation`.
    Removed { conversation: String },
    /// The other side of `conversation` edited or deleted its message `id`, or reacted to a
    /// message: `messages` has it as it is now.
    Changed { conversation: String, id: String },
    /// The other side of `conversation` set its disappearing timer (0: messages stay).
    Timer { conversation: String, seconds: u32 },
    Connection {
        state: ConnectionState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A file was offered (the `message` event of its message came just before).
    Offer(MessageView),
    /// A transfer moved on: `done` of `total` bytes (a few times a second at most).
    Progress {
        id: String,
        contact: String,
        outgoing: bool,
        done: u64,
        total: u64,
    },
    /// A file was sent (uploaded and offered), or fetched, checked and written to `path`.
    Done {
        id: String,
        contact: String,
        outgoing: bool,
        path: String,
    },
    /// A transfer stopped for `reason`; started again, it goes on where it stopped.
    Failed {
        id: String,
        contact: String,
        outgoing: bool,
        reason: String,
    },
    /// This device joined `group`.
    JoinedGroup { group: String },
    /// `member` is in `group` now, added by this device.
    AddedToGroup { group: String, member: String },
}

/// Anything the server sends: a reply (it has an `id`) or an event (it has an `event`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerMessage {
    Reply(Reply),
    Event(Event),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_documented() {
        let request: Request =
            serde_json::from_str(r#"{"id":7,"command":"send","contact":"Bob","text":"hi"}"#)
                .unwrap();
        assert_eq!(
            request,
            Request {
                id: 7,
                command: Command::Send {
                    contact: "Bob".into(),
                    text: "hi".into(),
                    reply_to: None
                }
            }
        );
        let error = serde_json::from_str::<Request>(r#"{"id":1,"command":"fly"}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown variant `fly`"),
            "{error}"
        );
    }

    #[test]
    fn file_commands_and_events_read_as_documented() {
        let request: Request = serde_json::from_str(
            r#"{"id":2,"command":"send_file","contact":"Bob","path":"/tmp/a.png"}"#,
        )
        .unwrap();
        assert_eq!(
            request.command,
            Command::SendFile {
                contact: "Bob".into(),
                path: "/tmp/a.png".into(),
                caption: String::new()
            }
        );
        let request: Request =
            serde_json::from_str(r#"{"id":3,"command":"download","file":"0011aabb"}"#).unwrap();
        assert_eq!(
            request.command,
            Command::Download {
                file: "0011aabb".into(),
                out: None
            }
        );
        let progress = Event::Progress {
            id: "00".into(),
            contact: "Bob".into(),
            outgoing: false,
            done: 5,
            total: 10,
        };
        assert_eq!(
            serde_json::to_string(&progress).unwrap(),
            r#"{"event":"progress","id":"00","contact":"Bob","outgoing":false,"done":5,"total":10}"#
        );
    }

    #[test]
    fn group_commands_read_as_documented() {
        let request: Request = serde_json::from_str(
            r#"{"id":4,"command":"group_add","group":"team","contacts":["Bob","Carol"]}"#,
        )
        .unwrap();
        assert_eq!(
            request.command,
            Command::GroupAdd {
                group: "team".into(),
                contacts: vec!["Bob".into(), "Carol".into()],
                role: None
            }
        );
        let request: Request = serde_json::from_str(
            r#"{"id":5,"command":"group_role","group":"team","member":"Bob","role":"admin"}"#,
        )
        .unwrap();
        assert_eq!(
            request.command,
            Command::GroupRole {
                group: "team".into(),
                member: "Bob".into(),
                role: "admin".into()
            }
        );
        let request: Request = serde_json::from_str(r#"{"id":6,"command":"groups"}"#).unwrap();
        assert_eq!(request.command, Command::Groups);
    }

    #[test]
    fn server_messages_tell_replies_from_events() {
        let event = ServerMessage::Event(Event::Connected {
            alias: "Bob".into(),
        });
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(text, r#"{"event":"connected","alias":"Bob"}"#);
        assert_eq!(serde_json::from_str::<ServerMessage>(&text).unwrap(), event);
        let reply = r#"{"id":3,"ok":false,"error":"no contact named 'X'"}"#;
        assert!(matches!(
            serde_json::from_str::<ServerMessage>(reply).unwrap(),
            ServerMessage::Reply(Reply {
                id: 3,
                ok: false,
                ..
            })
        ));
    }
}
