//! Changing how a person's home is unlocked (`sotto passphrase set|remove`): held like any
//! command that writes, so no other sotto has the store open while its every page is
//! re-encrypted.

use sotto_client::{ConversationError, Unlock};

use crate::error::AppError;
use crate::home::Home;

/// Re-encrypts the store in `home`, unlocked by `current`, so that `to` unlocks it instead
/// (see `sotto_client::change_unlock`). Refused while another sotto holds the home.
pub fn change_unlock(home: &Home, current: &Unlock, to: &Unlock) -> Result<(), AppError> {
    if !home.is_initialized() {
        return Err(ConversationError::NotInitialized.into());
    }
    let _lock = home.lock()?;
    Ok(sotto_client::change_unlock(home.dir(), current, to)?)
}
