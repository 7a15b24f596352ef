//! The device's long-lived loop: one task owns it, runs front ends' commands one at a time,
//! and between them listens for pushes and turns what arrives into events.

use std::path::Path;
use std::time::Duration;

use sotto_client::Device;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::app::App;
use crate::command::{Command, MessageView, Reply};
use crate::error::AppError;
use crate::event::{AppEvent, ConnectionState};
use crate::execute::execute;
use crate::network_file::read_network_file;
use crate::transfers::Transfers;

/// A command from a front end and where its result goes.
pub(crate) struct Job {
    pub command: Command,
    pub reply: oneshot::Sender<Result<Reply, AppError>>,
}

/// How long to wait before trying the network again after it failed.
const RETRY: Duration = Duration::from_secs(2);
/// How often to look whether the connections into the network still stand.
const CONNECTION_CHECK: Duration = Duration::from_secs(1);
/// How often to read the network file again: relays rotate their onion keys every epoch
/// (a day by default) and the file follows, well ahead of the old keys' end.
const NETWORK_CHECK: Duration = Duration::from_secs(60);
/// The longest the loop spends fetching files by itself before it answers commands again.
const AUTO_DOWNLOAD_TIME: Duration = Duration::from_secs(60);

/// Runs the device until the job channel closes (every handle dropped), then lets the home go.
pub(crate) async fn run(
    app: App,
    mut jobs: mpsc::Receiver<Job>,
    events: broadcast::Sender<AppEvent>,
) {
    // The lock is bound, not dropped: the home stays this process's until the loop ends.
    let App {
        mut device,
        network_file,
        lock: _lock,
        files_dir,
        ..
    } = app;
    let mut transfers = Transfers::new(files_dir.clone());
    // Transfers a stop left go on once the network answers.
    let mut resumed = false;
    let Some(mut arrivals) = device.arrivals() else {
        return;
    };
    let mut listening = false;
    let mut reread = tokio::time::interval(NETWORK_CHECK);
    reread.tick().await;
    let mut state: Option<ConnectionState> = None;
    let mut announce = |state_now: ConnectionState| {
        if !state
            .as_ref()
            .is_some_and(|state| state.same_as(&state_now))
        {
            state = Some(state_now.clone());
            let _ = events.send(AppEvent::Connection(state_now));
        }
    };
    let offline = |reason: String| ConnectionState::Offline { reason };
    loop {
        if !listening {
            // Subscribes what is not subscribed yet (what waits comes as pushes), and sends
            // the receipts a failed follow-up left owed.
            let ready = match device.listen().await {
                Ok(()) => device.send_owed_receipts().await,
                Err(error) => Err(error),
            };
            match ready {
                Ok(sent) => {
                    listening = true;
                    announce(ConnectionState::Online);
                    let mut happened = device.take_events();
                    happened.extend(sent);
                    tell(&mut device, happened, &events);
                    if !resumed {
                        resumed = true;
                        if let Err(error) = transfers.resume(&mut device).await {
                            tracing::warn!(%error, "transfers a stop left wait for now");
                        }
                    }
                    auto_download(&mut device).await;
                }
                Err(error) => announce(offline(error.to_string())),
            }
        }
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else { return };
                let mailboxes_changed = job.command.adds_mailboxes();
                // Transfers run beside the loop; everything else runs here, one at a time.
                let reply = match job.command {
                    Command::SendFile { contact, path, caption } => {
                        transfers.send_file(&mut device, contact, path, &caption).await
                    }
                    Command::Download { file, out } => {
                        transfers.download(&mut device, &file, out, &events).await
                    }
                    command => execute(&mut device, command, files_dir.as_deref()).await,
                };
                let _ = job.reply.send(reply);
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
                            Ok(happened) => {
                                tell(&mut device, happened, &events);
                                auto_download(&mut device).await;
                            }
                            Err(error) => {
                                announce(offline(error.to_string()));
                                // Try again shortly: what it left is owed, not lost.
                                listening = false;
                            }
                        }
                    }
                    Err(error) => announce(offline(error.to_string())),
                }
            }
            Some(note) = transfers.next() => {
                transfers.on_note(&mut device, note, &events).await;
            }
            _ = reread.tick() => {
                if follow_network_file(&mut device, &network_file) {
                    listening = false;
                }
                // Expired messages are never shown; this takes them off the disk too.
                if let Err(error) = device.forget_expired() {
                    tracing::warn!("disappearing messages stay for now: {error}");
                }
            }
            () = tokio::time::sleep(RETRY), if !listening => {}
            () = tokio::time::sleep(CONNECTION_CHECK), if listening => {
                if device.connected() {
                    announce(ConnectionState::Online);
                } else {
                    announce(offline("lost the connection to the network".into()));
                }
            }
        }
    }
}

/// Takes the network file's current content; whether the device now uses a new one. A file
/// that does not read or parse is reported and the device keeps the one it has.
fn follow_network_file(device: &mut Device, file: &Path) -> bool {
    let changed = read_network_file(file)
        .and_then(|directory| device.set_directory(directory).map_err(AppError::from));
    match changed {
        Ok(changed) => changed,
        Err(error) => {
            tracing::warn!("keeping the network file read before: {error}");
            false
        }
    }
}

/// Fetches the images and voice messages just offered that the person's settings allow.
/// While one is fetched the loop runs no command: they are small (8 MiB by default), and
/// what is not done in `AUTO_DOWNLOAD_TIME` stops where it got to, for `sotto download`.
async fn auto_download(device: &mut Device) {
    let fetched = match tokio::time::timeout(AUTO_DOWNLOAD_TIME, device.auto_download()).await {
        Ok(Ok(fetched)) => fetched,
        Ok(Err(error)) => {
            tracing::warn!(%error, "automatic downloads wait");
            return;
        }
        Err(_) => {
            tracing::warn!("an automatic download took too long; `sotto download` goes on with it");
            return;
        }
    };
    for (_, result) in fetched {
        // The error would name the file: the log says only that one stopped.
        if result.is_err() {
            tracing::warn!("an automatic download stopped; `sotto download` goes on with it");
        }
    }
}

/// Tells front ends what happened, and the new messages. Messages are handed out (and so
/// marked shown) only while some front end listens.
fn tell(
    device: &mut Device,
    happened: Vec<sotto_client::Event>,
    events: &broadcast::Sender<AppEvent>,
) {
    for event in happened {
        let _ = events.send(event.into());
    }
    if events.receiver_count() == 0 {
        return;
    }
    match device.records().take_unshown(None) {
        Ok(messages) => {
            for message in messages {
                let message = MessageView::from(message);
                let offer = message.file.is_some().then(|| message.clone());
                let _ = events.send(AppEvent::Message(message));
                if let Some(offer) = offer {
                    let _ = events.send(AppEvent::Offer(offer));
                }
            }
        }
        Err(error) => tracing::warn!(%error, "cannot read new messages from the store"),
    }
}
