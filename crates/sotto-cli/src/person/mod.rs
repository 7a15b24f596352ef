//! The commands a person uses: `init`, `invite`, `connect`, `contacts`, `send`, `read`,
//! `history`, `passphrase`.

mod change;
mod files;
mod group;
mod history;
mod output;
mod passphrase;
pub mod printable;
pub mod qr;
mod settings;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use ed25519_dalek::VerifyingKey;
use sotto_app::{App, Command, Home, Reply, Unlock};
use sotto_onion::directory::Authorities;
use sotto_proto::file_offer::FileKind;
use zeroize::Zeroizing;

pub use change::{
    run_delete, run_edit, run_react, run_timer, DeleteArgs, EditArgs, ReactArgs, TimerArgs,
};
pub use files::{run_download, run_files, DownloadArgs, FilesArgs};
pub use group::{run_group, GroupCommand};
pub use history::{run_history, HistoryArgs};
use output::Output;
pub use passphrase::{run_passphrase, PassphraseCommand};
pub use settings::{run_settings, SettingsArgs};

/// Where the person's device lives and which network it uses. Accepted before the command as
/// well as after it (`sotto --home H read`, `sotto read --home H`); after it wins.
#[derive(Args, Clone)]
pub struct ClientArgs {
    /// The device's home directory: its profile, contacts, messages and keys. Default:
    /// $SOTTO_HOME, else ~/.sotto.
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
    /// The network file (`sotto localnet` prints where it wrote one). Remembered in the home
    /// directory, so later commands may leave it out. Default: $SOTTO_NETWORK.
    #[arg(long, value_name = "FILE")]
    network: Option<PathBuf>,
    /// A file whose content (without its final line break) is the passphrase that unlocks the
    /// device's store; the SOTTO_PASSPHRASE environment variable is the other way to give it.
    /// Given to `init`, the store is locked by the passphrase and no key for it is kept;
    /// every later command then needs it. Without it, the store is unlocked by a random key
    /// kept in the OS keyring when one answers, else in HOME/store.key (`sotto passphrase`
    /// changes which).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Print one JSON object per line instead of text.
    #[arg(long)]
    json: bool,
}

/// The environment is read here rather than by clap: an option given before the command must
/// beat the environment, and clap would fill the one after the command from it first.
fn from_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

fn default_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".sotto")
}

/// The environment variable that may hold the store's passphrase (see `--passphrase-file`).
const PASSPHRASE_VARIABLE: &str = "SOTTO_PASSPHRASE";
/// Set to `off`, a new key is kept in the home's key file, never in the OS keyring.
const KEYRING_VARIABLE: &str = "SOTTO_KEYRING";

/// The passphrase in `file`, without its final line break.
fn read_passphrase_file(file: &std::path::Path) -> anyhow::Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(file)
            .with_context(|| format!("reading the passphrase from {}", file.display()))?,
    );
    let passphrase = text.strip_suffix('\n').unwrap_or(&text);
    Ok(Zeroizing::new(
        passphrase
            .strip_suffix('\r')
            .unwrap_or(passphrase)
            .to_owned(),
    ))
}

/// Where a new key is kept: in the OS keyring when one answers, unless `--no-keyring` or
/// SOTTO_KEYRING=off asks for the key file.
fn kept_key(no_keyring: bool) -> Unlock {
    let off = std::env::var_os(KEYRING_VARIABLE).is_some_and(|value| value == "off");
    if no_keyring || off {
        Unlock::KeyFile
    } else {
        Unlock::Keyring
    }
}

impl ClientArgs {
    /// Whether any of these options was given.
    pub fn any_given(&self) -> bool {
        self.home.is_some() || self.network.is_some() || self.passphrase_file.is_some() || self.json
    }

    /// Fills what was not given after the command from what was given before it.
    pub fn take_unset_from(&mut self, before: ClientArgs) {
        self.home = self.home.take().or(before.home);
        self.network = self.network.take().or(before.network);
        self.passphrase_file = self.passphrase_file.take().or(before.passphrase_file);
        self.json |= before.json;
    }

    fn output(&self) -> Output {
        Output::new(self.json)
    }

    fn network(&self) -> Option<PathBuf> {
        self.network.clone().or_else(|| from_env("SOTTO_NETWORK"))
    }

