//! Files over the web app's HTTP, where a WebSocket frame is the wrong vessel: a file the
//! browser sends is streamed in a POST to this process, which writes it to the files
//! directory and sends it from there; a file sent or fetched is streamed back in a GET. Both
//! want the token (header or `?token=`) and this server's own origin, as `/ws` does.
//!
//! Files in the files directory are in clear, as anywhere a person saves a file; it is kept
//! out of the home (which holds only encrypted state), owner-only.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use rand::RngCore;
use sotto_app::{Command, FileState, Reply};

use super::web::Web;

/// Bytes read from disk per piece of a file streamed back.
const PIECE: usize = 256 * 1024;

/// Kinds a browser may show in place (an `<img>`, an `<audio>`): raster images and audio,
/// which run nothing. Anything else is sent as a download, never rendered on this origin.
fn inline_type(name: &str) -> Option<&'static str> {
    let extension = Path::new(name)
        .extension()?
        .to_string_lossy()
        .to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ogg" | "opus" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" | "aac" => "audio/mp4",
        "wav" => "audio/wav",
        "webm" => "audio/webm",
        _ => return None,
    })
}

fn refuse(status: StatusCode, why: impl Into<String>) -> Response {
    (status, why.into()).into_response()
}

/// The query's value for `key`, decoded.
fn query_value(request: &Request, key: &str) -> Option<String> {
    let query = request.uri().query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.into_owned())
}

/// `POST /files?contact=ALIAS&name=NAME[&caption=TEXT]`, the file as the body: written to
/// `FILES/sent/<random>/NAME`, then sent. Answers `{"id", "path"}` once the transfer is
/// under way (its progress comes over `/ws`).
pub async fn upload(State(web): State<Web>, request: Request) -> Response {
    if let Some(refusal) = web.refusal(&request) {
        return refusal;
    }
    let (Some(contact), Some(name)) = (
        query_value(&request, "contact"),
        query_value(&request, "name"),
    ) else {
        return refuse(StatusCode::BAD_REQUEST, "give contact= and name=");
    };
    let caption = query_value(&request, "caption").unwrap_or_default();
    let Some(files) = web.files.clone() else {
        return refuse(StatusCode::NOT_FOUND, "this sotto serve keeps no files");
    };
    let mut folder = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut folder);
    let folder = files.join("sent").join(hex::encode(folder));
    let path = folder.join(sotto_app::local_name(&name));
    if let Err(error) = receive(request.into_body(), &folder, &path).await {
        let _ = std::fs::remove_dir_all(&folder);
        return refuse(error.0, error.1);
    }
    let command = Command::SendFile {
        contact,
        path,
        caption,
    };
    match web.app.call(command).await {
        Ok(reply) => (
            [(header::CONTENT_TYPE, "application/json")],
            super::json::result(reply).to_string(),
        )
            .into_response(),
        Err(error) => {
            let _ = std::fs::remove_dir_all(&folder);
            refuse(StatusCode::BAD_REQUEST, error.to_string())
        }
    }
}

/// Streams `body` into a new owner-only file at `path` in a new owner-only `folder`,
/// refusing one over the limit of what a device sends.
async fn receive(body: Body, folder: &Path, path: &Path) -> Result<(), (StatusCode, String)> {
    let failed = |error: std::io::Error| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot keep the file: {error}"),
        )
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(folder)
        .map_err(failed)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|error| (StatusCode::BAD_REQUEST, error.to_string()))?;
        written += piece.len() as u64;
        if written > sotto_app::DEFAULT_MAX_FILE_SIZE {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "over the limit of {} bytes",
                    sotto_app::DEFAULT_MAX_FILE_SIZE
                ),
            ));
        }
        // A piece at a time, on a thread that may block: the disk can be slow.
        tokio::task::block_in_place(|| file.write_all(&piece)).map_err(failed)?;
    }
    tokio::task::block_in_place(|| file.sync_all()).map_err(failed)
}

/// `GET /files/<id>`: the file with that id (all 32 hex digits) as this device has it: one
/// it sent, or one fetched whole.
pub async fn fetch(
    State(web): State<Web>,
    UrlPath(id): UrlPath<String>,
    request: Request,
) -> Response {
    if let Some(refusal) = web.refusal(&request) {
        return refusal;
    }
    let files = match web.app.call(Command::Files).await {
        Ok(Reply::Files(files)) => files,
        Ok(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "an unexpected answer"),
        Err(error) => return refuse(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
    };
    let id = id.to_ascii_lowercase();
    let Some(file) = files.into_iter().find(|file| hex::encode(file.id) == id) else {
        return refuse(StatusCode::NOT_FOUND, "no such file");
    };
    let here = file.outgoing || file.state == FileState::Done;
    let Some(path) = file.path.filter(|_| here) else {
        return refuse(StatusCode::NOT_FOUND, "not fetched yet");
    };
    stream_file(&path, &file.name)
}

fn stream_file(path: &PathBuf, name: &str) -> Response {
    let opened = std::fs::File::open(path).and_then(|file| {
        let len = file.metadata()?.len();
        Ok((file, len))
    });
    let Ok((file, len)) = opened else {
        return refuse(StatusCode::GONE, "the file is no longer where it was kept");
    };
    let pieces = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = tokio::task::spawn_blocking(move || {
            let mut piece = vec![0u8; PIECE];
            let read = file.read(&mut piece)?;
            piece.truncate(read);
            Ok::<_, std::io::Error>((file, piece))
        })
        .await;
        match read {
            Ok(Ok((_, piece))) if piece.is_empty() => None,
            Ok(Ok((file, piece))) => Some((Ok(piece), Some(file))),
            Ok(Err(error)) => Some((Err(error), None)),
            Err(error) => Some((Err(std::io::Error::other(error)), None)),
        }
    });
    let mut response = Body::from_stream(pieces).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    match inline_type(name) {
        Some(kind) => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        }
        None => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            headers.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment"),
            );
        }
    }
    // Whatever the file holds, it runs nothing on this origin, even opened on its own.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_raster_images_and_audio_are_shown_in_place() {
        assert_eq!(inline_type("a.PNG"), Some("image/png"));
        assert_eq!(inline_type("note.opus"), Some("audio/ogg"));
        for name in ["evil.svg", "page.html", "x.js", "README", ""] {
            assert_eq!(inline_type(name), None, "{name}");
        }
    }
}
