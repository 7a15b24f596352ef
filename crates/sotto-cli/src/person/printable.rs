//! What a peer wrote, made safe to put on a terminal. A peer chooses its display name (which
//! becomes the alias) and its messages' text; raw, an escape sequence in them could move the
//! cursor, rewrite earlier lines, retitle the window or talk to the terminal, and a bidi
//! override could make text read differently from what it is. Such characters are shown as
//! U+FFFD instead. JSON output needs none of this: serde escapes control characters, and a
//! program wants the text as it came.

use std::borrow::Cow;

/// Where the text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// A name, a title or a status: one line, so newlines and tabs are replaced too.
    Line,
    /// A message: newlines and tabs are the peer's and stay.
    Text,
}

const REPLACEMENT: char = '\u{FFFD}';

fn hidden(c: char, form: Form) -> bool {
    match c {
        '\n' | '\t' => form == Form::Line,
        // Explicit bidi embeddings, overrides and isolates.
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => true,
        // C0, DEL and C1.
        c => c.is_control(),
    }
}

/// `text` with every character a terminal would act on, rather than show, replaced by U+FFFD.
pub fn printable(text: &str, form: Form) -> Cow<'_, str> {
    if !text.chars().any(|c| hidden(c, form)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if hidden(c, form) { REPLACEMENT } else { c })
            .collect(),
    )
}

/// A message's text as a person reads it: a deleted one says so, an edited one and its
/// reactions are marked.
pub fn as_read(m: &sotto_app::MessageView) -> String {
    if m.deleted {
        return "(deleted)".into();
    }
    let mut text = printable(&m.text, Form::Text).into_owned();
    if m.edited {
        text.push_str(" (edited)");
    }
    for (who, reaction) in [("you", &m.my_reaction), ("them", &m.their_reaction)] {
        if let Some(reaction) = reaction {
            text.push_str(&format!(" [{} {who}]", printable(reaction, Form::Line)));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_bidi_overrides_are_shown_not_obeyed() {
        let attack = "hi\x1b[2J\x1b]0;pwned\x07\u{9b}31m\x7f\r\u{202E}gnp.exe\u{2066}x\u{2069}";
        assert_eq!(
            printable(attack, Form::Text),
            "hi\u{FFFD}[2J\u{FFFD}]0;pwned\u{FFFD}\u{FFFD}31m\u{FFFD}\u{FFFD}\u{FFFD}gnp.exe\
             \u{FFFD}x\u{FFFD}"
        );
        assert!(!printable(attack, Form::Line)
            .chars()
            .any(|c| c.is_control()));
    }

    #[test]
    fn messages_keep_their_lines_and_names_stay_on_one() {
        assert_eq!(printable("a\n\tb", Form::Text), "a\n\tb");
        assert_eq!(
            printable("Bob\nAlice: hi", Form::Line),
            "Bob\u{FFFD}Alice: hi"
        );
        assert!(matches!(
            printable("Zoë 👋 שלום", Form::Line),
            Cow::Borrowed("Zoë 👋 שלום")
        ));
    }
}
