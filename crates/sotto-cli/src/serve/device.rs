//! The device behind the API: one task owns it, runs the commands API clients send one at a
//! time, and between them listens for pushes and turns what arrives into events.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use sotto_api::{Command, ConnectionState, Event};
use sotto_client::Device;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::person::{api_event, find_message, message_view};

/// A command from an API client and where its result goes.
pub struct Job {
    pub command: Command,
    pub reply: oneshot::Sender<Result<Value, String>>,
}

/// How long to wait before trying the network again after it failed.
const RETRY: Duration = Duration::from_secs(2);
/// How often to look whether the connections into the network still stand.
const CONNECTION_CHECK: Duration = Duration::from_secs(1);
/// How often to read the network file again: relays rotate their onion keys every epoch
/// (a day by default) and the file follows, well ahead of the old keys' end.
const NETWORK_CHECK: Duration = Duration::from_secs(60);

/// Runs the device until the job channel closes. With `network`, the network file is read
/// again every minute, so a device that runs for days follows the relays' key rotations.
pub async fn run(
    mut device: Device,
    network: Option<PathBuf>,
    mut jobs: mpsc::Receiver<Job>,
    events: broadcast::Sender<Event>,
) {
    let Some(mut arrivals) = device.arrivals() else {
        return;
    };
    let mut listening = false;
    let mut reread = tokio::time::interval(NETWORK_CHECK);
    reread.tick().await;
    let mut state: Option<ConnectionState> = None;
    let mut announce = |state_now: ConnectionState, detail: Option<String>| {
        if state != Some(state_now) {
            state = Some(state_now);
            let _ = events.send(Event::Connection {
                state: state_now,
                detail,
            });
        }
    };
    loop {
        if !listening {
            // Subscribes what is not subscribed yet; what waits comes as pushes.
            match device.listen().await {
                Ok(()) => {
                    listening = true;
                    announce(ConnectionState::Online, None);
                    let happened = device.take_events();
                    tell(&mut device, happened, &events);
                }
                Err(error) => announce(ConnectionState::Offline, Some(error.to_string())),
            }
        }
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else { return };
                let (result, mailboxes_changed) = execute(&mut device, job.command).await;
                let _ = job.reply.send(result);
                if mailboxes_changed {
                    listening = false;
                }
            }
            Some(batch) = arrivals.recv_all() => {
                match device.apply_arrivals(batch) {
                    Ok((happened, follow_up)) => {
                        // Shown before the acknowledgements and receipts go out.
                        tell(&mut device, happened, &events);
                        match device.follow_up(follow_up).await {
                            Ok(happened) => tell(&mut device, happened, &events),
                            Err(error) => announce(ConnectionState::Offline, Some(error.to_string())),
                        }
                    }
                    Err(error) => announce(ConnectionState::Offline, Some(error.to_string())),
                }
            }
            _ = reread.tick(), if network.is_some() => {
                if let Some(file) = &network {
                    if follow_network_file(&mut device, file) {
                        listening = false;
                    }
                }
            }
            () = tokio::time::sleep(RETRY), if !listening => {}
            () = tokio::time::sleep(CONNECTION_CHECK), if listening => {
                if device.connected() {
                    announce(ConnectionState::Online, None);
                } else {
                    let lost = "lost the connection to the network".to_string();
                    announce(ConnectionState::Offline, Some(lost));
                }
            }
        }
    }
}

/// Takes the network file's current content; whether the device now uses a new one. A file
/// that does not read or parse is reported and the device keeps the one it has.
fn follow_network_file(device: &mut Device, file: &std::path::Path) -> bool {
    let changed = crate::network::load(file)
        .and_then(|directory| device.set_directory(directory).map_err(anyhow::Error::from));
    match changed {
        Ok(changed) => changed,
        Err(error) => {
            tracing::warn!(
                "keeping the network file read before: {}",
                crate::report::describe(&error)
            );
            false
        }
    }
}

/// Tells API clients what happened, and the new messages. Messages are handed out (and so
/// marked shown) only while some API client listens.
fn tell(
    device: &mut Device,
    happened: Vec<sotto_client::Event>,
    events: &broadcast::Sender<Event>,
) {
    for event in &happened {
        let _ = events.send(api_event(event));
    }
    if events.receiver_count() == 0 {
        return;
    }
    match device.store().take_unshown(None) {
        Ok(messages) => {
            for message in &messages {
                let _ = events.send(Event::Message(message_view(message)));
            }
        }
        Err(error) => tracing::warn!(%error, "cannot read new messages from the store"),
    }
}

/// Runs one command; also says whether the device now reads other mailboxes.
async fn execute(device: &mut Device, command: Command) -> (Result<Value, String>, bool) {
    let changes = matches!(command, Command::Invite | Command::Connect { .. });
    let result = match command {
        Command::Invite => device
            .invite()
            .await
            .map(|link| json!({ "link": link.to_string() }))
            .map_err(|e| e.to_string()),
        Command::Connect { link, alias } => device
            .connect(&link, alias.as_deref())
            .await
            .map(|alias| json!({ "alias": alias }))
            .map_err(|e| e.to_string()),
        Command::Contacts => device
            .contacts()
            .map(|contacts| {
                let contacts: Vec<sotto_api::Contact> = contacts
                    .into_iter()
                    .map(|c| sotto_api::Contact {
                        alias: c.alias,
                        name: c.name,
                        unread: c.unread,
                    })
                    .collect();
                json!({ "contacts": contacts })
            })
            .map_err(|e| e.to_string()),
        Command::Send {
            contact,
            text,
            reply_to,
        } => send(device, &contact, &text, reply_to.as_deref()).await,
        Command::Read { contact } => device
            .store()
            .take_unshown(contact.as_deref())
            .map(|messages| json!({ "messages": messages.iter().map(message_view).collect::<Vec<_>>() }))
            .map_err(|e| e.to_string()),
        Command::Messages { contact } => device
            .store()
            .messages(&contact)
            .map(|messages| json!({ "messages": messages.iter().map(message_view).collect::<Vec<_>>() }))
            .map_err(|e| e.to_string()),
    };
    (result, changes)
}

async fn send(
    device: &mut Device,
    contact: &str,
    text: &str,
    reply_to: Option<&str>,
) -> Result<Value, String> {
    let reply_to = reply_to
        .map(|prefix| find_message(device, contact, prefix))
        .transpose()
        .map_err(|e| format!("{e:#}"))?;
    let id = device
        .send(contact, text, reply_to)
        .await
        .map_err(|e| e.to_string())?;
    Ok(json!({ "id": hex::encode(id) }))
}
