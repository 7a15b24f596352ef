//! A typed client of the API: one WebSocket, requests matched to replies by id, events on
//! their own queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use thiserror::Error;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::types::{
    Command, Contact, Event, FileTransfer, MessageView, Reply, Request, ServerMessage,
    TransferStarted,
};

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("cannot reach the API: {0}")]
    Connect(String),
    #[error("the API refused the token (see the api-token file in the client's home)")]
    Unauthorized,
    #[error("the API connection closed")]
    Closed,
    #[error("the client refused: {0}")]
    Refused(String),
    #[error("the API answered something unexpected: {0}")]
    Protocol(String),
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>>;

pub struct ApiClient {
    sink: tokio::sync::Mutex<SplitSink<Socket, Frame>>,
    pending: Pending,
    next_id: AtomicU64,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
}

impl ApiClient {
    /// Connects to `address` (`host:port`) with the token from the client's home directory.
    pub async fn connect(address: &str, token: &str) -> Result<Self, ApiError> {
        let mut request = format!("ws://{address}/")
            .into_client_request()
            .map_err(|e| ApiError::Connect(e.to_string()))?;
        let bearer = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .map_err(|_| ApiError::Unauthorized)?;
        request.headers_mut().insert("Authorization", bearer);
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(response)
                    if response.status() == 401 =>
                {
                    ApiError::Unauthorized
                }
                other => ApiError::Connect(other.to_string()),
            })?;
        let (sink, mut stream) = socket.split();
        let pending: Pending = Arc::default();
        let (events_in, events) = mpsc::unbounded_channel();
        let waiting = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let Ok(text) = frame.to_text() else { continue };
                match serde_json::from_str::<ServerMessage>(text) {
                    Ok(ServerMessage::Reply(reply)) => {
                        let sender = waiting
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&reply.id);
                        if let Some(sender) = sender {
                            let _ = sender.send(reply);
                        }
                    }
                    Ok(ServerMessage::Event(event)) => {
                        let _ = events_in.send(event);
                    }
                    Err(_) => {}
                }
            }
            // Dropping the senders tells every waiting request that the connection is gone.
            waiting.lock().unwrap_or_else(|e| e.into_inner()).clear();
        });
        Ok(Self {
            sink: tokio::sync::Mutex::new(sink),
            pending,
            next_id: AtomicU64::new(1),
            events: tokio::sync::Mutex::new(events),
        })
    }

    /// Sends a command and waits for its reply's result.
    pub async fn call(&self, command: Command) -> Result<serde_json::Value, ApiError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, reply) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, sender);
        let text = serde_json::to_string(&Request { id, command })
            .map_err(|e| ApiError::Protocol(e.to_string()))?;
        self.sink
            .lock()
            .await
            .send(Frame::text(text))
            .await
            .map_err(|_| ApiError::Closed)?;
        let reply = reply.await.map_err(|_| ApiError::Closed)?;
        if !reply.ok {
            return Err(ApiError::Refused(reply.error.unwrap_or_default()));
        }
        Ok(reply.result.unwrap_or(serde_json::Value::Null))
    }

    async fn field<T: DeserializeOwned>(
        &self,
        command: Command,
        field: &str,
    ) -> Result<T, ApiError> {
        let mut result = self.call(command).await?;
        let value = result
            .get_mut(field)
            .map(serde_json::Value::take)
            .ok_or_else(|| ApiError::Protocol(format!("the result has no `{field}`")))?;
        serde_json::from_value(value).map_err(|e| ApiError::Protocol(e.to_string()))
    }

    pub async fn invite(&self) -> Result<String, ApiError> {
        self.field(Command::Invite, "link").await
    }

    pub async fn connect_link(&self, link: &str, alias: Option<&str>) -> Result<String, ApiError> {
        let command = Command::Connect {
            link: link.into(),
            alias: alias.map(Into::into),
        };
        self.field(command, "alias").await
    }

    pub async fn contacts(&self) -> Result<Vec<Contact>, ApiError> {
        self.field(Command::Contacts, "contacts").await
    }

    /// Sends a text; returns its message id.
    pub async fn send(
        &self,
        contact: &str,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<String, ApiError> {
        let command = Command::Send {
            contact: contact.into(),
            text: text.into(),
            reply_to: reply_to.map(Into::into),
        };
        self.field(command, "id").await
    }

    /// Gives one of this device's messages a new text; returns its full id.
    pub async fn edit(&self, contact: &str, message: &str, text: &str) -> Result<String, ApiError> {
        let command = Command::Edit {
            contact: contact.into(),
            message: message.into(),
            text: text.into(),
        };
        self.field(command, "id").await
    }

    /// Takes one of this device's messages back, for both sides; returns its full id.
    pub async fn delete(&self, contact: &str, message: &str) -> Result<String, ApiError> {
        let command = Command::Delete {
            contact: contact.into(),
            message: message.into(),
        };
        self.field(command, "id").await
    }

    /// Reacts to a message with `emoji` ("" takes the reaction back); returns its full id.
    pub async fn react(
        &self,
        contact: &str,
        message: &str,
        emoji: &str,
    ) -> Result<String, ApiError> {
        let command = Command::React {
            contact: contact.into(),
            message: message.into(),
            emoji: emoji.into(),
        };
        self.field(command, "id").await
    }

    /// Sets the conversation's disappearing timer (0: messages stay).
    pub async fn set_timer(&self, contact: &str, seconds: u32) -> Result<(), ApiError> {
        let command = Command::Timer {
            contact: contact.into(),
            seconds,
        };
        self.call(command).await.map(|_| ())
    }

    pub async fn files(&self) -> Result<Vec<FileTransfer>, ApiError> {
        self.field(Command::Files, "files").await
    }

    /// Starts sending the file at `path` (on the server's machine); `progress`, then `done`
    /// or `failed` events tell how it goes.
    pub async fn send_file(
        &self,
        contact: &str,
        path: &str,
        caption: &str,
    ) -> Result<TransferStarted, ApiError> {
        let command = Command::SendFile {
            contact: contact.into(),
            path: path.into(),
            caption: caption.into(),
        };
        let result = self.call(command).await?;
        serde_json::from_value(result).map_err(|e| ApiError::Protocol(e.to_string()))
    }

    /// Starts fetching the offered file whose id starts with `file` into `out` (or the
    /// server's files directory); events as for `send_file`.
    pub async fn download(
        &self,
        file: &str,
        out: Option<&str>,
    ) -> Result<TransferStarted, ApiError> {
        let command = Command::Download {
            file: file.into(),
            out: out.map(Into::into),
        };
        let result = self.call(command).await?;
        serde_json::from_value(result).map_err(|e| ApiError::Protocol(e.to_string()))
    }

    pub async fn read(&self, contact: Option<&str>) -> Result<Vec<MessageView>, ApiError> {
        let command = Command::Read {
            contact: contact.map(Into::into),
        };
        self.field(command, "messages").await
    }

    pub async fn messages(&self, contact: &str) -> Result<Vec<MessageView>, ApiError> {
        let command = Command::Messages {
            contact: contact.into(),
        };
        self.field(command, "messages").await
    }

    /// The next event; `None` once the connection is gone.
    pub async fn next_event(&self) -> Option<Event> {
        self.events.lock().await.recv().await
    }
}
