//! `sotto settings`: which files the device fetches without being asked, and where to.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::ClientArgs;

#[derive(Args)]
pub struct SettingsArgs {
    /// Fetch images and voice messages of at most this many bytes as they are offered (0:
    /// none).
    #[arg(long, value_name = "BYTES")]
    auto_download_max: Option<u64>,
    /// The folder files fetched without asking go to (made if missing). Until one is set,
    /// nothing is fetched unasked.
    #[arg(long, value_name = "DIR", conflicts_with = "no_download_dir")]
    download_dir: Option<PathBuf>,
    /// Forget the download folder: nothing is fetched unasked any more.
    #[arg(long)]
    no_download_dir: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Changes what is given, then prints the settings.
pub fn run_settings(args: SettingsArgs) -> anyhow::Result<()> {
    let mut app = args.client.app()?;
    let mut settings = app.download_settings()?;
    if let Some(max) = args.auto_download_max {
        settings.auto_download_max = max;
    }
    if let Some(dir) = &args.download_dir {
        settings.download_dir = Some(std::path::absolute(dir)?);
    }
    if args.no_download_dir {
        settings.download_dir = None;
    }
    app.set_download_settings(&settings)?;
    let dir = settings
        .download_dir
        .as_ref()
        .map(|dir| dir.display().to_string());
    if args.client.output().json() {
        println!(
            "{}",
            json!({"event": "settings", "auto_download_max": settings.auto_download_max,
                   "download_dir": dir})
        );
    } else {
        match dir {
            Some(dir) => println!(
                "images and voice messages up to {} bytes are fetched into {dir}",
                settings.auto_download_max
            ),
            None => println!(
                "nothing is fetched unasked (no download folder; up to {} bytes once one is \
                 set with --download-dir)",
                settings.auto_download_max
            ),
        }
    }
    Ok(())
}
