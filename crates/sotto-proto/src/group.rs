//! What a group's MLS context carries: its [`Roster`] (name, description, and each member's
//! role, display name and read id), in a GroupContext extension every member requires and
//! only commits change.
//!
//! Layout (integers big-endian, `blob` = u16 length + bytes):
//! `version u8 = 1 | name blob | description blob | count u16 |
//! (identity blob | role u8 | name blob | read id [24]) × count`, members in ascending order of
//! identity, no identity twice (so the encoding is canonical: every member derives the same
//! bytes, and the context's hash agrees). Roles: 1 owner, 2 admin, 3 member, 4 observer.

use std::fmt;
use std::str::FromStr;

use crate::conversation::{check_len, read_text, MAX_NAME_LEN};
use crate::cursor::{put_blob, Cursor};
use crate::{DecodeError, Id};

const VERSION: u8 = 1;
/// The GroupContext extension type of the roster (from the range RFC 9420 leaves to private
/// use, 0xF000 to 0xFFFF).
pub const ROSTER_EXTENSION: u16 = 0xF50A;
/// Most members of one group.
pub const MAX_MEMBERS: usize = 1000;
/// Longest group description, in bytes of UTF-8.
pub const MAX_DESCRIPTION_LEN: usize = 512;
/// Longest member identity (the random per-group credential `mls::new_signer` draws: 16).
pub const MAX_IDENTITY_LEN: usize = 32;

/// What a member may do. Owners and admins add, remove and change roles; members send and
/// update their own keys; observers only read (and update their own keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Owner,
    Admin,
    Member,
    Observer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Observer];

    pub fn code(self) -> u8 {
        match self {
            Role::Owner => 1,
            Role::Admin => 2,
            Role::Member => 3,
            Role::Observer => 4,
        }
    }

    pub fn from_code(code: u8) -> Result<Self, DecodeError> {
        Self::ALL
            .into_iter()
            .find(|role| role.code() == code)
            .ok_or(DecodeError::UnknownCode { what: "role", code })
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Observer => "observer",
        }
    }

    /// Whether the role may add, remove, and change others' roles.
    pub fn manages(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Whether the role may send application messages.
    pub fn sends(self) -> bool {
        self != Role::Observer
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|role| role.name() == s)
            .ok_or_else(|| format!("no role '{s}': owner, admin, member or observer"))
    }
}

/// One member device of a group.
#[derive(Clone, PartialEq, Eq)]
pub struct Member {
    /// Its MLS credential's identity: random, drawn for this group alone.
    pub identity: Vec<u8>,
    pub role: Role,
    /// The display name it chose for this group.
    pub name: String,
    /// Its own read id of the group mailbox, so that whoever removes it can take it away.
    pub read_id: Id,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Roster {
    pub name: String,
    pub description: String,
    /// In ascending order of identity, each identity once.
    pub members: Vec<Member>,
}

crate::redacted_debug!(Member, Roster);

impl Roster {
    /// Puts `member` in its place (replacing one of the same identity).
    pub fn put(&mut self, member: Member) {
        match self
            .members
            .binary_search_by(|m| m.identity.as_slice().cmp(&member.identity))
        {
            Ok(at) => self.members[at] = member,
            Err(at) => self.members.insert(at, member),
        }
    }

    pub fn member(&self, identity: &[u8]) -> Option<&Member> {
        self.members
            .binary_search_by(|m| m.identity.as_slice().cmp(identity))
            .ok()
            .map(|at| &self.members[at])
    }

