//! What a relay saw, for the tests that check who learns what and what the wire carries. Only
//! in builds with the `view-log` feature, which exists for those tests: it writes peer
//! addresses and mailbox ids to `DIR/view.log` and every stream's bytes to `DIR/wire.cap`,
//! exactly what a production relay must never keep. Without the feature every call compiles
//! to nothing.

#[cfg(feature = "view-log")]
pub(crate) struct View {
    log: std::sync::Mutex<std::fs::File>,
    wire: std::sync::Mutex<std::fs::File>,
}

#[cfg(not(feature = "view-log"))]
pub(crate) struct View;

impl View {
    #[cfg(feature = "view-log")]
    pub(crate) fn open(data_dir: &std::path::Path) -> Self {
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(data_dir.join(name))
                .expect("the view files of a view-log build")
        };
        Self {
            log: std::sync::Mutex::new(open("view.log")),
            wire: std::sync::Mutex::new(open("wire.cap")),
        }
    }

    #[cfg(not(feature = "view-log"))]
    pub(crate) fn open(_data_dir: &std::path::Path) -> Self {
        Self
    }

    /// Records one line, built only when recording.
    #[cfg(feature = "view-log")]
    pub(crate) fn saw(&self, line: impl FnOnce() -> String) {
        use std::io::Write;
        if let Ok(mut file) = self.log.lock() {
            let _ = writeln!(file, "{}", line());
        }
    }

    #[cfg(not(feature = "view-log"))]
    pub(crate) fn saw(&self, _line: impl FnOnce() -> String) {}

    /// Records one stream's bytes as they crossed the wire: `direction` (`b'i'` in, `b'o'`
    /// out), a u32 big-endian length, the bytes.
    #[cfg(feature = "view-log")]
    pub(crate) fn wire(&self, direction: u8, bytes: &[u8]) {
        use std::io::Write;
        if let Ok(mut file) = self.wire.lock() {
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            let _ = file.write_all(&[direction]);
            let _ = file.write_all(&len.to_be_bytes());
            let _ = file.write_all(bytes);
        }
    }

    #[cfg(not(feature = "view-log"))]
    pub(crate) fn wire(&self, _direction: u8, _bytes: &[u8]) {}
}
