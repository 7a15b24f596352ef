//! The commands a person uses: `init`, `invite`, `connect`, `contacts`, `send`, `read`,
//! `history`.

mod history;
mod output;
pub mod printable;
pub mod qr;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use ed25519_dalek::VerifyingKey;
use sotto_client::store::Store;
use sotto_client::{init, write_owner_only, Device, Unlock};
use sotto_onion::directory::Authorities;
use zeroize::Zeroizing;

pub use history::{run_history, HistoryArgs};
use output::Output;
pub use output::{api_event, message_view};

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
    /// Given to `init`, the store is locked by the passphrase and no key for it is kept on disk;
    /// every later command then needs it. Without it, the store is unlocked by a random key
    /// kept in HOME/store.key.
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

/// Remembers the network file's path, not its content: the network rewrites the file as its
/// keys rotate.
const NETWORK_PATH_FILE: &str = "network-path";
/// The environment variable that may hold the store's passphrase (see `--passphrase-file`).
const PASSPHRASE_VARIABLE: &str = "SOTTO_PASSPHRASE";

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

    pub fn network_file(&self) -> anyhow::Result<PathBuf> {
        let home = self.home();
        let remembered = home.join(NETWORK_PATH_FILE);
        if let Some(network) = self.network() {
            let absolute = std::path::absolute(&network)
                .with_context(|| format!("resolving {}", network.display()))?;
            if home.exists() {
                write_owner_only(&remembered, absolute.as_os_str().as_encoded_bytes())
                    .with_context(|| format!("writing {}", remembered.display()))?;
            }
            return Ok(absolute);
        }
        match std::fs::read(&remembered) {
            Ok(bytes) => Ok(PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())),
            Err(_) => bail!(
                "which network? Pass --network FILE (the file `sotto localnet` prints) once; \
                 it is remembered in {}",
                home.display()
            ),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.home
            .clone()
            .or_else(|| from_env("SOTTO_HOME"))
            .unwrap_or_else(default_home)
    }

    /// How the device's store is unlocked: by the passphrase given, else by the home's key file.
    fn unlock(&self) -> anyhow::Result<Unlock> {
        let passphrase = match (&self.passphrase_file, std::env::var_os(PASSPHRASE_VARIABLE)) {
            (Some(file), _) => {
                let text =
                    Zeroizing::new(std::fs::read_to_string(file).with_context(|| {
                        format!("reading the passphrase from {}", file.display())
                    })?);
                let passphrase = text.strip_suffix('\n').unwrap_or(&text);
                Zeroizing::new(
                    passphrase
                        .strip_suffix('\r')
                        .unwrap_or(passphrase)
                        .to_owned(),
                )
            }
            (None, Some(text)) => Zeroizing::new(
                text.into_string()
                    .map_err(|_| anyhow::anyhow!("{PASSPHRASE_VARIABLE} is not valid UTF-8"))?,
            ),
            (None, None) => return Ok(Unlock::KeyFile),
        };
        Ok(Unlock::Passphrase(passphrase))
    }

    pub fn device(&self) -> anyhow::Result<Device> {
        let home = self.home();
        if !sotto_client::database_path(&home).exists() {
            bail!(sotto_client::ConversationError::NotInitialized);
        }
        let directory = crate::network::load(&self.network_file()?)?;
        Ok(Device::open(&home, &self.unlock()?, directory)?)
    }

    /// The device's store alone, for commands that need no network.
    pub fn store(&self) -> anyhow::Result<Store> {
        let home = self.home();
        if !sotto_client::database_path(&home).exists() {
            bail!(sotto_client::ConversationError::NotInitialized);
        }
        Ok(sotto_client::open_store(&home, &self.unlock()?)?)
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
    /// The message.
    text: String,
    /// Reply to the message with this id (or a unique prefix of it, at least 8 hex digits).
    #[arg(long, value_name = "ID")]
    reply_to: Option<String>,
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
    // The network file is read (its signature checked) before anything is made, and its
    // authority pinned at once: the device belongs to the network it was set up with.
    let directory = args
        .client
        .network()
        .as_deref()
        .map(crate::network::load)
        .transpose()?;
    let trusted = (!args.authority.is_empty())
        .then(|| Authorities::majority(args.authority.clone()))
        .transpose()
        .context("--authority")?;
    if let (Some(directory), Some(trusted)) = (&directory, &trusted) {
        if !trusted.approve(&directory.signers()) {
            bail!(
                "the network file is not signed by the --authority given ({trusted}): it is \
                 not that network's file"
            );
        }
    }
    let home = args.client.home();
    let unlock = args.client.unlock()?;
    init(&home, &args.name, &unlock)?;
    if let Some(trusted) = &trusted {
        sotto_client::pin_authority(&home, &unlock, trusted)?;
    }
    if let Some(directory) = directory {
        args.client.network_file()?;
        Device::open(&home, &unlock, directory)?;
    }
    args.client.output().initialized(&args.name, &home);
    Ok(())
}

