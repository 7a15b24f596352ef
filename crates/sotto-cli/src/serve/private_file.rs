//! Writing a secret file so that a crash or power cut leaves either the old file or the whole
//! new one, never an empty or half-written one, readable by this user only.
// A shared owner-only file writer is being added in its own crate; this one goes when it lands.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Writes `contents` to `path`: a new file (mode 0600) beside it, flushed to disk, renamed over
/// `path`, and the directory flushed so the rename itself survives.
pub fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a path without a file name"))?
        .to_owned();
    name.push(".new");
    let fresh = directory.join(name);
    // A leftover of a write a crash cut short holds nothing anyone relies on.
    match fs::remove_file(&fresh) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&fresh)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&fresh, path)?;
    #[cfg(unix)]
    File::open(directory)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_for_its_owner_only() {
        let directory =
            std::env::temp_dir().join(format!("sotto-private-{:016x}", rand::random::<u64>()));
        fs::create_dir_all(&directory).unwrap();
        let path = directory.join("secret");
        fs::write(&path, b"old").unwrap();
        fs::write(directory.join("secret.new"), b"half").unwrap();
        write(&path, b"new secret").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new secret");
        assert!(!directory.join("secret.new").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(&directory).unwrap();
    }
}
