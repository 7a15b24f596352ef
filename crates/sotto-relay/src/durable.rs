//! Making file-system changes survive a crash.

use std::path::Path;

/// Makes a rename, deletion or new file name in `dir` durable. Only Unix can open a directory
/// to fsync it.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A fresh directory under the system temp dir for a test, removed when dropped (also when the
/// test fails, so failed runs leave nothing behind).
#[cfg(test)]
pub(crate) struct TempDir(pub std::path::PathBuf);

#[cfg(test)]
impl TempDir {
    pub(crate) fn new(label: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("sotto-{label}-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&path).expect("creating a test directory");
        Self(path)
    }
}

#[cfg(test)]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
