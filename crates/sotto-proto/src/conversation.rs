//! What conversations carry: the data behind a one-time link ([`Invitation`]), the answer
//! written to its request mailbox ([`Answer`]), and the plaintext of every MLS application
//! message ([`Content`]).
//!
//! Layouts (all integers big-endian, `blob` = u16 length + bytes):
//! - `Invitation`: `version u8 = 2 | name blob | key_package blob | mailbox`
//! - `Answer`: `version u8 = 2 | welcome blob | introduction blob` (the introduction is an
//!   MLS application message of the new group carrying a [`Content::Introduction`])
//! - `Content`: `kind u8 | fields`; kind 1 text: `id [16] | sent_at u64 (unix ms) |
//!   has_reply u8 | reply_to [16] if has_reply | text blob`; kind 2 receipt: `count u16 |
//!   ids [16] × count`; kind 3 introduction: `name blob | mailbox | read id [24] | read key [32]`;
//!   kinds 5 file offer, 6 image offer, 7 voice offer: see [`crate::file_offer`];
//!   kind 8 edit: `target [16] | text blob`; kind 9 delete: `target [16]`; kind 10 reaction:
//!   `target [16] | emoji blob` (empty: the reaction taken back); kind 11 timer:
//!   `seconds u32` (0: messages stay); kinds 12 to 14 bring a contact into a group (see
//!   `crate::group` and docs/protocol.md, "Groups"): 12 group invitation: `invite [16] |
//!   group name blob`; 13 group join: `invite [16] | key_package blob | reader key [32] |
//!   name blob`; 14 group welcome: `invite [16] | welcome blob | mailbox | read id [24]`;
//!   15 group leave (no fields); 16 group welcome by file: `invite [16] | offer (as kind 5) |
//!   mailbox | read id [24]` (a Welcome too big for one message, uploaded as a file object)
//! - a `mailbox` (the right to write one): `host [32] | write id [24] | write key [32] |
//!   content key [32] | content binding [16]`

use crate::cursor::{put_blob, Cursor};
use crate::file_offer::FileOffer;
use crate::{DecodeError, Fingerprint, Id};

/// 2: grants carry the content binding; a grant of version 1 could not be sealed for.
const VERSION: u8 = 2;
/// Longest display name, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 64;
/// Longest text a person can send, in bytes of UTF-8.
pub const MAX_TEXT_LEN: usize = 64 * 1024;
/// Longest text one message carries; a longer one travels in parts of at most this many bytes
/// (`Content::TextPart`), each its own MLS message filling most of a mailbox message.
pub const TEXT_PART_LEN: usize = 8 * 1024;
/// Most parts of one text.
pub const MAX_TEXT_PARTS: usize = MAX_TEXT_LEN.div_ceil(TEXT_PART_LEN);
/// Longest reaction, in bytes of UTF-8: one emoji, however many code points it joins.
pub const MAX_REACTION_LEN: usize = 32;
/// Most message ids one receipt acknowledges.
pub const MAX_RECEIPT_IDS: usize = 256;
/// Longest MLS object (KeyPackage, Welcome, message) these codecs carry.
pub const MAX_MLS_LEN: usize = 12 * 1024;

pub type MessageId = [u8; 16];

/// The right to write one mailbox: where it is, its write id and key, and its content key
/// with the binding its creator drew (what every sealed body of the mailbox is bound to).
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxGrant {
    pub host: Fingerprint,
    pub write_id: Id,
    pub write_key: [u8; 32],
    pub content_key: [u8; 32],
    pub content_binding: [u8; 16],
}

/// What a one-time link's data holds: enough to start a conversation with its maker.
#[derive(Clone, PartialEq, Eq)]
pub struct Invitation {
    pub name: String,
    pub key_package: Vec<u8>,
    /// The one-time request mailbox the answer goes to.
    pub request: MailboxGrant,
}