pub async fn run_invite(args: InviteArgs) -> anyhow::Result<()> {
    let mut device = args.client.device()?;
    let link = device.invite().await?.to_string();
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
    let mut device = args.client.device()?;
    let alias = device.connect(&args.link, args.alias.as_deref()).await?;
    args.client.output().connected(&alias);
    Ok(())
}

pub async fn run_contacts(args: ContactsArgs) -> anyhow::Result<()> {
    let mut device = args.client.device()?;
    let output = args.client.output();
    // Answers to links arrive as new contacts: pick them up first.
    match device.sync().await {
        Ok(events) => output.events(&events),
        Err(error) => output.warning(&format!("showing what is stored; the network: {error}")),
    }
    output.contacts(&device.contacts()?, device.store().invitations()?.len());
    Ok(())
}

pub async fn run_send(args: SendArgs) -> anyhow::Result<()> {
    let mut device = args.client.device()?;
    let reply_to = args
        .reply_to
        .as_deref()
        .map(|prefix| find_message(&device, &args.contact, prefix))
        .transpose()?;
    let id = device.send(&args.contact, &args.text, reply_to).await?;
    args.client.output().sent(&args.contact, &id);
    Ok(())
}

pub async fn run_read(args: ReadArgs) -> anyhow::Result<()> {
    let mut device = args.client.device()?;
    let output = args.client.output();
    if let Some(contact) = &args.contact {
        if device.store().conversation(contact)?.is_none() {
            bail!(sotto_client::ConversationError::UnknownContact(
                contact.clone()
            ));
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(args.wait);
    // Catch up once, then wait for pushes: every mailbox is subscribed once, however long
    // the wait.
    let mut events = device.sync().await?;
    loop {
        output.events(&events);
        let messages = device.store().take_unshown(args.contact.as_deref())?;
        output.messages(&messages);
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if !messages.is_empty() || left.is_zero() {
            return Ok(());
        }
        device.wait(left).await?;
        events = device.take_events();
    }
}

/// The id of the message in `contact`'s conversation whose hex id starts with `prefix`.
pub fn find_message(device: &Device, contact: &str, prefix: &str) -> anyhow::Result<[u8; 16]> {
    let prefix = prefix.to_ascii_lowercase();
    if prefix.len() < 8 {
        bail!("--reply-to needs at least 8 hex digits of the message id");
    }
    let matches: Vec<[u8; 16]> = device
        .store()
        .messages(contact)?
        .into_iter()
        .map(|m| m.id)
        .filter(|id| hex::encode(id).starts_with(&prefix))
        .collect();
    match matches.as_slice() {
        [id] => Ok(*id),
        [] => bail!("no message with id {prefix}… in the conversation with {contact}"),
        _ => bail!("several messages have ids starting with {prefix}; give more digits"),
    }
}
