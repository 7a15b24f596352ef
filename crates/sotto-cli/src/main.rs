//! `sotto`: run a relay, and talk to one.

mod bench;
mod localnet;
mod network;
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

const QUIET_DEPENDENCIES: &str = "quinn=warn,quinn_proto=warn,quinn_udp=warn,rustls=warn";

fn init_logging() {
    // The network libraries log peer addresses when verbose; those stay quiet whatever is asked,
    // because a relay's log must never name a client.
    let asked = std::env::var("SOTTO_LOG").unwrap_or_else(|_| "info".to_string());
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Top::Relay(command) => relay::run(command).await,
            Top::Localnet(args) => localnet::run(args).await,
            Top::Bench(command) => bench::run(command).await,
        }
    })
}
