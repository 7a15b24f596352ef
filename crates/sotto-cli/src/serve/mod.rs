//! `sotto serve`: a long-running client with the WebSocket JSON API of `sotto-api`
//! (`docs/api.md`). It listens on loopback by default, every API client must present the
//! token kept in the home directory, and web pages may connect only from allowed origins
//! (`gate`).

mod files_http;
mod gate;
pub mod json;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use sotto_api::types::ServerMessage;
use sotto_api::{Reply, Request, DEFAULT_ADDRESS};
use sotto_app::{AppEvent, AppHandle};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request as Upgrade, Response,
};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::WebSocketStream;

use crate::person::ClientArgs;
use gate::Gate;

/// How long a connection may take to become a WebSocket: one that never finishes its upgrade
/// would otherwise hold a task and a socket for good.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Replies and events waiting for one API client to read them. A client that lets this many
/// pile up is disconnected rather than held in memory without end; it can connect again and
/// find what it missed with `messages`.
const OUTGOING_QUEUE: usize = 256;

#[derive(Args)]
pub struct ServeArgs {
    /// Where the API listens. Keep it on loopback: anyone who can reach it and has the token
    /// can read and send your messages.
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_ADDRESS)]
    api: SocketAddr,
    /// A web origin whose pages may use the API (e.g. `http://localhost:8080`); repeat for
    /// more. Without it no web page may: an upgrade whose `Origin` is not listed is refused.
    /// Programs send no `Origin` and need only the token.
    #[arg(long = "allow-origin", value_name = "URL")]
    allow_origins: Vec<String>,
    /// Also serve the web app here (e.g. `127.0.0.1:8080`): sotto in the browser. It prints
    /// the address to open, with the token after its `#`. Keep it on loopback too.
    #[arg(long, value_name = "HOST:PORT")]
    web: Option<SocketAddr>,
    /// Where files fetched without a path (`download` with no `out`) and files sent from the
    /// browser are kept, in clear, each in a directory of its own. Default: the Downloads
    /// directory's `sotto` (`$XDG_DOWNLOAD_DIR/sotto`, else `~/Downloads/sotto`).
    #[arg(long, value_name = "DIR")]
    files: Option<PathBuf>,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut app = args.client.app()?;
    let files = args.files.clone().or_else(sotto_app::default_files_dir);
    if let Some(files) = &files {
        app.set_files_dir(files.clone());
    }
    let token_file = app.home().api_token();
    let token = gate::token(&token_file)?;
    let gate = Gate::new(&token, &args.allow_origins);
    if !args.api.ip().is_loopback() {
        tracing::warn!(address = %args.api, "the API listens beyond this machine");
    }
    let listener = TcpListener::bind(args.api)
        .await
        .with_context(|| format!("listening on {}", args.api))?;
    let web = match args.web {
        Some(address) => {
            if !address.ip().is_loopback() {
                tracing::warn!(%address, "the web app listens beyond this machine");
            }
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("listening on {address}"))?;
            Some(listener)
        }
        None => None,
    };
    // No receiver is kept here: while no API client listens, new messages stay unshown.
    let (app, _) = app.start();
    println!(
        "api ready ws://{} (token in {})",
        listener.local_addr()?,
        token_file.display()
    );
    if let Some(web) = web {
        let address = web.local_addr()?;
        let router = web::router(gate.clone(), app.clone(), address.port(), files);
        tokio::spawn(web::serve(web, router));
        // The token goes after '#': a browser never sends that part to any server.
        println!("web ready http://{address}/#token={token}");
    }
    let signal = crate::relay::shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            stopped = &mut signal => return stopped,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                tokio::spawn(session(stream, gate.clone(), app.clone(), app.events()));
            }
        }
    }
}

/// The handshake check in the shape tungstenite's callback takes.
// The error type is the one tungstenite's handshake callback requires.
#[allow(clippy::result_large_err)]
fn authorizer(gate: Gate) -> impl FnOnce(&Upgrade, Response) -> Result<Response, ErrorResponse> {
    move |upgrade, response| gate.check(upgrade).map(|()| response)
}

/// One API client: its requests go to the device one at a time; replies and events go back
/// through a bounded queue, and a client that stops reading is disconnected.
async fn session<S>(stream: S, gate: Gate, app: AppHandle, events: broadcast::Receiver<AppEvent>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let upgrade = tokio_tungstenite::accept_hdr_async(stream, authorizer(gate));
    let Ok(Ok(socket)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, upgrade).await else {
        return;
    };
    converse(socket, app, events).await;
}

/// An upgraded connection, the API's or the web app's: requests in, replies and events out.
async fn converse<S>(
    socket: WebSocketStream<S>,
    app: AppHandle,
    mut events: broadcast::Receiver<AppEvent>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = socket.split();
    let (out, mut outgoing) = mpsc::channel::<ServerMessage>(OUTGOING_QUEUE);
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
    // Ends when the queue is full or gone, which ends the session.
    let mut relay_events = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    let event = ServerMessage::Event(json::api_event(event));
                    if forward.try_send(event).is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = &mut relay_events => break,
        };
        let Some(Ok(frame)) = frame else { break };
        let Ok(text) = frame.to_text() else { continue };
        if text.is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Request>(text) {
            Ok(request) => call(&app, request).await,
            Err(error) => Reply {
                id: 0,
                ok: false,
                result: None,
                error: Some(format!("not a request: {error}")),
            },
        };
        if out.try_send(ServerMessage::Reply(reply)).is_err() {
            break;
        }
    }
    relay_events.abort();
    writer.abort();
}

async fn call(app: &AppHandle, request: Request) -> Reply {
    let command = match json::command(request.command) {
        Ok(command) => command,
        Err(error) => {
            return Reply {
                id: request.id,
                ok: false,
                result: None,
                error: Some(error),
            }
        }
    };
    match app.call(command).await {
        Ok(result) => Reply {
            id: request.id,
            ok: true,
            result: Some(json::result(result)),
            error: None,
        },
        Err(error) => Reply {
            id: request.id,
            ok: false,
            result: None,
            error: Some(error.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    const TOKEN: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn the_token_is_where_api_clients_look_for_it() {
        let home = sotto_app::Home::new("home");
        assert_eq!(
            home.api_token(),
            std::path::Path::new("home").join(sotto_api::TOKEN_FILE)
        );
    }

    #[tokio::test]
    async fn a_client_that_does_not_read_its_events_is_disconnected() {
        let (client, server) = tokio::io::duplex(4096);
        let (events, _) = broadcast::channel(1024);
        let session = tokio::spawn(session(
            server,
            Gate::new(TOKEN, &[]),
            AppHandle::stopped(),
            events.subscribe(),
        ));
        let mut request = "ws://localhost/".into_client_request().unwrap();
        let bearer = format!("Bearer {TOKEN}").parse().unwrap();
        request.headers_mut().insert("authorization", bearer);
        // Connected, and from then on never reading.
        let (_socket, _) = tokio_tungstenite::client_async(request, client)
            .await
            .unwrap();
        let disconnected = tokio::time::timeout(Duration::from_secs(10), async {
            for n in 0u64.. {
                if session.is_finished() {
                    return n;
                }
                let contact = format!("contact {n}");
                let _ = events.send(AppEvent::Connected { contact });
                tokio::task::yield_now().await;
            }
            unreachable!()
        })
        .await;
        assert!(
            disconnected.is_ok(),
            "the session still queues events for a client that reads none"
        );
    }
}
