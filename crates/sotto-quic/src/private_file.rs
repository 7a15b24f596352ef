//! Files only their owner may read (keys, tokens), written so that a crash leaves the old file
//! or the new one, never a torn one under the final name.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Appended to a file's name while [`write_private`] replaces it. A file so named was never
/// finished: whoever owns the directory may delete it.
pub const UNFINISHED_SUFFIX: &str = ".tmp";

/// Whether [`write_private`] may replace a file already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Fail if the file exists: for keys, which are never overwritten.
    New,
    /// Write beside the file and rename over it, so readers and a restart after a crash see
    /// the old content or the new, whole.
    Replace,
}

/// Writes `bytes` to `path`, readable and writable by the owner only (mode 0600 on Unix,
/// whatever the umask), and durable (file and directory fsynced) when it returns.
pub fn write_private(path: &Path, bytes: &[u8], placement: Placement) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match placement {
        Placement::New => write_new(path, bytes)?,
        Placement::Replace => {
            let unfinished = unfinished_path(path);
            // A leftover of a crash would make `create_new` fail; it holds nothing anyone used.
            match std::fs::remove_file(&unfinished) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
            write_new(&unfinished, bytes)?;
            std::fs::rename(&unfinished, path)?;
        }
    }
    sync_dir(dir)
}

/// Makes `path` owner-only (0600 on Unix), creating it empty if it is missing: for files
/// another library writes (a database, an append-only log) that must never be readable by
/// others, even for the moment between their creation and a `chmod`.
pub fn restrict_to_owner(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Makes a rename, deletion or new file name in `dir` durable. Only Unix can open a directory
/// to fsync it.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn unfinished_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(UNFINISHED_SUFFIX);
    PathBuf::from(name)
}

/// Creates `path` (failing if it exists), owner-only before any byte is in it, and writes and
/// fsyncs `bytes`.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    // The mode above is masked by the umask, which can only take permissions away; setting it
    // again on the open file makes it exactly 0600.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests;
