//! `sotto`: run a relay, and talk to one.

mod bench;
mod demo;
mod localnet;
mod network;
mod person;
mod relay;

use clap::{Parser, Subcommand};

/// sotto: a metadata-private messenger and the relay network it runs on.
///
/// A relay hosts mailboxes: a writer appends end-to-end-encrypted messages, readers receive
/// them in one order and acknowledge them, and the relay forgets a message once every reader
/// has acknowledged it.
#[derive(Parser)]
#[command(name = "sotto", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand)]
enum Top {
    /// See sotto work in one command: a network of five relays in this process, two people
    /// who connect by a one-time link and chat, each message shown with the relays it passed
    /// and how long it took. Nothing to set up; everything is removed at the end.
    Demo(demo::DemoArgs),
    /// Make this device's profile: a display name, nothing else.
    Init(person::InitArgs),
    /// Make a one-time link (and QR code) for someone to connect with you.
    Invite(person::InviteArgs),
    /// Connect with the person who gave you a link.
    Connect(person::ConnectArgs),
    /// List your contacts, with unread counts.
    Contacts(person::ContactsArgs),
    /// Send a message to a contact.
    Send(person::SendArgs),
    /// Print new messages (and wait for some with --wait).
    Read(person::ReadArgs),
    /// Create and run a relay.
    #[command(subcommand)]
    Relay(relay::RelayCommand),
    /// Run a whole network on 127.0.0.1 in this process: N relays, each a gateway, mix and
    /// mailbox host, and DIR/network.toml describing them for clients. Prints
    /// `localnet ready <network file>`, runs until SIGINT or SIGTERM.
    Localnet(localnet::LocalnetArgs),
    /// Measure a running relay.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
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
    let cli = Cli::parse();
    // A person's commands print what they did; their libraries' chatter stays out of the way.
    init_logging(match cli.command {
        Top::Relay(_) | Top::Localnet(_) | Top::Bench(_) => "info",
        _ => "warn",
    });
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Top::Demo(args) => demo::run(args).await,
            Top::Init(args) => person::run_init(args),
            Top::Invite(args) => person::run_invite(args).await,
            Top::Connect(args) => person::run_connect(args).await,
            Top::Contacts(args) => person::run_contacts(args).await,
            Top::Send(args) => person::run_send(args).await,
            Top::Read(args) => person::run_read(args).await,
            Top::Relay(command) => relay::run(command).await,
            Top::Localnet(args) => localnet::run(args).await,
            Top::Bench(command) => bench::run(command).await,
        }
    })
}
