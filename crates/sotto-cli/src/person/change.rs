//! `sotto edit`, `sotto delete` and `sotto react`: changing a message already sent, on both
//! sides of the conversation; and `sotto timer`, which makes messages disappear.

use anyhow::bail;
use clap::Args;
use sotto_app::{Change, Command, Reply};

use super::{ClientArgs, UNEXPECTED};

#[derive(Args)]
pub struct EditArgs {
    /// The contact's alias, as `sotto contacts` lists it.
    contact: String,
    /// The id of one of your messages (or a unique prefix of it, at least 8 hex digits).
    id: String,
    /// Its new text.
    text: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct DeleteArgs {
    /// The contact's alias, as `sotto contacts` lists it.
    contact: String,
    /// The id of one of your messages (or a unique prefix of it, at least 8 hex digits).
    id: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct ReactArgs {
    /// The contact's alias, as `sotto contacts` lists it.
    contact: String,
    /// The id of a message, yours or theirs (or a unique prefix, at least 8 hex digits).
    id: String,
    /// One emoji; '' takes your reaction back.
    emoji: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct TimerArgs {
    /// The contact's alias, as `sotto contacts` lists it.
    contact: String,
    /// How long messages stay, in seconds, once stored (0: they stay for good).
    seconds: u32,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run_timer(args: TimerArgs) -> anyhow::Result<()> {
    let mut app = args.client.app()?;
    let command = Command::SetTimer {
        contact: args.contact.clone(),
        seconds: args.seconds,
    };
    let Reply::TimerSet = app.call(command).await? else {
        bail!(UNEXPECTED);
    };
    args.client.output().timer(&args.contact, args.seconds);
    Ok(())
}

pub async fn run_edit(args: EditArgs) -> anyhow::Result<()> {
    let change = Change::Edit(args.text);
    run(&args.client, args.contact, args.id, change, "edited").await
}

pub async fn run_delete(args: DeleteArgs) -> anyhow::Result<()> {
    run(
        &args.client,
        args.contact,
        args.id,
        Change::Delete,
        "deleted",
    )
    .await
}

pub async fn run_react(args: ReactArgs) -> anyhow::Result<()> {
    let change = Change::React(args.emoji);
    run(&args.client, args.contact, args.id, change, "reacted to").await
}

async fn run(
    client: &ClientArgs,
    contact: String,
    message: String,
    change: Change,
    done: &str,
) -> anyhow::Result<()> {
    let mut app = client.app()?;
    let command = Command::Change {
        contact: contact.clone(),
        message,
        change,
    };
    let Reply::Changed { id } = app.call(command).await? else {
        bail!(UNEXPECTED);
    };
    client.output().changed(&contact, &id, done);
    Ok(())
}