/// The answer to an invitation: the MLS Welcome and the introduction sealed in the new group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub welcome: Vec<u8>,
    pub introduction: Vec<u8>,
}

#[derive(Clone, PartialEq, Eq)]
pub enum Content {
    Text {
        id: MessageId,
        sent_at_ms: u64,
        reply_to: Option<MessageId>,
        text: String,
    },
    Receipt {
        ids: Vec<MessageId>,
    },
    /// Part `part` of `parts` (2 to [`MAX_TEXT_PARTS`]) of a text longer than one message
    /// carries: bytes of its UTF-8, cut anywhere; the receiver joins them once all came.
    TextPart {
        id: MessageId,
        sent_at_ms: u64,
        reply_to: Option<MessageId>,
        part: u8,
        parts: u8,
        chunk: Vec<u8>,
    },
    /// A file to fetch from its chunk hosts (kind 5; 6 and 7 with an image's or a voice
    /// message's preview).
    FileOffer(FileOffer),
    /// The sender's text `target` now reads `text` (at most [`TEXT_PART_LEN`] bytes).
    Edit {
        target: MessageId,
        text: String,
    },
    /// The sender's message `target` is taken back, for everyone.
    Delete {
        target: MessageId,
    },
    /// The sender's reaction to `target` (either side's message): one emoji, or none to take
    /// a reaction back. A new one replaces the sender's last.
    Reaction {
        target: MessageId,
        emoji: String,
    },
    /// From now on, messages of the conversation disappear `seconds` after they were stored
    /// (0: they stay).
    Timer {
        seconds: u32,
    },
    /// An invitation into the group named `group` (kind 12), sent over the one-to-one
    /// conversation; `invite` pairs the answer with it.
    GroupInvite {
        invite: [u8; 16],
        group: String,
    },
    /// The invited device's answer (kind 13): a fresh key package for the group, the public
    /// key of its own reader of the group mailbox, and the name it shows in the group.
    GroupJoin {
        invite: [u8; 16],
        key_package: Vec<u8>,
        reader_key: [u8; 32],
        name: String,
    },
    /// The Welcome into the group (kind 14), the group mailbox's write capability, and the
    /// read id the host gave the joiner's reader key.
    GroupWelcome {
        invite: [u8; 16],
        welcome: Vec<u8>,
        mailbox: MailboxGrant,
        read_id: Id,
    },
    /// In a group (kind 15): its sender leaves, and asks owners and admins to remove it.
    GroupLeave,
    /// A [`Content::GroupWelcome`] whose Welcome is too big for one message (kind 16): the
    /// Welcome is a file object the joiner alone reads, named by `offer` (its key, its
    /// SHA-256 digest and its host), fetched and checked before the joiner joins.
    GroupWelcomeFile {
        invite: [u8; 16],
        offer: FileOffer,
        mailbox: MailboxGrant,
        read_id: Id,
    },
    /// Who the group's creator is and the conversation mailbox's capabilities for the joiner.
    Introduction {
        name: String,
        mailbox: MailboxGrant,
        read_id: Id,
        read_key: [u8; 32],
    },
}

crate::redacted_debug!(MailboxGrant, Invitation, Content);

pub(crate) fn check_len(what: &'static str, len: usize, max: usize) -> Result<(), DecodeError> {
    if len > max {
        return Err(DecodeError::TooLong { what, len, max });
    }
    Ok(())
}

pub(crate) fn read_text(
    cursor: &mut Cursor<'_>,
    what: &'static str,
    max: usize,
) -> Result<String, DecodeError> {
    let bytes = cursor.blob(what, max)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Invalid("text is not UTF-8"))
}

fn read_version(cursor: &mut Cursor<'_>, what: &'static str) -> Result<(), DecodeError> {
    match cursor.u8(what)? {
        VERSION => Ok(()),
        other => Err(DecodeError::UnknownCode {
            what: "version",
            code: other,
        }),
    }
}

