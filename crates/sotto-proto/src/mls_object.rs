//! The record a group mailbox holds in place of an MLS message too big for one mailbox
//! message (a commit of a large group): the offer of the file object the message was stored
//! as (docs/protocol.md §19.2, §20.7).
//!
//! Layout: `magic [2] = 0xF5 0x0C | version u8 = 1 | offer` (the fields of Content kind 5).
//! Every MLSMessage starts with its protocol version, `0x00 0x01` for MLS 1.0, so a body
//! starting with the magic is never an MLS message and the two never need a kind byte.

use crate::cursor::Cursor;
use crate::file_offer::FileOffer;
use crate::DecodeError;

const MAGIC: [u8; 2] = [0xF5, 0x0C];
const VERSION: u8 = 1;

/// Names the file object holding a large MLS message. The offer's digest binds the message:
/// every reader checks the whole object against it, so all of them apply the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlsObject {
    pub offer: FileOffer,
}

impl MlsObject {
    /// Whether `body` is such a record rather than an MLS message (it may still be a bad one).
    pub fn is_one(body: &[u8]) -> bool {
        body.starts_with(&MAGIC)
    }

    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        self.offer.put_plain(&mut out)?;
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut cursor = Cursor::new(bytes);
        let magic = cursor.array::<2>("large message magic")?;
        if let Some((&code, _)) = magic.iter().zip(&MAGIC).find(|(got, want)| got != want) {
            return Err(DecodeError::UnknownCode {
                what: "large message magic",
                code,
            });
        }
        match cursor.u8("large message version")? {
            VERSION => {}
            code => {
                return Err(DecodeError::UnknownCode {
                    what: "large message version",
                    code,
                })
            }
        }
        let offer = FileOffer::read_plain(&mut cursor)?;
        cursor.finish()?;
        Ok(Self { offer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::tests::plain_file_offers;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(offer in plain_file_offers()) {
            let object = MlsObject { offer };
            let bytes = object.encode().unwrap();
            prop_assert!(MlsObject::is_one(&bytes));
            prop_assert_eq!(MlsObject::decode(&bytes).unwrap(), object);
            // Cut short anywhere, or with a byte more, it is refused.
            for len in 0..bytes.len() {
                prop_assert!(MlsObject::decode(&bytes[..len]).is_err());
            }
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert!(MlsObject::decode(&longer).is_err());
        }
    }

    #[test]
    fn an_mls_message_is_never_one() {
        assert!(!MlsObject::is_one(&[0x00, 0x01, 0x00, 0x01]));
        assert!(MlsObject::decode(&[0x00, 0x01, 1]).is_err());
        assert!(MlsObject::decode(&[0xF5, 0x0C, 2]).is_err());
    }
}
