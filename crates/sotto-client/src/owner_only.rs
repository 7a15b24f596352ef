//! Files and directories that only their owner may read. A device's home holds its messages,
//! names and keys; other users of the machine have no business with any of it. Modes are set
//! explicitly, so neither the umask nor an older sotto's modes decide.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

const FILE_MODE: u32 = 0o600;
const DIRECTORY_MODE: u32 = 0o700;

/// Creates `dir` if needed and makes it, and every file and directory directly in it, its
/// owner's only. A home is flat, so nothing deeper is looked at; symbolic links are left alone
/// (changing a link's mode would change its target's).
pub(crate) fn directory(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIRECTORY_MODE)
        .create(dir)?;
    fs::set_permissions(dir, Permissions::from_mode(DIRECTORY_MODE))?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let mode = if kind.is_file() {
            FILE_MODE
        } else if kind.is_dir() {
            DIRECTORY_MODE
        } else {
            continue;
        };
        fs::set_permissions(entry.path(), Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Opens `path` for writing, creating it if missing; either way it ends up its owner's only.
/// SQLite gives a database's `-wal`, `-shm` and `-journal` files the database file's mode, so
/// a store created through this keeps its side files private too.
pub(crate) fn file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}
