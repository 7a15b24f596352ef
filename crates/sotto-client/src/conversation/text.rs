//! How a text travels: as one `Text`, or, when longer than one message carries, as
//! `TextPart`s the receiver joins (`apply`).

use sotto_proto::conversation::{Content, MessageId, TEXT_PART_LEN};

use super::{encoding, ConversationError};

/// The content a text travels as: one `Text`, or `TextPart`s of at most [`TEXT_PART_LEN`]
/// bytes each when it is longer (cut between characters, though the receiver does not rely on
/// it).
pub(crate) fn text_contents(
    id: MessageId,
    sent_at_ms: u64,
    reply_to: Option<MessageId>,
    text: &str,
) -> Result<Vec<Vec<u8>>, ConversationError> {
    if text.len() <= TEXT_PART_LEN {
        let content = Content::Text {
            id,
            sent_at_ms,
            reply_to,
            text: text.to_string(),
        };
        return Ok(vec![content.encode().map_err(encoding("the text"))?]);
    }
    let mut chunks = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(TEXT_PART_LEN);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (chunk, tail) = rest.split_at(cut);
        chunks.push(chunk);
        rest = tail;
    }
    let parts = u8::try_from(chunks.len()).map_err(|_| ConversationError::Encode {
        what: "the text",
        source: sotto_proto::DecodeError::Invalid("too many parts"),
    })?;
    chunks
        .into_iter()
        .enumerate()
        .map(|(part, chunk)| {
            Content::TextPart {
                id,
                sent_at_ms,
                reply_to,
                part: part as u8,
                parts,
                chunk: chunk.as_bytes().to_vec(),
            }
            .encode()
            .map_err(encoding("a part of the text"))
        })
        .collect()
}
