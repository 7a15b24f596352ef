//! The roster in the group's MLS context: a GroupContext extension that every member's leaf
//! must support (`RequiredCapabilities`), so only a commit changes it and every member reads
//! the same one in every epoch.

use openmls::prelude::*;
use sotto_proto::group::{Roster, ROSTER_EXTENSION};

use crate::conversation::mls::{self, failed};
use crate::conversation::ConversationError;

fn roster_type() -> ExtensionType {
    ExtensionType::Unknown(ROSTER_EXTENSION)
}

/// What a group member's leaf supports: sotto's ciphersuite and the roster.
pub(crate) fn capabilities() -> Capabilities {
    Capabilities::new(
        None,
        Some(&[mls::CIPHERSUITE]),
        Some(&[roster_type()]),
        None,
        None,
    )
}

/// The context extensions that carry `roster`: the roster, and the requirement that every
/// member supports it.
pub(crate) fn extensions(roster: &Roster) -> Result<Extensions<GroupContext>, ConversationError> {
    let bytes = roster
        .encode()
        .map_err(crate::conversation::encoding("the group's roster"))?;
    Extensions::try_from(vec![
        Extension::RequiredCapabilities(RequiredCapabilitiesExtension::new(
            &[roster_type()],
            &[],
            &[],
        )),
        Extension::Unknown(ROSTER_EXTENSION, UnknownExtension(bytes)),
    ])
    .map_err(failed("making the group's context extensions"))
}

/// The roster in a group context's extensions. A group without one (or with one that does not
/// decode) is no sotto group.
pub(crate) fn roster_in(extensions: &Extensions<GroupContext>) -> Result<Roster, String> {
    let bytes = extensions
        .unknown(ROSTER_EXTENSION)
        .ok_or("the group's context carries no roster")?;
    Roster::decode(&bytes.0).map_err(|e| format!("the group's roster: {e}"))
}

/// The roster of `group` as it stands.
pub fn roster(group: &MlsGroup) -> Result<Roster, ConversationError> {
    roster_in(group.extensions()).map_err(|detail| ConversationError::Mls {
        context: "reading the group's roster",
        detail,
    })
}

/// The random, per-group identity in a member's credential.
pub(crate) fn identity(credential: &Credential) -> Result<Vec<u8>, String> {
    BasicCredential::try_from(credential.clone())
        .map(|basic| basic.identity().to_vec())
        .map_err(|_| "its credential is not a basic credential".to_string())
}