    /// The device's home: `--home`, else $SOTTO_HOME, else ~/.sotto.
    pub fn home(&self) -> Home {
        Home::new(
            self.home
                .clone()
                .or_else(|| from_env("SOTTO_HOME"))
                .unwrap_or_else(default_home),
        )
    }

    /// How the device's store is unlocked: by the passphrase given, else by the key the home
    /// keeps (a new one where `kept_key` says).
    fn unlock(&self) -> anyhow::Result<Unlock> {
        self.unlock_keeping(false)
    }

    fn unlock_keeping(&self, no_keyring: bool) -> anyhow::Result<Unlock> {
        let passphrase = match (&self.passphrase_file, std::env::var_os(PASSPHRASE_VARIABLE)) {
            (Some(file), _) => read_passphrase_file(file)?,
            (None, Some(text)) => Zeroizing::new(
                text.into_string()
                    .map_err(|_| anyhow::anyhow!("{PASSPHRASE_VARIABLE} is not valid UTF-8"))?,
            ),
            (None, None) => return Ok(kept_key(no_keyring)),
        };
        Ok(Unlock::Passphrase(passphrase))
    }

    /// The person's device, its home held by this process until the `App` is dropped.
    pub fn app(&self) -> anyhow::Result<App> {
        Ok(App::open(
            self.home(),
            &self.unlock()?,
            self.network().as_deref(),
        )?)
    }
}

#[derive(Args)]
pub struct InitArgs {
    /// The name your contacts see. It stays on this device and goes only to people you
    /// connect with; there is no account, phone number or e-mail.
    #[arg(long)]
    name: String,
    /// The network authority's public key (64 hex digits), from a source you trust, such as
    /// the network's own site; repeat it for each of a network's authorities. Without it, the
    /// device trusts the authorities that signed the first network file it reads; with it, a
    /// network file not signed by more than half of these is refused.
    #[arg(long, value_name = "HEX", value_parser = authority_key)]
    authority: Vec<VerifyingKey>,
    /// Keep the store's key in HOME/store.key even where an OS keyring answers (as
    /// SOTTO_KEYRING=off does). Without a passphrase, the key is kept in the OS keyring (the
    /// Secret Service on Linux, the Keychain on macOS, the Credential Manager on Windows)
    /// when one answers within 3 s, else in HOME/store.key, readable by you alone.
    #[arg(long)]
    no_keyring: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

fn authority_key(text: &str) -> Result<VerifyingKey, String> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key)
        .ok()
        .and_then(|_| VerifyingKey::from_bytes(&key).ok())
        .ok_or_else(|| "an authority key is 64 hex digits (an Ed25519 public key)".to_owned())
}

