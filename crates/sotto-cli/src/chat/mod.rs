//! `sotto chat`: a full-screen terminal chat on the device, pushed messages appearing as they
//! arrive. The device runs in its loop (`sotto_app`); this module is the terminal around
//! [`app::App`] and [`view::draw`].

pub mod app;
mod group;
mod scroll;
pub mod view;

use std::time::Duration;

use clap::Args;
use ratatui::crossterm::event::{self, Event as TerminalEvent, KeyEventKind};
use tokio::sync::{broadcast, mpsc};

use crate::person::ClientArgs;

#[derive(Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: ChatArgs) -> anyhow::Result<()> {
    let mut device = args.client.app()?;
    // `/download N` without a path writes there.
    if let Some(files) = sotto_app::default_files_dir() {
        device.set_files_dir(files);
    }
    let (device, mut events) = device.start();
    let mut app = app::App::new(device).await;
    // Keys are read on a thread of their own: reading the terminal blocks.
    let (keys_in, mut keys) = mpsc::unbounded_channel();
    std::thread::spawn(move || loop {
        match event::poll(Duration::from_millis(200)) {
            Ok(true) => match event::read() {
                Ok(TerminalEvent::Key(key)) if key.kind == KeyEventKind::Press => {
                    if keys_in.send(key).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            },
            Ok(false) if keys_in.is_closed() => return,
            Ok(false) => {}
            Err(_) => return,
        }
    });
    let mut terminal = ratatui::init();
    let outcome = async {
        while !app.quit {
            terminal.draw(|frame| view::draw(frame, &mut app))?;
            tokio::select! {
                Some(key) = keys.recv() => app.on_key(key).await,
                event = events.recv() => match event {
                    Ok(event) => app.on_event(event).await,
                    Err(broadcast::error::RecvError::Lagged(_)) => app.refresh().await,
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        anyhow::Ok(())
    }
    .await;
    ratatui::restore();
    outcome
}

#[cfg(test)]
mod tests;
