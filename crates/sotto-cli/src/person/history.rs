//! `sotto history`: a conversation as this device stored it, read without the network, so it
//! works offline and beside a running `sotto chat` or `sotto serve`.

use clap::Args;

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
    let history = sotto_app::look_back(
        &args.client.home(),
        &args.client.unlock()?,
        &args.contact,
        args.limit,
    )?;
    args.client
        .output()
        .history(&args.contact, &history.me, &history.messages);
    Ok(())
}