impl MailboxGrant {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.host.as_bytes());
        out.extend_from_slice(self.write_id.as_bytes());
        out.extend_from_slice(&self.write_key);
        out.extend_from_slice(&self.content_key);
        out.extend_from_slice(&self.content_binding);
    }

    fn read(cursor: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            host: Fingerprint::from_bytes(cursor.array("mailbox host")?),
            write_id: cursor.id("write id")?,
            write_key: cursor.array("write key")?,
            content_key: cursor.array("content key")?,
            content_binding: cursor.array("content binding")?,
        })
    }
}

impl Invitation {
    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        check_len("name", self.name.len(), MAX_NAME_LEN)?;
        check_len("key package", self.key_package.len(), MAX_MLS_LEN)?;
        let mut out = vec![VERSION];
        put_blob(&mut out, self.name.as_bytes());
        put_blob(&mut out, &self.key_package);
        self.request.put(&mut out);
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut cursor = Cursor::new(bytes);
        read_version(&mut cursor, "invitation version")?;
        let name = read_text(&mut cursor, "name", MAX_NAME_LEN)?;
        let key_package = cursor.blob("key package", MAX_MLS_LEN)?.to_vec();
        let request = MailboxGrant::read(&mut cursor)?;
        cursor.finish()?;
        Ok(Self {
            name,
            key_package,
            request,
        })
    }
}

impl Answer {
    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        check_len("welcome", self.welcome.len(), MAX_MLS_LEN)?;
        check_len("introduction", self.introduction.len(), MAX_MLS_LEN)?;
        let mut out = vec![VERSION];
        put_blob(&mut out, &self.welcome);
        put_blob(&mut out, &self.introduction);
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut cursor = Cursor::new(bytes);
        read_version(&mut cursor, "answer version")?;
        let welcome = cursor.blob("welcome", MAX_MLS_LEN)?.to_vec();
        let introduction = cursor.blob("introduction", MAX_MLS_LEN)?.to_vec();
        cursor.finish()?;
        Ok(Self {
            welcome,
            introduction,
        })
    }
}

/// What every text and text part starts with: its id, when it was sent, what it answers.
fn put_header(out: &mut Vec<u8>, id: &MessageId, sent_at_ms: u64, reply_to: Option<&MessageId>) {
    out.extend_from_slice(id);
    out.extend_from_slice(&sent_at_ms.to_be_bytes());
    match reply_to {
        Some(reply_to) => {
            out.push(1);
            out.extend_from_slice(reply_to);
        }
        None => out.push(0),
    }
}

type Header = (MessageId, u64, Option<MessageId>);

fn read_header(cursor: &mut Cursor<'_>) -> Result<Header, DecodeError> {
    let id = cursor.array("message id")?;
    let sent_at_ms = cursor.u64("sent at")?;
    let reply_to = match cursor.u8("reply flag")? {
        0 => None,
        1 => Some(cursor.array("reply to")?),
        code => {
            return Err(DecodeError::UnknownCode {
                what: "reply flag",
                code,
            })
        }
    };
    Ok((id, sent_at_ms, reply_to))
}

fn check_parts(part: u8, parts: u8) -> Result<(), DecodeError> {
    if !(2..=MAX_TEXT_PARTS).contains(&usize::from(parts)) || part >= parts {
        return Err(DecodeError::Invalid(
            "a text part is one of 2 to 8, numbered from 0",
        ));
    }
    Ok(())
}

