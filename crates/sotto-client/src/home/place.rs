//! Where a home's key is, recorded in `HOME/store.unlock` (never the key itself), so opening a
//! home asks the one place that holds its key instead of guessing: a keyring that does not
//! answer must not look like a home without a key.
//!
//! The file is one line, the place, and while the key is being changed a second line,
//! `from PLACE`: the store may then open under either key, and the next open finds out which
//! and finishes or undoes the change.

use std::io::ErrorKind;
use std::path::Path;

use crate::store::StoreError;

/// The record under a client's home directory.
pub const PLACE_FILE: &str = "store.unlock";

/// Where the key that opens a home's store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlace {
    /// Random, in the home's key file.
    KeyFile,
    /// Random, in the OS keyring under this entry name (the service is `sotto`).
    Keyring(String),
    /// Nowhere: the person gives a passphrase.
    Passphrase,
}

/// A home's record: where its key is, and where it was while a change is not known to be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub place: KeyPlace,
    pub from: Option<KeyPlace>,
}

const KEY_FILE_WORD: &str = "key-file";
const KEYRING_WORD: &str = "keyring";
const PASSPHRASE_WORD: &str = "passphrase";
const FROM_WORD: &str = "from";

impl KeyPlace {
    fn to_text(&self) -> String {
        match self {
            Self::KeyFile => KEY_FILE_WORD.to_string(),
            Self::Keyring(entry) => format!("{KEYRING_WORD} {entry}"),
            Self::Passphrase => PASSPHRASE_WORD.to_string(),
        }
    }

    fn parse(words: &[&str]) -> Result<Self, StoreError> {
        match words {
            [KEY_FILE_WORD] => Ok(Self::KeyFile),
            [PASSPHRASE_WORD] => Ok(Self::Passphrase),
            [KEYRING_WORD, entry] if is_entry_name(entry) => Ok(Self::Keyring(entry.to_string())),
            [KEYRING_WORD, ..] => Err(StoreError::Damaged(
                "store.unlock names a keyring entry that is not `store-` and 32 hex digits",
            )),
            _ => Err(StoreError::Damaged(
                "store.unlock names no place for the key (key-file, keyring ENTRY, passphrase)",
            )),
        }
    }
}

/// Keyring entry names are made here only, so anything else in the file is damage.
pub(super) fn is_entry_name(entry: &str) -> bool {
    entry
        .strip_prefix("store-")
        .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Record {
    pub fn settled(place: KeyPlace) -> Self {
        Self { place, from: None }
    }

    pub fn to_text(&self) -> String {
        match &self.from {
            None => format!("{}\n", self.place.to_text()),
            Some(from) => format!("{}\n{FROM_WORD} {}\n", self.place.to_text(), from.to_text()),
        }
    }

    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let mut lines = text.lines();
        let place = KeyPlace::parse(&words(lines.next().unwrap_or_default()))?;
        let from = match lines.next().map(words).as_deref() {
            None => None,
            Some([FROM_WORD, rest @ ..]) => Some(KeyPlace::parse(rest)?),
            Some(_) => {
                return Err(StoreError::Damaged(
                    "store.unlock's second line is not `from PLACE`",
                ))
            }
        };
        if lines.next().is_some() {
            return Err(StoreError::Damaged("store.unlock has more than two lines"));
        }
        Ok(Self { place, from })
    }
}

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The home's record, if it has one (homes made before it have none).
pub fn read(home: &Path) -> Result<Option<Record>, StoreError> {
    let path = home.join(PLACE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Record::parse(&text).map(Some),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(StoreError::file(&path, error)),
    }
}

/// Replaces the home's record, durably: a crash leaves the old record or the new one.
pub(super) fn write(home: &Path, record: &Record) -> Result<(), StoreError> {
    let path = home.join(PLACE_FILE);
    sotto_quic::write_private(
        &path,
        record.to_text().as_bytes(),
        sotto_quic::Placement::Replace,
    )
    .map_err(|error| StoreError::file(&path, error))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn place() -> impl Strategy<Value = KeyPlace> {
        prop_oneof![
            Just(KeyPlace::KeyFile),
            Just(KeyPlace::Passphrase),
            "[0-9a-f]{32}".prop_map(|id| KeyPlace::Keyring(format!("store-{id}"))),
        ]
    }

    proptest! {
        #[test]
        fn a_record_reads_back_as_written(place in place(), from in proptest::option::of(place())) {
            let record = Record { place, from };
            prop_assert_eq!(Record::parse(&record.to_text()).unwrap(), record);
        }

        #[test]
        fn any_text_is_read_or_refused_without_panicking(text in "\\PC{0,80}") {
            let _ = Record::parse(&text);
        }
    }

    #[test]
    fn what_is_not_a_record_is_refused_with_what_is_wrong() {
        for (text, says) in [
            ("", "names no place"),
            ("keys\n", "names no place"),
            ("keyring\n", "not `store-`"),
            ("keyring store-xyz\n", "not `store-`"),
            ("key-file\nto passphrase\n", "second line"),
            ("key-file\nfrom passphrase\nkey-file\n", "more than two"),
        ] {
            let error = Record::parse(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text:?}: {error}");
        }
    }
}
