/// A fresh directory under the system temp dir for a test, removed when dropped (also when the
/// test fails, so failed runs leave nothing behind).
pub(crate) struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(label: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("sotto-{label}-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&path).expect("creating a test directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
