//! One sotto per home at a time. Two processes on one store would each keep their own idea of
//! what was applied and acknowledged, subscribe the same mailboxes twice and race each other's
//! MLS state; so whoever opens a home takes an exclusive advisory lock on `HOME/lock` and holds
//! it until it is done. The lock is the kernel's (`flock`), so it goes with the process however
//! that ends: nothing stale is ever left to clean up.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::AppError;

/// The lock file's mode at creation. The umask can only take bits away, so it is owner-only
/// from the start; the store's open then keeps the whole home so (`sotto_client::open_store`).
const FILE_MODE: u32 = 0o600;

/// A home held by this process; dropping it lets the next one in.
#[derive(Debug)]
pub struct HomeLock {
    // Held for its lock alone: closing the file is what releases it.
    _file: File,
}

impl HomeLock {
    /// Takes the lock of the home whose lock file is `path`, creating the file if missing, or
    /// says which process holds it.
    pub(crate) fn take(path: &Path, home: &Path) -> Result<Self, AppError> {
        let failed = |source| AppError::Lock {
            path: path.to_path_buf(),
            source,
        };
        // Not truncated on open: while another holds the lock, its pid is in there.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(path)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(AppError::Busy {
                    home: home.to_path_buf(),
                    pid: holder(&mut file),
                })
            }
            Err(TryLockError::Error(source)) => return Err(failed(source)),
        }
        // The pid is for the message the next one gets; the lock itself is the kernel's.
        file.set_len(0).map_err(failed)?;
        file.rewind().map_err(failed)?;
        write!(file, "{}", std::process::id()).map_err(failed)?;
        Ok(Self { _file: file })
    }
}

/// The pid the holder wrote, if it has written it yet.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
