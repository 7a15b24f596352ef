//! Reading a conversation from the store alone: no network, nothing marked read, and beside
//! a running `sotto chat` or `sotto serve` on the same home.

use sotto_client::store::Records;
use sotto_client::{ConversationError, Unlock};

use crate::command::History;
use crate::error::AppError;
use crate::execute::history;
use crate::home::Home;

/// `contact`'s conversation, oldest first (the last `limit` messages, if given). The home's
/// lock is taken when free; when another sotto holds it, this reads beside it, which SQLite
/// allows (a reader never sees half a write), and that sotto has already brought the store up
/// to date, so this open writes nothing.
pub fn look_back(
    home: &Home,
    unlock: &Unlock,
    contact: &str,
    limit: Option<usize>,
) -> Result<History, AppError> {
    if !home.is_initialized() {
        return Err(ConversationError::NotInitialized.into());
    }
    let _lock = match home.lock() {
        Ok(lock) => Some(lock),
        Err(AppError::Busy { .. }) => None,
        Err(error) => return Err(error),
    };
    let store = sotto_client::open_store(home.dir(), unlock)?;
    history(Records::of(&store), contact, limit)
}