impl Content {
    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::new();
        match self {
            Self::Text {
                id,
                sent_at_ms,
                reply_to,
                text,
            } => {
                check_len("text", text.len(), TEXT_PART_LEN)?;
                out.push(1);
                put_header(&mut out, id, *sent_at_ms, reply_to.as_ref());
                put_blob(&mut out, text.as_bytes());
            }
            Self::TextPart {
                id,
                sent_at_ms,
                reply_to,
                part,
                parts,
                chunk,
            } => {
                check_parts(*part, *parts)?;
                check_len("text part", chunk.len(), TEXT_PART_LEN)?;
                out.push(4);
                put_header(&mut out, id, *sent_at_ms, reply_to.as_ref());
                out.push(*part);
                out.push(*parts);
                put_blob(&mut out, chunk);
            }
            Self::Edit { target, text } => {
                check_len("text", text.len(), TEXT_PART_LEN)?;
                out.push(8);
                out.extend_from_slice(target);
                put_blob(&mut out, text.as_bytes());
            }
            Self::Delete { target } => {
                out.push(9);
                out.extend_from_slice(target);
            }
            Self::Reaction { target, emoji } => {
                check_len("reaction", emoji.len(), MAX_REACTION_LEN)?;
                out.push(10);
                out.extend_from_slice(target);
                put_blob(&mut out, emoji.as_bytes());
            }
            Self::Timer { seconds } => {
                out.push(11);
                out.extend_from_slice(&seconds.to_be_bytes());
            }
            Self::Receipt { ids } => {
                check_len("receipt", ids.len(), MAX_RECEIPT_IDS)?;
                out.push(2);
                out.extend_from_slice(&(ids.len() as u16).to_be_bytes());
                ids.iter().for_each(|id| out.extend_from_slice(id));
            }
            Self::Introduction {
                name,
                mailbox,
                read_id,
                read_key,
            } => {
                check_len("name", name.len(), MAX_NAME_LEN)?;
                out.push(3);
                put_blob(&mut out, name.as_bytes());
                mailbox.put(&mut out);
                out.extend_from_slice(read_id.as_bytes());
                out.extend_from_slice(read_key);
            }
            Self::FileOffer(offer) => {
                out.push(offer.content_kind());
                offer.put(&mut out)?;
            }
            Self::GroupInvite { invite, group } => {
                check_len("group name", group.len(), MAX_NAME_LEN)?;
                out.push(12);
                out.extend_from_slice(invite);
                put_blob(&mut out, group.as_bytes());
            }
            Self::GroupJoin {
                invite,
                key_package,
                reader_key,
                name,
            } => {
                check_len("key package", key_package.len(), MAX_MLS_LEN)?;
                check_len("name", name.len(), MAX_NAME_LEN)?;
                out.push(13);
                out.extend_from_slice(invite);
                put_blob(&mut out, key_package);
                out.extend_from_slice(reader_key);
                put_blob(&mut out, name.as_bytes());
            }
            Self::GroupWelcome {
                invite,
                welcome,
                mailbox,
                read_id,
            } => {
                check_len("welcome", welcome.len(), MAX_MLS_LEN)?;
                out.push(14);
                out.extend_from_slice(invite);
                put_blob(&mut out, welcome);
                mailbox.put(&mut out);
                out.extend_from_slice(read_id.as_bytes());
            }
            Self::GroupLeave => out.push(15),
            Self::GroupWelcomeFile {
                invite,
                offer,
                mailbox,
                read_id,
            } => {
                out.push(16);
                out.extend_from_slice(invite);
                offer.put_plain(&mut out)?;
                mailbox.put(&mut out);
                out.extend_from_slice(read_id.as_bytes());
            }
        }
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut cursor = Cursor::new(bytes);
        let content = match cursor.u8("content kind")? {
            1 => {
                let (id, sent_at_ms, reply_to) = read_header(&mut cursor)?;
                Self::Text {
                    id,
                    sent_at_ms,
                    reply_to,
                    text: read_text(&mut cursor, "text", TEXT_PART_LEN)?,
                }
            }
            4 => {
                let (id, sent_at_ms, reply_to) = read_header(&mut cursor)?;
                let (part, parts) = (cursor.u8("part")?, cursor.u8("parts")?);
                check_parts(part, parts)?;
                Self::TextPart {
                    id,
                    sent_at_ms,
                    reply_to,
                    part,
                    parts,
                    chunk: cursor.blob("text part", TEXT_PART_LEN)?.to_vec(),
                }
            }
            2 => {
                let count = usize::from(cursor.u16("receipt count")?);
                check_len("receipt", count, MAX_RECEIPT_IDS)?;
                let ids = (0..count)
                    .map(|_| cursor.array("receipt id"))
                    .collect::<Result<_, _>>()?;
                Self::Receipt { ids }
            }
            8 => Self::Edit {
                target: cursor.array("edited message")?,
                text: read_text(&mut cursor, "text", TEXT_PART_LEN)?,
            },
            9 => Self::Delete {
                target: cursor.array("deleted message")?,
            },
            10 => Self::Reaction {
                target: cursor.array("message reacted to")?,
                emoji: read_text(&mut cursor, "reaction", MAX_REACTION_LEN)?,
            },
            11 => Self::Timer {
                seconds: cursor.u32("timer seconds")?,
            },
            3 => Self::Introduction {
                name: read_text(&mut cursor, "name", MAX_NAME_LEN)?,
                mailbox: MailboxGrant::read(&mut cursor)?,
                read_id: cursor.id("read id")?,
                read_key: cursor.array("read key")?,
            },
            kind @ 5..=7 => Self::FileOffer(FileOffer::read(kind, &mut cursor)?),
            12 => Self::GroupInvite {
                invite: cursor.array("invite")?,
                group: read_text(&mut cursor, "group name", MAX_NAME_LEN)?,
            },
            13 => Self::GroupJoin {
                invite: cursor.array("invite")?,
                key_package: cursor.blob("key package", MAX_MLS_LEN)?.to_vec(),
                reader_key: cursor.array("reader key")?,
                name: read_text(&mut cursor, "name", MAX_NAME_LEN)?,
            },
            14 => Self::GroupWelcome {
                invite: cursor.array("invite")?,
                welcome: cursor.blob("welcome", MAX_MLS_LEN)?.to_vec(),
                mailbox: MailboxGrant::read(&mut cursor)?,
                read_id: cursor.id("read id")?,
            },
            15 => Self::GroupLeave,
            16 => Self::GroupWelcomeFile {
                invite: cursor.array("invite")?,
                offer: FileOffer::read_plain(&mut cursor)?,
                mailbox: MailboxGrant::read(&mut cursor)?,
                read_id: cursor.id("read id")?,
            },
            code => {
                return Err(DecodeError::UnknownCode {
                    what: "content kind",
                    code,
                })
            }
        };
        cursor.finish()?;
        Ok(content)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn grant(n: u8) -> MailboxGrant {
        MailboxGrant {
            host: Fingerprint::from_bytes([n; 32]),
            write_id: Id::from_bytes([n + 1; Id::LEN]),
            write_key: [n + 2; 32],
            content_key: [n + 3; 32],
            content_binding: [n + 4; 16],
        }
    }

