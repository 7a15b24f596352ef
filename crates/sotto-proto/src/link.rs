//! One-time links: `sotto://<host>/<link id>#<key>`, each part base64url without padding.
//!
//! The host part is the fingerprint of the relay that stores the link's data, the path its link
//! id there, and the fragment the key that opens the data. The key travels only in the
//! fragment: a client never sends it anywhere, so no relay learns it.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use thiserror::Error;

use crate::{Fingerprint, Id};

pub const LINK_SCHEME: &str = "sotto://";

#[derive(Clone, PartialEq, Eq)]
pub struct LinkUri {
    pub host: Fingerprint,
    pub id: Id,
    pub key: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LinkError {
    #[error("a sotto link starts with {LINK_SCHEME}")]
    Scheme,
    #[error("the link has no {0}; copy the whole link, it looks like sotto://HOST/LINK#KEY")]
    Missing(&'static str),
    #[error("the link's {0} is not base64url")]
    Encoding(&'static str),
    #[error("the link's {part} is {got} bytes, expected {expected}: the link is damaged")]
    Length {
        part: &'static str,
        got: usize,
        expected: usize,
    },
}

fn decode<const N: usize>(part: &'static str, text: &str) -> Result<[u8; N], LinkError> {
    if text.is_empty() {
        return Err(LinkError::Missing(part));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| LinkError::Encoding(part))?;
    bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| LinkError::Length {
            part,
            got: bytes.len(),
            expected: N,
        })
}

impl FromStr for LinkUri {
    type Err = LinkError;

    fn from_str(text: &str) -> Result<Self, LinkError> {
        let rest = text
            .trim()
            .strip_prefix(LINK_SCHEME)
            .ok_or(LinkError::Scheme)?;
        let (location, key) = rest.split_once('#').ok_or(LinkError::Missing("key"))?;
        let (host, id) = location
            .split_once('/')
            .ok_or(LinkError::Missing("link id"))?;
        Ok(Self {
            host: Fingerprint::from_bytes(decode("host", host)?),
            id: Id::from_bytes(decode("link id", id)?),
            key: decode("key", key)?,
        })
    }
}

impl fmt::Display for LinkUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{LINK_SCHEME}{}/{}#{}",
            URL_SAFE_NO_PAD.encode(self.host.as_bytes()),
            URL_SAFE_NO_PAD.encode(self.id.as_bytes()),
            URL_SAFE_NO_PAD.encode(self.key)
        )
    }
}

/// The key is a secret: `Debug` shows only the host.
impl fmt::Debug for LinkUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkUri {{ host: {}, .. }}", self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn link() -> LinkUri {
        LinkUri {
            host: Fingerprint::from_bytes([7; 32]),
            id: Id::from_bytes([9; Id::LEN]),
            key: [42; 32],
        }
    }

    #[test]
    fn a_link_reads_back_and_hides_its_key_in_debug() {
        let text = link().to_string();
        assert!(text.starts_with("sotto://"));
        assert_eq!(text.parse::<LinkUri>().unwrap(), link());
        assert!(!format!("{:?}", link()).contains(&URL_SAFE_NO_PAD.encode([42u8; 32])));
    }

    #[test]
    fn damaged_links_say_what_is_wrong() {
        let text = link().to_string();
        let cases = [
            ("https://example.org/x#y".to_string(), LinkError::Scheme),
            (
                text.split('#').next().unwrap().to_string(),
                LinkError::Missing("key"),
            ),
            (
                text.replace('/', "").replacen("sotto:", "sotto://", 1),
                LinkError::Missing("link id"),
            ),
            (
                format!("{text}A"),
                LinkError::Length {
                    part: "key",
                    got: 32,
                    expected: 32,
                },
            ),
            (text.replace('#', "#!"), LinkError::Encoding("key")),
        ];
        for (input, expected) in cases {
            let error = input.parse::<LinkUri>().unwrap_err();
            match (&error, &expected) {
                (LinkError::Length { part, .. }, LinkError::Length { part: p, .. }) => {
                    assert_eq!(part, p)
                }
                _ => assert_eq!(error, expected, "{input}"),
            }
        }
        let (_, id_and_key) = text.rsplit_once('/').unwrap();
        let short = format!("sotto://AAAA/{id_and_key}");
        assert!(matches!(
            short.parse::<LinkUri>(),
            Err(LinkError::Length {
                part: "host",
                got: 3,
                expected: 32
            })
        ));
    }

    proptest! {
        #[test]
        fn any_link_round_trips(host: [u8; 32], id: [u8; Id::LEN], key: [u8; 32]) {
            let link = LinkUri { host: Fingerprint::from_bytes(host), id: Id::from_bytes(id), key };
            prop_assert_eq!(link.to_string().parse::<LinkUri>().unwrap(), link);
        }

        #[test]
        fn no_text_panics_the_parser(text in ".*") {
            let _ = text.parse::<LinkUri>();
        }
    }
}
