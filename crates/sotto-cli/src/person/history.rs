//! `sotto history`: a conversation as this device stored it, read without the network, so it
//! works offline and beside a running `sotto chat` or `sotto serve`.

use anyhow::bail;
use clap::Args;
use sotto_client::ConversationError;

use super::ClientArgs;

#[derive(Args)]
pub struct HistoryArgs {
    /// The contact's alias, as `sotto contacts` lists it.
    contact: String,
    /// Only the last N messages.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Prints the conversation oldest first. Nothing is marked read: this is a look back, and
/// `sotto read` still shows what is new.
pub fn run_history(args: HistoryArgs) -> anyhow::Result<()> {
    let store = args.client.store()?;
    let Some(profile) = store.profile()? else {
        bail!(ConversationError::NotInitialized);
    };
    if store.conversation(&args.contact)?.is_none() {
        bail!(ConversationError::UnknownContact(args.contact));
    }
    let mut messages = store.messages(&args.contact)?;
    if let Some(limit) = args.limit {
        messages.drain(..messages.len().saturating_sub(limit));
    }
    args.client
        .output()
        .history(&args.contact, &profile.name, &messages);
    Ok(())
}