    pub fn take(&mut self, identity: &[u8]) -> Option<Member> {
        self.members
            .binary_search_by(|m| m.identity.as_slice().cmp(identity))
            .ok()
            .map(|at| self.members.remove(at))
    }

    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        check_len("group name", self.name.len(), MAX_NAME_LEN)?;
        check_len(
            "group description",
            self.description.len(),
            MAX_DESCRIPTION_LEN,
        )?;
        check_len("members", self.members.len(), MAX_MEMBERS)?;
        check_order(&self.members)?;
        let mut out = vec![VERSION];
        put_blob(&mut out, self.name.as_bytes());
        put_blob(&mut out, self.description.as_bytes());
        out.extend_from_slice(&(self.members.len() as u16).to_be_bytes());
        for member in &self.members {
            check_len("identity", member.identity.len(), MAX_IDENTITY_LEN)?;
            check_len("member name", member.name.len(), MAX_NAME_LEN)?;
            put_blob(&mut out, &member.identity);
            out.push(member.role.code());
            put_blob(&mut out, member.name.as_bytes());
            out.extend_from_slice(member.read_id.as_bytes());
        }
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut cursor = Cursor::new(bytes);
        match cursor.u8("roster version")? {
            VERSION => {}
            code => {
                return Err(DecodeError::UnknownCode {
                    what: "roster version",
                    code,
                })
            }
        }
        let name = read_text(&mut cursor, "group name", MAX_NAME_LEN)?;
        let description = read_text(&mut cursor, "group description", MAX_DESCRIPTION_LEN)?;
        let count = usize::from(cursor.u16("member count")?);
        check_len("members", count, MAX_MEMBERS)?;
        let members = (0..count)
            .map(|_| {
                Ok(Member {
                    identity: cursor.blob("identity", MAX_IDENTITY_LEN)?.to_vec(),
                    role: Role::from_code(cursor.u8("role")?)?,
                    name: read_text(&mut cursor, "member name", MAX_NAME_LEN)?,
                    read_id: cursor.id("read id")?,
                })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        check_order(&members)?;
        cursor.finish()?;
        Ok(Self {
            name,
            description,
            members,
        })
    }
}

fn check_order(members: &[Member]) -> Result<(), DecodeError> {
    if members.windows(2).all(|w| w[0].identity < w[1].identity) {
        Ok(())
    } else {
        Err(DecodeError::Invalid(
            "roster members are not in ascending order of identity, or one is there twice",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rosters() -> impl Strategy<Value = Roster> {
        (
            "\\PC{0,20}",
            "\\PC{0,60}",
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..=MAX_IDENTITY_LEN),
                (0..4usize, "\\PC{0,16}", any::<[u8; 24]>()),
                0..12,
            ),
        )
            .prop_map(|(name, description, members)| Roster {
                name,
                description,
                members: members
                    .into_iter()
                    .map(|(identity, (role, name, read_id))| Member {
                        identity,
                        role: Role::ALL[role],
                        name,
                        read_id: Id::from_bytes(read_id),
                    })
                    .collect(),
            })
    }

    proptest! {
        #[test]
        fn rosters_round_trip(roster in rosters()) {
            let bytes = roster.encode().unwrap();
            prop_assert_eq!(Roster::decode(&bytes).unwrap(), roster);
        }

        #[test]
        fn every_truncation_is_an_error(roster in rosters(), cut in any::<prop::sample::Index>()) {
            let bytes = roster.encode().unwrap();
            let cut = cut.index(bytes.len());
            prop_assert!(Roster::decode(&bytes[..cut]).is_err());
        }

        #[test]
        fn no_bytes_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Roster::decode(&bytes);
        }
    }

    fn member(identity: u8, role: Role) -> Member {
        Member {
            identity: vec![identity],
            role,
            name: format!("m{identity}"),
            read_id: Id::from_bytes([identity; 24]),
        }
    }

    #[test]
    fn put_keeps_the_order_and_replaces() {
        let mut roster = Roster {
            name: "g".into(),
            description: String::new(),
            members: vec![],
        };
        for n in [5, 1, 3] {
            roster.put(member(n, Role::Member));
        }
        roster.put(member(3, Role::Admin));
        let ids: Vec<u8> = roster.members.iter().map(|m| m.identity[0]).collect();
        assert_eq!(ids, [1, 3, 5]);
        assert_eq!(roster.member(&[3]).map(|m| m.role), Some(Role::Admin));
        assert!(Roster::decode(&roster.encode().unwrap()).is_ok());
    }

    #[test]
    fn a_roster_out_of_order_or_with_a_twin_is_refused() {
        let mut roster = Roster {
            name: "g".into(),
            description: String::new(),
            members: vec![member(2, Role::Owner), member(1, Role::Member)],
        };
        assert!(roster.encode().is_err());
        roster.members.swap(0, 1);
        let mut bytes = roster.encode().unwrap();
        // Make the second identity equal to the first.
        let second = bytes.len() - (2 + 1 + 1 + 2 + 2 + 24);
        bytes[second + 2] = 1;
        assert!(matches!(
            Roster::decode(&bytes),
            Err(DecodeError::Invalid(_))
        ));
        let mut bytes = roster.encode().unwrap();
        let role_at = 1 + 3 + 2 + 2 + 2 + 1;
        assert_eq!(bytes[role_at], Role::Member.code());
        bytes[role_at] = 9;
        assert_eq!(
            Roster::decode(&bytes).unwrap_err(),
            DecodeError::UnknownCode {
                what: "role",
                code: 9
            }
        );
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("king".parse::<Role>().is_err());
    }
}
