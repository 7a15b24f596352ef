//! `sotto`: run a relay, and talk to one.

mod arrivals;
mod bench;
mod chat;
mod demo;
mod localnet;
mod network;
mod person;
mod relay;
mod report;
mod serve;

use clap::{Parser, Subcommand};

/// sotto: a metadata-private messenger and the relay network it runs on.
///
/// See it work: `sotto demo`. To chat, each person runs `sotto init --name NAME`; one makes a
/// one-time link with `sotto invite`, the other uses it with `sotto connect LINK`; then `sotto
/// send CONTACT TEXT`, `sotto read --wait SECONDS` and `sotto history CONTACT`. There is no account: no phone number,
/// no e-mail, no user id. Messages travel through relays (`sotto relay`, or `sotto localnet`
/// for a whole network on this machine), none of which learns who talks to whom.
#[derive(Parser)]
#[command(name = "sotto", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Top,
    #[command(
        flatten,
        next_help_heading = "A person's device (also accepted after the command)"
    )]
    client: person::ClientArgs,
}

impl Cli {
    /// Hands the device options given before the command to the command, or refuses them
    /// where the command has no device.
    fn settle(mut self) -> Top {
        let before = self.client;
        match self.command.client_args() {
            Some(client) => client.take_unset_from(before),
            None if before.any_given() => <Cli as clap::CommandFactory>::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--home, --network and --json before the command are for a person's \
                     commands (init, invite, connect, contacts, send, read, history, chat, \
                     serve); give this command's own options after its name",
                )
                .exit(),
            None => {}
        }
        self.command
    }
}