    #[test]
    fn a_text_part_outside_its_count_is_refused() {
        let part = |part, parts| Content::TextPart {
            id: [1; 16],
            sent_at_ms: 0,
            reply_to: None,
            part,
            parts,
            chunk: vec![b'x'; 3],
        };
        assert!(part(1, 2).encode().is_ok());
        for (n, of) in [(2, 2), (0, 1), (0, 9)] {
            assert!(part(n, of).encode().is_err(), "{n} of {of}");
        }
        let mut bytes = part(1, 2).encode().unwrap();
        let at = bytes.len() - 2 - 3 - 2; // part, parts, chunk length, chunk
        bytes[at] = 5;
        assert!(Content::decode(&bytes).is_err());
    }

    fn contents() -> impl Strategy<Value = Content> {
        prop_oneof![
            (
                any::<MessageId>(),
                any::<u64>(),
                proptest::option::of(any::<MessageId>()),
                "\\PC{0,200}"
            )
                .prop_map(|(id, sent_at_ms, reply_to, text)| Content::Text {
                    id,
                    sent_at_ms,
                    reply_to,
                    text
                }),
            proptest::collection::vec(any::<MessageId>(), 0..40)
                .prop_map(|ids| Content::Receipt { ids }),
            (any::<MessageId>(), "\\PC{0,200}")
                .prop_map(|(target, text)| Content::Edit { target, text }),
            any::<MessageId>().prop_map(|target| Content::Delete { target }),
            any::<u32>().prop_map(|seconds| Content::Timer { seconds }),
            (any::<MessageId>(), "\\PC{0,8}")
                .prop_map(|(target, emoji)| Content::Reaction { target, emoji }),
            (
                any::<MessageId>(),
                any::<u64>(),
                proptest::option::of(any::<MessageId>()),
                (2u8..=8).prop_flat_map(|parts| (0..parts, Just(parts))),
                proptest::collection::vec(any::<u8>(), 0..300)
            )
                .prop_map(|(id, sent_at_ms, reply_to, (part, parts), chunk)| {
                    Content::TextPart {
                        id,
                        sent_at_ms,
                        reply_to,
                        part,
                        parts,
                        chunk,
                    }
                }),
            (
                "\\PC{0,16}",
                any::<u8>(),
                any::<[u8; 24]>(),
                any::<[u8; 32]>()
            )
                .prop_map(|(name, n, read_id, read_key)| Content::Introduction {
                    name,
                    mailbox: grant(n / 2),
                    read_id: Id::from_bytes(read_id),
                    read_key,
                }),
            file_offers().prop_map(Content::FileOffer),
            Just(Content::GroupLeave),
            (any::<[u8; 16]>(), "\\PC{0,16}")
                .prop_map(|(invite, group)| Content::GroupInvite { invite, group }),
            (
                any::<[u8; 16]>(),
                proptest::collection::vec(any::<u8>(), 0..300),
                any::<[u8; 32]>(),
                "\\PC{0,16}"
            )
                .prop_map(|(invite, key_package, reader_key, name)| {
                    Content::GroupJoin {
                        invite,
                        key_package,
                        reader_key,
                        name,
                    }
                }),
            (
                any::<[u8; 16]>(),
                proptest::collection::vec(any::<u8>(), 0..300),
                any::<u8>(),
                any::<[u8; 24]>()
            )
                .prop_map(|(invite, welcome, n, read_id)| Content::GroupWelcome {
                    invite,
                    welcome,
                    mailbox: grant(n / 2),
                    read_id: Id::from_bytes(read_id),
                }),
            (
                any::<[u8; 16]>(),
                plain_file_offers(),
                any::<u8>(),
                any::<[u8; 24]>()
            )
                .prop_map(|(invite, offer, n, read_id)| Content::GroupWelcomeFile {
                    invite,
                    offer,
                    mailbox: grant(n / 2),
                    read_id: Id::from_bytes(read_id),
                }),
        ]
    }

