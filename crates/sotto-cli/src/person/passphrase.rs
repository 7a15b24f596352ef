//! `sotto passphrase set|remove`: changing how a home's store is unlocked.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use sotto_app::Unlock;

use super::{kept_key, read_passphrase_file, ClientArgs};

#[derive(Subcommand)]
pub enum PassphraseCommand {
    /// Lock the store with a passphrase, or change the one it has.
    ///
    /// Every page of the store is re-encrypted under the new passphrase, and the key sotto
    /// kept for it (in the OS keyring or HOME/store.key) is deleted, so a copy of the disk
    /// opens nothing without the passphrase; every command then needs it
    /// (--passphrase-file FILE or SOTTO_PASSPHRASE). There is no way back without it.
    /// To change a passphrase, give the current one as usual and the new one here.
    /// Stop `sotto chat` or `sotto serve` on the home first. If this is interrupted, the
    /// store opens with the old way or the new one, whichever it ended under.
    ///
    /// Example: sotto passphrase set --new-passphrase-file ~/.sotto-passphrase
    Set(SetArgs),
    /// Unlock the store with a key sotto keeps instead of a passphrase.
    ///
    /// Give the current passphrase (--passphrase-file FILE or SOTTO_PASSPHRASE). The store
    /// is re-encrypted under a new random key, kept in the OS keyring when one answers, else
    /// in HOME/store.key (--no-keyring or SOTTO_KEYRING=off: always there). Commands then
    /// need no passphrase.
    ///
    /// Example: sotto passphrase remove --passphrase-file ~/.sotto-passphrase
    Remove(RemoveArgs),
}

#[derive(Args)]
pub struct SetArgs {
    /// A file whose content (without its final line break) is the new passphrase.
    #[arg(long, value_name = "FILE")]
    new_passphrase_file: PathBuf,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct RemoveArgs {
    /// Keep the new key in HOME/store.key even where an OS keyring answers.
    #[arg(long)]
    no_keyring: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

impl PassphraseCommand {
    pub fn client_args(&mut self) -> &mut ClientArgs {
        match self {
            Self::Set(args) => &mut args.client,
            Self::Remove(args) => &mut args.client,
        }
    }
}

pub fn run_passphrase(command: PassphraseCommand) -> anyhow::Result<()> {
    let (client, to) = match &command {
        PassphraseCommand::Set(args) => (
            &args.client,
            Unlock::Passphrase(read_passphrase_file(&args.new_passphrase_file)?),
        ),
        PassphraseCommand::Remove(args) => (&args.client, kept_key(args.no_keyring)),
    };
    let home = client.home();
    sotto_app::change_unlock(&home, &client.unlock()?, &to)?;
    let record = sotto_client::key_record(home.dir())?
        .context("the home has no record of where its key is")?;
    client.output().unlocked_by(&record.place, home.dir());
    Ok(())
}
