//! `sotto serve --web`: the browser app, served beside the API. Its files are plain HTML, CSS
//! and JavaScript compiled into the binary, the same for everyone and holding nothing of the
//! person's; everything personal goes through its WebSocket, `/ws`, which speaks the API and
//! wants the token like the API does.
//!
//! A page of any site the person visits can reach a loopback port, so:
//! - every request must name this server in `Host` by an IP address or `localhost`: a site that
//!   points its own name at 127.0.0.1 (DNS rebinding) is refused before it reads anything;
//! - the WebSocket is opened only from this server's own origin (a page elsewhere is refused,
//!   token or not: no cross-site WebSocket hijacking);
//! - the pages run under a Content-Security-Policy that allows this origin's files and nothing
//!   else: no inline script, no other host, no framing.

use std::net::IpAddr;
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use sotto_app::AppHandle;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::server::Request as Upgrade;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::gate::Gate;

const INDEX: &str = include_str!("web/index.html");
const SCRIPT: &str = include_str!("web/app.js");
const STYLE: &str = include_str!("web/app.css");

/// What the pages may load: this origin's script, style and WebSocket; images from this origin
/// or inline data (the invite's QR code, a file's thumbnail); audio from this origin (voice
/// messages); nothing else, and no one may frame them.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How long a connection may take to send a request's header: one that never finishes it
/// would otherwise hold a task and a socket for good (as the API's handshake deadline).
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves `router` on `listener` until it fails: each connection on its own task, HTTP/1
/// with upgrades (the WebSocket), and a deadline for every request's header.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors, say: wait a little rather than spin.
                tracing::warn!(%error, "the web app cannot accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a web app connection ended");
            }
        });
    }
}

#[derive(Clone)]
pub(super) struct Web {
    gate: Gate,
    pub(super) app: AppHandle,
    port: u16,
    /// Where files sent from the browser are kept (`--files`).
    pub(super) files: Option<PathBuf>,
}

impl Web {
    /// The answer refusing `request`, unless it has the token and comes from this server's
    /// own origin (or none, as plain loads of a file by the page send none), as the
    /// WebSocket's gate asks.
    pub(super) fn refusal(&self, request: &Request) -> Option<Response> {
        let Some(host) = host(request.headers()) else {
            return Some(StatusCode::MISDIRECTED_REQUEST.into_response());
        };
        let gate = self.gate.with_origin(&format!("http://{host}"));
        let mut check = Upgrade::new(());
        *check.uri_mut() = request.uri().clone();
        *check.headers_mut() = request.headers().clone();
        gate.check(&check).err().map(|refusal| {
            let status = refusal.status();
            (status, refusal.into_body().unwrap_or_default()).into_response()
        })
    }
}

/// The web app's routes for a server listening on `port`; files sent from the browser go to
/// `files`.
pub fn router(gate: Gate, app: AppHandle, port: u16, files: Option<PathBuf>) -> Router {
    let web = Web {
        gate,
        app,
        port,
        files,
    };
    Router::new()
        .route("/", get(|| file(INDEX, "text/html; charset=utf-8")))
        .route(
            "/app.js",
            get(|| file(SCRIPT, "text/javascript; charset=utf-8")),
        )
        .route("/app.css", get(|| file(STYLE, "text/css; charset=utf-8")))
        .route("/ws", get(socket))
        .route("/files", post(super::files_http::upload))
        .route("/files/{id}", get(super::files_http::fetch))
        .layer(middleware::from_fn_with_state(web.clone(), guard))
        .with_state(web)
}

async fn file(body: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// Whether `host` (a `Host` header) names this server: an IP address or `localhost`, with its
/// port. A domain name could be anyone's, pointed here by its owner.
fn names_this_server(host: &str, port: u16) -> bool {
    let Some((name, given)) = host.rsplit_once(':') else {
        return false;
    };
    if given.parse::<u16>() != Ok(port) {
        return false;
    }
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

fn host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok())
}

/// Refuses a request that names another host, and puts the security headers on every answer.
async fn guard(State(web): State<Web>, request: Request, next: Next) -> Response {
    let known = host(request.headers()).is_some_and(|host| names_this_server(host, web.port));
    let mut response = if known {
        next.run(request).await
    } else {
        (
            StatusCode::MISDIRECTED_REQUEST,
            "open the address sotto serve printed",
        )
            .into_response()
    };
    let headers = response.headers_mut();
    // A file streamed back brings a stricter policy of its own.
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The WebSocket: the API's gate with this server's own origin allowed, then the API itself.
async fn socket(State(web): State<Web>, mut request: Request) -> Response {
    if let Some(refusal) = web.refusal(&request) {
        return refusal;
    }
    let Some(accept) = websocket_accept(request.headers()) else {
        return (StatusCode::BAD_REQUEST, "not a WebSocket upgrade").into_response();
    };
    let upgraded = hyper::upgrade::on(&mut request);
    let (app, events) = (web.app.clone(), web.app.events());
    tokio::spawn(async move {
        let Ok(upgraded) = upgraded.await else { return };
        let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None);
        super::converse(socket.await, app, events).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The `Sec-WebSocket-Accept` answering a version-13 WebSocket upgrade (RFC 6455 §4.2), or
/// `None` for a request that is not one.
fn websocket_accept(headers: &HeaderMap) -> Option<String> {
    let says = |name: header::HeaderName, word: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(word))
            })
        })
    };
    if !says(header::UPGRADE, "websocket")
        || !says(header::CONNECTION, "upgrade")
        || !says(header::SEC_WEBSOCKET_VERSION, "13")
    {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    Some(derive_accept_key(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_and_localhost_with_the_port_name_this_server() {
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
        ] {
            assert!(names_this_server(host, 8080), "{host}");
        }
        for host in [
            "127.0.0.1:8081",
            "127.0.0.1",
            "evil.example:8080",
            "localhost.evil.example:8080",
            "[::1]",
            "",
        ] {
            assert!(!names_this_server(host, 8080), "{host}");
        }
    }

    #[test]
    fn a_websocket_upgrade_is_answered_with_the_key_of_rfc_6455() {
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        assert_eq!(websocket_accept(&headers), None, "no key");
        headers.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        assert_eq!(
            websocket_accept(&headers).as_deref(),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        headers.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("8"));
        assert_eq!(websocket_accept(&headers), None, "another version");
    }
}