    /// Offers without a preview, as group messages stored as files carry.
    pub(crate) fn plain_file_offers() -> impl Strategy<Value = FileOffer> {
        file_offers().prop_map(|offer| FileOffer {
            media: None,
            ..offer
        })
    }

    pub(crate) fn file_offers() -> impl Strategy<Value = FileOffer> {
        use crate::file_offer::{
            ChunkHost, FileKind, Media, MAX_FILE_SIZE, MAX_THUMBNAIL_LEN, WAVEFORM_LEN,
        };
        let media = prop_oneof![
            Just(None),
            (
                any::<u32>(),
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 0..=MAX_THUMBNAIL_LEN)
            )
                .prop_map(|(width, height, thumbnail)| Some(Media::Image {
                    width,
                    height,
                    thumbnail
                })),
            (
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 0..=WAVEFORM_LEN)
            )
                .prop_map(|(duration_ms, waveform)| Some(Media::Voice {
                    duration_ms,
                    waveform
                })),
        ];
        (
            (any::<MessageId>(), any::<u64>(), 0..3usize, "\\PC{0,40}"),
            (0..=MAX_FILE_SIZE, any::<[u8; 32]>(), any::<[u8; 32]>()),
            proptest::collection::vec(any::<([u8; 32], [u8; 24], [u8; 32])>(), 1..=8),
            ("\\PC{0,40}", media),
        )
            .prop_map(
                |((id, sent_at_ms, kind, name), (size, key, digest), hosts, (caption, media))| {
                    // A preview goes with its own kind of file only.
                    let kind = match &media {
                        Some(Media::Image { .. }) => FileKind::Image,
                        Some(Media::Voice { .. }) => FileKind::Voice,
                        None => FileKind::ALL[kind],
                    };
                    FileOffer {
                        id,
                        sent_at_ms,
                        kind,
                        name,
                        size,
                        key,
                        digest,
                        hosts: hosts
                            .into_iter()
                            .map(|(host, read_id, read_key)| ChunkHost {
                                host: Fingerprint::from_bytes(host),
                                read_id: Id::from_bytes(read_id),
                                read_key,
                            })
                            .collect(),
                        caption,
                        media,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn content_round_trips(content in contents()) {
            let bytes = content.encode().unwrap();
            prop_assert_eq!(Content::decode(&bytes).unwrap(), content);
        }

        #[test]
        fn no_bytes_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Content::decode(&bytes);
            let _ = Invitation::decode(&bytes);
            let _ = Answer::decode(&bytes);
        }

        #[test]
        fn every_truncation_is_an_error(content in contents(), cut in any::<prop::sample::Index>()) {
            let bytes = content.encode().unwrap();
            let cut = cut.index(bytes.len());
            prop_assert!(Content::decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn invitation_and_answer_round_trip() {
        let invitation = Invitation {
            name: "Alice".into(),
            key_package: vec![5; 1500],
            request: grant(1),
        };
        let bytes = invitation.encode().unwrap();
        assert!(Invitation::decode(&bytes).unwrap() == invitation);
        let answer = Answer {
            welcome: vec![1; 3000],
            introduction: vec![2; 400],
        };
        assert_eq!(Answer::decode(&answer.encode().unwrap()).unwrap(), answer);
    }

    #[test]
    fn bad_input_says_what_was_wrong() {
        assert_eq!(
            Content::decode(&[200]).unwrap_err(),
            DecodeError::UnknownCode {
                what: "content kind",
                code: 200
            }
        );
        let mut text = Content::Text {
            id: [1; 16],
            sent_at_ms: 5,
            reply_to: None,
            text: "hé".into(),
        }
        .encode()
        .unwrap();
        let last = text.len() - 1;
        text[last] = 0xff;
        assert_eq!(
            Content::decode(&text).unwrap_err(),
            DecodeError::Invalid("text is not UTF-8")
        );
        let too_long = Content::Text {
            id: [0; 16],
            sent_at_ms: 0,
            reply_to: None,
            text: "x".repeat(MAX_TEXT_LEN + 1),
        };
        assert!(matches!(
            too_long.encode(),
            Err(DecodeError::TooLong { what: "text", .. })
        ));
        let mut invitation = Invitation {
            name: "A".into(),
            key_package: vec![],
            request: grant(0),
        }
        .encode()
        .unwrap();
        // A link of version 1 has a grant without its content binding.
        invitation[0] = 1;
        assert_eq!(
            Invitation::decode(&invitation).unwrap_err(),
            DecodeError::UnknownCode {
                what: "version",
                code: 1
            }
        );
        assert!(!format!("{:?}", grant(3)).contains('3'));
        let reaction = Content::Reaction {
            target: [0; 16],
            emoji: "👍".repeat(9),
        };
        assert!(matches!(
            reaction.encode(),
            Err(DecodeError::TooLong {
                what: "reaction",
                ..
            })
        ));
        let mut delete = Content::Delete { target: [0; 16] }.encode().unwrap();
        delete.push(0);
        assert!(Content::decode(&delete).is_err(), "trailing bytes");
    }
}
