//! `sotto send --file`, `sotto download` and `sotto files`: transfers with a progress bar on a
//! terminal, and an exit status that says whether the file arrived.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sotto_app::{bytes_done, App, ChunkSet, MessageId};
use sotto_proto::file_offer::FileKind;

use super::output::Output;
use super::ClientArgs;

#[derive(Args)]
pub struct DownloadArgs {
    /// The file's id (from `sotto read` or `sotto files`), or a unique prefix of at least 8
    /// hex digits.
    id: String,
    /// Where to write it. Until it is whole and checked it is PATH.part; run the command again
    /// after a stop and it goes on where it stopped.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct FilesArgs {
    #[command(subcommand)]
    action: Option<FilesAction>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Subcommand)]
enum FilesAction {
    /// Take back a file you sent: its chunks are deleted at their hosts, so whoever has not
    /// fetched it yet is told it is gone (an upload not finished was never offered).
    Cancel(CancelArgs),
}

#[derive(Args)]
struct CancelArgs {
    /// The file's id, or a unique prefix of at least 8 hex digits.
    id: String,
    #[command(flatten)]
    client: ClientArgs,
}

impl FilesArgs {
    /// The options of the command run: the list's, or the subcommand's.
    pub fn client_args(&mut self) -> &mut ClientArgs {
        match &mut self.action {
            Some(FilesAction::Cancel(cancel)) => &mut cancel.client,
            None => &mut self.client,
        }
    }
}

/// A bar over `size` bytes on a terminal (stderr), none for scripts.
fn bar(size: u64, json: bool) -> Option<ProgressBar> {
    if json || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(size);
    if let Ok(style) =
        ProgressStyle::with_template("{wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

pub async fn send_file(
    app: &mut App,
    output: &Output,
    contact: &str,
    path: &Path,
    kind: Option<FileKind>,
    caption: &str,
    limit: u64,
) -> anyhow::Result<()> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let bar = bar(size, output.json());
    let mut progress = |_: &MessageId, set: &ChunkSet| {
        if let Some(bar) = &bar {
            bar.set_position(bytes_done(set, size));
        }
        true
    };
    let result = app
        .send_file(contact, path, kind, caption, limit, &mut progress)
        .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let (resumed, id) = result?;
    for earlier in &resumed {
        output.file_resumed(earlier);
    }
    output.sent(contact, &id);
    Ok(())
}

pub async fn run_download(args: DownloadArgs) -> anyhow::Result<()> {
    let mut app = args.client.app()?;
    let output = args.client.output();
    let file = app.file(&args.id)?;
    let bar = bar(file.size, output.json());
    let mut progress = |_: &MessageId, set: &ChunkSet| {
        if let Some(bar) = &bar {
            bar.set_position(bytes_done(set, file.size));
        }
        true
    };
    let result = app.download(&args.id, &args.out, &mut progress).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    output.downloaded(&file, &result?);
    Ok(())
}

/// Fetches the images and voice messages just offered that the settings allow (`sotto
/// settings`), and says what came of each.
pub async fn fetch_offered(app: &mut App, output: &Output) -> anyhow::Result<()> {
    for (id, result) in app.auto_download().await? {
        let file = app.file(&hex::encode(id))?;
        match result {
            Ok(path) => output.downloaded(&file, &path),
            Err(error) => output.warning(&format!(
                "fetching {} stopped: {error}; `sotto download {}` goes on with it",
                file.name,
                hex::encode(&id[..4])
            )),
        }
    }
    Ok(())
}

pub async fn run_files(mut args: FilesArgs) -> anyhow::Result<()> {
    let client = args.client_args().clone();
    let mut app = client.app()?;
    let output = client.output();
    match &args.action {
        None => output.files(&app.files()?),
        Some(FilesAction::Cancel(cancel)) => output.cancelled(&app.cancel_file(&cancel.id).await?),
    }
    Ok(())
}