#[derive(Args)]
pub struct InviteArgs {
    /// Also write the link's QR code as a PNG image to FILE.
    #[arg(long, value_name = "FILE")]
    qr_png: Option<PathBuf>,
    /// Do not print the QR code in the terminal.
    #[arg(long)]
    no_qr: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct ConnectArgs {
    /// The link you were given (sotto://...). Quote it: it contains '#'.
    link: String,
    /// What to call this contact here (default: their display name, made unique).
    #[arg(long)]
    alias: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct ContactsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct SendArgs {
    /// The contact's alias, as `sotto contacts` lists it.
    contact: String,
    /// The message; with --file, the file's caption.
    text: Option<String>,
    /// Reply to the message with this id (or a unique prefix of it, at least 8 hex digits).
    #[arg(long, value_name = "ID")]
    reply_to: Option<String>,
    /// Send this file: encrypted, through the onion network, resumable (run the command
    /// again after a crash and the upload goes on).
    #[arg(long, value_name = "PATH", conflicts_with = "voice")]
    file: Option<PathBuf>,
    /// Send this recording as a voice message, with its length and waveform (WAV, or Ogg
    /// with Opus or Vorbis; other audio goes as a voice message without them).
    #[arg(long, value_name = "PATH")]
    voice: Option<PathBuf>,
    /// The largest file to send, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = sotto_app::DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct ReadArgs {
    /// Only this contact's messages (others stay unread).
    contact: Option<String>,
    /// If nothing is new, wait up to this many seconds for a message to be pushed.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    wait: u64,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run_init(args: InitArgs) -> anyhow::Result<()> {
    let trusted = (!args.authority.is_empty())
        .then(|| Authorities::majority(args.authority.clone()))
        .transpose()
        .context("--authority")?;
    let home = args.client.home();
    sotto_app::init(
        &home,
        &args.name,
        &args.client.unlock_keeping(args.no_keyring)?,
        trusted.as_ref(),
        args.client.network().as_deref(),
    )?;
    args.client.output().initialized(&args.name, home.dir());
    Ok(())
}

pub async fn run_invite(args: InviteArgs) -> anyhow::Result<()> {
    let mut app = args.client.app()?;
    let Reply::Link(link) = app.call(Command::Invite).await? else {
        bail!(UNEXPECTED);
    };
    let link = link.to_string();
    if let Some(file) = &args.qr_png {
        qr::write_png(&link, file)?;
    }
    let terminal_qr = (!args.no_qr && !args.client.json)
        .then(|| qr::terminal(&link))
        .transpose()?;
    args.client
        .output()
        .invited(&link, terminal_qr.as_deref(), args.qr_png.as_deref());
    Ok(())
}

pub async fn run_connect(args: ConnectArgs) -> anyhow::Result<()> {
    let mut app = args.client.app()?;
    let command = Command::Connect {
        link: args.link,
        alias: args.alias,
    };
    let Reply::Connected { alias } = app.call(command).await? else {
        bail!(UNEXPECTED);
    };
    args.client.output().connected(&alias);
    Ok(())
}

pub async fn run_contacts(args: ContactsArgs) -> anyhow::Result<()> {
    let mut app = args.client.app()?;
    let output = args.client.output();
    // Answers to links arrive as new contacts: pick them up first.
    match app.catch_up().await {
        Ok(events) => output.events(&events),
        Err(error) => output.warning(&format!("showing what is stored; the network: {error}")),
    }
    let Reply::Contacts {
        contacts,
        pending_links,
    } = app.call(Command::Contacts).await?
    else {
        bail!(UNEXPECTED);
    };
    output.contacts(&contacts, pending_links);
    Ok(())
}

pub async fn run_send(args: SendArgs) -> anyhow::Result<()> {
    let mut app = args.client.app()?;
    let file = match (&args.file, &args.voice) {
        (Some(path), _) => Some((path, None)),
        (None, Some(path)) => Some((path, Some(FileKind::Voice))),
        (None, None) => None,
    };
    if let Some((path, kind)) = file {
        let caption = args.text.as_deref().unwrap_or_default();
        let output = args.client.output();
        return files::send_file(
            &mut app,
            &output,
            &args.contact,
            path,
            kind,
            caption,
            args.max_file_size,
        )
        .await;
    }
    let Some(text) = args.text else {
        bail!("give the message's text, or --file PATH to send a file");
    };
    let command = Command::Send {
        contact: args.contact.clone(),
        text,
        reply_to: args.reply_to,
    };
    let Reply::Sent { id } = app.call(command).await? else {
        bail!(UNEXPECTED);
    };
    args.client.output().sent(&args.contact, &id);
    Ok(())
}

pub async fn run_read(args: ReadArgs) -> anyhow::Result<()> {
    let mut app = args.client.app()?;
    let output = args.client.output();
    if let Some(contact) = &args.contact {
        app.check_contact(contact)?;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(args.wait);
    // Catch up once, then wait for pushes: every mailbox is subscribed once, however long
    // the wait.
    let mut events = app.catch_up().await?;
    loop {
        output.events(&events);
        let read = Command::Read {
            contact: args.contact.clone(),
        };
        let Reply::Messages(messages) = app.call(read).await? else {
            bail!(UNEXPECTED);
        };
        output.messages(&messages);
        files::fetch_offered(&mut app, &output).await?;
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if !messages.is_empty() || left.is_zero() {
            return Ok(());
        }
        events = app.wait(left).await?;
    }
}

/// What a one-shot command says if sotto-app answered with another kind of reply than the
/// command's: a bug, never something the person did.
const UNEXPECTED: &str = "sotto-app answered with another kind of reply than the command's";
