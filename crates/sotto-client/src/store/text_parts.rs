//! The parts of long texts received so far (`Content::TextPart`), kept until the last one
//! comes and the text is stored whole as one message.

use rusqlite::params;
use sotto_proto::conversation::MessageId;

use super::{Store, StoreError};

/// Where a long text stands after one more of its parts came.
#[derive(Debug, PartialEq, Eq)]
pub enum TextParts {
    /// Other parts are still to come.
    Waiting,
    /// Every part came: the text's bytes, in order (the parts are forgotten).
    Whole(Vec<u8>),
    /// The part disagrees with the others about how many there are.
    Inconsistent,
}

impl Store {
    /// Keeps part `part` of `parts` of text `id` and says where the text stands.
    pub fn add_text_part(
        &self,
        conversation: i64,
        id: &MessageId,
        part: u8,
        parts: u8,
        chunk: &[u8],
    ) -> Result<TextParts, StoreError> {
        let other_count: Option<u8> = self
            .conn()
            .query_row(
                "SELECT parts FROM text_parts WHERE conversation = ?1 AND id = ?2 LIMIT 1",
                params![conversation, id.as_slice()],
                |row| row.get(0),
            )
            .ok();
        if other_count.is_some_and(|count| count != parts) {
            return Ok(TextParts::Inconsistent);
        }
        self.conn().execute(
            "INSERT OR IGNORE INTO text_parts (conversation, id, part, parts, chunk) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![conversation, id.as_slice(), part, parts, chunk],
        )?;
        let chunks: Vec<Vec<u8>> = {
            let mut statement = self.conn().prepare_cached(
                "SELECT chunk FROM text_parts WHERE conversation = ?1 AND id = ?2 ORDER BY part",
            )?;
            let rows =
                statement.query_map(params![conversation, id.as_slice()], |row| row.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        if chunks.len() < usize::from(parts) {
            return Ok(TextParts::Waiting);
        }
        self.conn().execute(
            "DELETE FROM text_parts WHERE conversation = ?1 AND id = ?2",
            params![conversation, id.as_slice()],
        )?;
        Ok(TextParts::Whole(chunks.concat()))
    }
}
