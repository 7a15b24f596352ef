//! What a relay saw, for the test that checks who learns what. Only in builds with the
//! `view-log` feature, which exists for that test: it writes peer addresses and mailbox ids to
//! `DIR/view.log`, exactly what a production relay must never keep. Without the feature every
//! call compiles to nothing.

#[cfg(feature = "view-log")]
pub(crate) struct View(std::sync::Mutex<std::fs::File>);

#[cfg(not(feature = "view-log"))]
pub(crate) struct View;

impl View {
    #[cfg(feature = "view-log")]
    pub(crate) fn open(data_dir: &std::path::Path) -> Self {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("view.log"))
            .expect("the view log of a view-log build");
        Self(std::sync::Mutex::new(file))
    }

    #[cfg(not(feature = "view-log"))]
    pub(crate) fn open(_data_dir: &std::path::Path) -> Self {
        Self
    }

    /// Records one line, built only when recording.
    #[cfg(feature = "view-log")]
    pub(crate) fn saw(&self, line: impl FnOnce() -> String) {
        use std::io::Write;
        if let Ok(mut file) = self.0.lock() {
            let _ = writeln!(file, "{}", line());
        }
    }

    #[cfg(not(feature = "view-log"))]
    pub(crate) fn saw(&self, _line: impl FnOnce() -> String) {}
}
