//! A person's device, opened for this process: the home locked, the network file read. A
//! one-shot command calls it directly; a long-lived front end starts its loop and talks to it
//! through an [`AppHandle`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use sotto_client::{ConversationError, Device, Unlock};
use tokio::sync::broadcast;

use crate::command::{Command, Reply};
use crate::error::AppError;
use crate::event::{app_events, AppEvent};
use crate::execute::{execute, known};
use crate::handle::AppHandle;
use crate::home::Home;
use crate::lock::HomeLock;
use crate::network_file::read_network_file;

pub struct App {
    pub(crate) device: Device,
    /// Read again while the loop runs: the network rewrites it as relays rotate their keys.
    pub(crate) network_file: PathBuf,
    home: Home,
    pub(crate) lock: HomeLock,
    /// Where files fetched without a path given go (see [`App::set_files_dir`]).
    pub(crate) files_dir: Option<PathBuf>,
}

impl App {
    /// Opens the device in `home` (made by `init`), holding the home until the `App`, or the
    /// loop it was started as, ends. `network` is the network file, if given this time; it is
    /// then remembered, else the remembered one is used.
    pub fn open(home: Home, unlock: &Unlock, network: Option<&Path>) -> Result<Self, AppError> {
        if !home.is_initialized() {
            return Err(ConversationError::NotInitialized.into());
        }
        let lock = home.lock()?;
        let network_file = home.network_file(network)?;
        let directory = read_network_file(&network_file)?;
        let device = Device::open(home.dir(), unlock, directory)?;
        Ok(Self {
            device,
            network_file,
            home,
            lock,
            files_dir: None,
        })
    }

    /// Where files fetched without a path (`Command::Download` with no `out`) are written, each
    /// in a directory of its own named by its id. Files there are in clear, as anywhere a
    /// person saves a file: keep it out of the home, which holds only encrypted state.
    pub fn set_files_dir(&mut self, dir: PathBuf) {
        self.files_dir = Some(dir);
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Runs one command; for one-shot commands (a long-lived front end calls its handle).
    pub async fn call(&mut self, command: Command) -> Result<Reply, AppError> {
        execute(&mut self.device, command, self.files_dir.as_deref()).await
    }

    /// Fetches what waits in every mailbox and applies it: answers to links become contacts,
    /// messages are stored (and come with `Command::Read`).
    pub async fn catch_up(&mut self) -> Result<Vec<AppEvent>, AppError> {
        Ok(app_events(self.device.sync().await?))
    }

    /// Waits up to `timeout` for pushes and applies what came; what happened besides new
    /// messages.
    pub async fn wait(&mut self, timeout: Duration) -> Result<Vec<AppEvent>, AppError> {
        self.device.wait(timeout).await?;
        Ok(app_events(self.device.take_events()))
    }

    /// Refuses a contact this device does not have.
    pub fn check_contact(&self, contact: &str) -> Result<(), AppError> {
        known(self.device.records(), contact)
    }

    /// Starts the device's long-lived loop (see `device_loop`). The receiver is subscribed
    /// before the loop runs, so it hears from the first announcement on; while no receiver
    /// exists, new messages stay unshown for the next `Command::Read`.
    pub fn start(self) -> (AppHandle, broadcast::Receiver<AppEvent>) {
        AppHandle::start(self)
    }
}
