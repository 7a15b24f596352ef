//! How front ends reach a running device: commands in, one at a time, and a stream of events.

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::app::App;
use crate::command::{Command, Reply};
use crate::device_loop::{self, Job};
use crate::error::AppError;
use crate::event::AppEvent;

/// Commands waiting for the device; a front end that sends more waits for room.
const JOBS: usize = 64;
/// Events a receiver may fall behind by before it hears it lagged (and should reload).
const EVENTS: usize = 1024;

/// Cheap to clone; the loop ends when the last handle is dropped.
#[derive(Clone)]
pub struct AppHandle {
    jobs: mpsc::Sender<Job>,
    // Weak, so receivers see the channel close when the loop ends rather than wait forever.
    events: broadcast::WeakSender<AppEvent>,
}

impl AppHandle {
    pub(crate) fn start(app: App) -> (Self, broadcast::Receiver<AppEvent>) {
        let (jobs, jobs_out) = mpsc::channel(JOBS);
        let (events, first) = broadcast::channel(EVENTS);
        let handle = Self {
            jobs,
            events: events.downgrade(),
        };
        tokio::spawn(device_loop::run(app, jobs_out, events));
        (handle, first)
    }

    /// A handle on no device: every call fails with [`AppError::Stopped`] and no event comes.
    /// For front ends' tests of what needs no device (drawing, scrolling).
    pub fn stopped() -> Self {
        let (jobs, _) = mpsc::channel(1);
        let (events, _) = broadcast::channel(1);
        Self {
            jobs,
            events: events.downgrade(),
        }
    }

    /// Runs `command` after those sent before it.
    pub async fn call(&self, command: Command) -> Result<Reply, AppError> {
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Job { command, reply })
            .await
            .map_err(|_| AppError::Stopped)?;
        result.await.unwrap_or(Err(AppError::Stopped))
    }

    /// Events from now on. Once the loop has ended, the receiver reports the channel closed.
    pub fn events(&self) -> broadcast::Receiver<AppEvent> {
        match self.events.upgrade() {
            Some(events) => events.subscribe(),
            None => broadcast::channel(1).1,
        }
    }
}
