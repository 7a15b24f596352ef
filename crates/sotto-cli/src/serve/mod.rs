//! `sotto serve`: a long-running client with the WebSocket JSON API of `sotto-api`
//! (`docs/api.md`). It listens on loopback by default, and every API client must present the
//! token kept in the home directory.

pub mod device;

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sotto_api::types::ServerMessage;
use sotto_api::{Event, Reply, Request, DEFAULT_ADDRESS, TOKEN_FILE};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request as Upgrade, Response,
};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::person::ClientArgs;
use device::Job;

#[derive(Args)]
pub struct ServeArgs {
    /// Where the API listens. Keep it on loopback: anyone who can reach it and has the token
    /// can read and send your messages.
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_ADDRESS)]
    api: SocketAddr,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The API token: made on first use, readable by this user only.
fn token(home: &Path) -> anyhow::Result<String> {
    let file = home.join(TOKEN_FILE);
    if let Ok(token) = std::fs::read_to_string(&file) {
        return Ok(token.trim().to_string());
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options
        .open(&file)
        .with_context(|| format!("creating {}", file.display()))?;
    std::io::Write::write_all(&mut out, token.as_bytes())
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(token)
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let device = args.client.device()?;
    let network = args.client.network_file()?;
    let token = token(&args.client.home())?;
    if !args.api.ip().is_loopback() {
        tracing::warn!(address = %args.api, "the API listens beyond this machine");
    }
    let listener = TcpListener::bind(args.api)
        .await
        .with_context(|| format!("listening on {}", args.api))?;
    let (jobs, jobs_out) = mpsc::channel(64);
    let (events, _) = broadcast::channel(1024);
    tokio::spawn(device::run(device, Some(network), jobs_out, events.clone()));
    println!(
        "api ready ws://{} (token in {})",
        listener.local_addr()?,
        args.client.home().join(TOKEN_FILE).display()
    );
    let expected: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let signal = crate::relay::shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            stopped = &mut signal => return stopped,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                tokio::spawn(session(stream, expected, jobs.clone(), events.subscribe()));
            }
        }
    }
}

/// The token from `Authorization: Bearer <token>` or, for browsers, `?token=<token>`.
fn presented(upgrade: &Upgrade) -> Option<String> {
    let header = upgrade
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let query = upgrade.uri().query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
    });
    header.or(query).map(|token| token.trim().to_string())
}

/// The handshake check: lets the upgrade through only with the right token. Comparing
/// digests keeps the comparison's timing independent of the token.
// The error type is the one tungstenite's handshake callback requires.
#[allow(clippy::result_large_err)]
fn authorizer(
    expected: [u8; 32],
) -> impl FnOnce(&Upgrade, Response) -> Result<Response, ErrorResponse> {
    move |upgrade, response| {
        let digest: Option<[u8; 32]> =
            presented(upgrade).map(|token| Sha256::digest(token.as_bytes()).into());
        if digest == Some(expected) {
            return Ok(response);
        }
        let mut refusal = ErrorResponse::new(Some("wrong or missing API token".into()));
        *refusal.status_mut() = StatusCode::UNAUTHORIZED;
        Err(refusal)
    }
}

/// One API client: its requests go to the device one at a time; replies and events go back.
async fn session(
    stream: TcpStream,
    expected: [u8; 32],
    jobs: mpsc::Sender<Job>,
    mut events: broadcast::Receiver<Event>,
) {
    let Ok(socket) = tokio_tungstenite::accept_hdr_async(stream, authorizer(expected)).await else {
        return;
    };
    let (mut sink, mut stream) = socket.split();
    let (out, mut outgoing) = mpsc::unbounded_channel::<ServerMessage>();
    let writer = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            let Ok(text) = serde_json::to_string(&message) else {
                continue;
            };
            if sink.send(Frame::text(text)).await.is_err() {
                return;
            }
        }
    });
    let forward = out.clone();
    let relay_events = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if forward.send(ServerMessage::Event(event)).is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    while let Some(Ok(frame)) = stream.next().await {
        let Ok(text) = frame.to_text() else { continue };
        if text.is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Request>(text) {
            Ok(request) => call(&jobs, request).await,
            Err(error) => Reply {
                id: 0,
                ok: false,
                result: None,
                error: Some(format!("not a request: {error}")),
            },
        };
        if out.send(ServerMessage::Reply(reply)).is_err() {
            break;
        }
    }
    relay_events.abort();
    writer.abort();
}

async fn call(jobs: &mpsc::Sender<Job>, request: Request) -> Reply {
    let (reply, result) = oneshot::channel();
    let job = Job {
        command: request.command,
        reply,
    };
    let outcome = match jobs.send(job).await {
        Ok(()) => result
            .await
            .unwrap_or_else(|_| Err("the client stopped".into())),
        Err(_) => Err("the client stopped".into()),
    };
    match outcome {
        Ok(result) => Reply {
            id: request.id,
            ok: true,
            result: Some(result),
            error: None,
        },
        Err(error) => Reply {
            id: request.id,
            ok: false,
            result: None,
            error: Some(error),
        },
    }
}