#[derive(Subcommand)]
enum Top {
    /// See sotto work in one command, nothing to set up.
    ///
    /// Starts a network of five relays in this process and two people who connect by a
    /// one-time link and chat; shows each message with the relays it passed and how long it
    /// took to arrive. Everything is removed at the end.
    Demo(demo::DemoArgs),
    /// Make this device's profile: a display name, nothing else.
    Init(person::InitArgs),
    /// Make a one-time link (and QR code) for someone to connect with you.
    Invite(person::InviteArgs),
    /// Connect with the person who gave you a link.
    Connect(person::ConnectArgs),
    /// List your contacts, with unread counts.
    Contacts(person::ContactsArgs),
    /// Send a message, or a file (--file), to a contact.
    Send(person::SendArgs),
    /// Give one of your messages a new text, for both of you.
    Edit(person::EditArgs),
    /// Take one of your messages back, for both of you.
    Delete(person::DeleteArgs),
    /// React to a message (yours or theirs) with an emoji; '' takes your reaction back.
    React(person::ReactArgs),
    /// Make messages with a contact disappear SECONDS after they are stored, on both sides
    /// (0: they stay).
    Timer(person::TimerArgs),
    /// Fetch a file someone sent you; exits non-zero with the reason if it cannot.
    ///
    /// Shows a progress bar on a terminal. Stopped or killed, it goes on where it stopped
    /// when run again.
    Download(person::DownloadArgs),
    /// List files sent and received, with the state of each transfer.
    ///
    /// With --json, one object per file: `id`, `contact`, `outgoing`, `file` (`name`,
    /// `size`, `kind`, and an image's `width`, `height`, `thumbnail` or a voice message's
    /// `duration_ms`, `waveform`), `state` (uploading, sent, offered, downloading, done,
    /// cancelled), `chunks_done`, `chunks`, `path`. `sotto files cancel ID` takes back a file
    /// you sent.
    Files(person::FilesArgs),
    /// Print new messages (and wait for some with --wait); fetches the images and voice
    /// messages among them that `sotto settings` allows.
    Read(person::ReadArgs),
    /// Show or change which files are fetched without being asked, and where they go.
    ///
    /// Images and voice messages up to --auto-download-max bytes (8 MiB unless set; 0:
    /// none) are fetched as they are offered, into --download-dir, once one is set: the
    /// home directory is encrypted at rest and a fetched file is not, so none goes anywhere
    /// until you name a folder.
    Settings(person::SettingsArgs),
    /// Print a conversation, both ways, oldest first, from this device alone (no network).
    ///
    /// Nothing is marked read. Your messages show ✓ when sent and ✓✓ when delivered. With
    /// --json, one object per message: `from` (the sender's name), `mine`, `text`, `id`,
    /// `sent_at` (unix milliseconds, by the sender's clock), and where they apply `reply_to`
    /// and `delivered` (for your messages).
    History(person::HistoryArgs),
    /// Lock the store with a passphrase, change it, or go back to a key sotto keeps.
    #[command(subcommand)]
    Passphrase(person::PassphraseCommand),
    /// Groups: create one, add contacts, remove members, change roles, list members.
    ///
    /// A group's name works in `send`, `read` and `history` where a contact's does.
    #[command(subcommand)]
    Group(person::GroupCommand),
    /// A full-screen chat: contacts, conversation, composer; messages appear as they arrive.
    ///
    /// Keys: Enter sends, Up/Down pick a contact, PageUp/PageDown scroll the conversation
    /// (Home: its start, End: back to the newest; while scrolled back, new messages are
    /// counted at the bottom instead of moving the view), Ctrl-R replies to the last message,
    /// Ctrl-E edits your last message, Ctrl-D deletes it for both of you (Enter confirms),
    /// Ctrl-L likes (👍) their last message,
    /// Ctrl-N makes a one-time link (shown with its QR code), Ctrl-O connects with a link,
    /// Esc cancels, Ctrl-C quits.
    Chat(chat::ChatArgs),
    /// Run this device as a long-lived client with a local WebSocket API (see docs/api.md).
    ///
    /// Bots and other front ends connect to it with the token in HOME/api-token; messages are
    /// pushed to them as events as soon as they arrive.
    Serve(serve::ServeArgs),
    /// Create and run a relay.
    #[command(subcommand)]
    Relay(relay::RelayCommand),
    /// Run a whole network on 127.0.0.1 in this process.
    ///
    /// N relays, each a gateway, mix and mailbox host, and DIR/network.toml describing them
    /// for clients. Prints `localnet ready <network file>`, runs until SIGINT or SIGTERM.
    Localnet(localnet::LocalnetArgs),
    /// The network's authorities: their keys, and the signed network file assembled from the
    /// stake ledger and relays' descriptors (for relays run separately, not by localnet).
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Print a shell completion script.
    ///
    /// For example: `sotto completions bash > ~/.local/share/bash-completion/completions/sotto`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Measure relays, the onion path and conversations.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

impl Top {
    /// The device options of a person's command; `None` for relays, networks and tools.
    fn client_args(&mut self) -> Option<&mut person::ClientArgs> {
        match self {
            Top::Init(args) => Some(&mut args.client),
            Top::Invite(args) => Some(&mut args.client),
            Top::Connect(args) => Some(&mut args.client),
            Top::Contacts(args) => Some(&mut args.client),
            Top::Send(args) => Some(&mut args.client),
            Top::Edit(args) => Some(&mut args.client),
            Top::Delete(args) => Some(&mut args.client),
            Top::React(args) => Some(&mut args.client),
            Top::Timer(args) => Some(&mut args.client),
            Top::Download(args) => Some(&mut args.client),
            Top::Files(args) => Some(args.client_args()),
            Top::Read(args) => Some(&mut args.client),
            Top::Settings(args) => Some(&mut args.client),
            Top::History(args) => Some(&mut args.client),
            Top::Passphrase(command) => Some(command.client_args()),
            Top::Group(command) => Some(command.client_args()),
            Top::Chat(args) => Some(&mut args.client),
            Top::Serve(args) => Some(&mut args.client),
            Top::Demo(_)
            | Top::Relay(_)
            | Top::Localnet(_)
            | Top::Network(_)
            | Top::Completions { .. }
            | Top::Bench(_) => None,
        }
    }
}

const QUIET_DEPENDENCIES: &str =
    "quinn=warn,quinn_proto=warn,quinn_udp=warn,rustls=warn,refinery_core=warn";

fn init_logging(default_level: &str) {
    // The network libraries log peer addresses when verbose; those stay quiet whatever is asked,
    // because a relay's log must never name a client.
    let asked = std::env::var("SOTTO_LOG").unwrap_or_else(|_| default_level.to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{asked},{QUIET_DEPENDENCIES}"))
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!("info,{QUIET_DEPENDENCIES}"))
        });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn main() -> std::process::ExitCode {
    let command = Cli::parse().settle();
    if let Top::Completions { shell } = command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "sotto", &mut std::io::stdout());
        return std::process::ExitCode::SUCCESS;
    }
    // A person's commands print what they did; their libraries' chatter stays out of the way.
    init_logging(match command {
        Top::Relay(_) | Top::Localnet(_) | Top::Network(_) | Top::Bench(_) => "info",
        _ => "warn",
    });
    match run(command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", report::describe(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Top) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            Top::Demo(args) => demo::run(args).await,
            Top::Init(args) => person::run_init(args),
            Top::Invite(args) => person::run_invite(args).await,
            Top::Connect(args) => person::run_connect(args).await,
            Top::Contacts(args) => person::run_contacts(args).await,
            Top::Send(args) => person::run_send(args).await,
            Top::Edit(args) => person::run_edit(args).await,
            Top::Delete(args) => person::run_delete(args).await,
            Top::React(args) => person::run_react(args).await,
            Top::Timer(args) => person::run_timer(args).await,
            Top::Download(args) => person::run_download(args).await,
            Top::Files(args) => person::run_files(args).await,
            Top::Read(args) => person::run_read(args).await,
            Top::Settings(args) => person::run_settings(args),
            Top::History(args) => person::run_history(args),
            Top::Passphrase(command) => person::run_passphrase(command),
            Top::Group(command) => person::run_group(command).await,
            Top::Chat(args) => chat::run(args).await,
            Top::Serve(args) => serve::run(args).await,
            Top::Relay(command) => relay::run(command).await,
            Top::Localnet(args) => localnet::run(args).await,
            Top::Network(command) => network::run(command).await,
            Top::Bench(command) => bench::run(command).await,
            Top::Completions { .. } => Ok(()),
        }
    })
}
