//! A relay in a network publishes its descriptor, `DIR/descriptor.toml`: its address and its
//! onion keys for this epoch and the next, signed with its identity key, rewritten whenever an
//! epoch begins. The network's
//! authority reads these to assemble the network file (`sotto network assemble`); clients
//! never read a relay's directory.

use std::path::Path;
use std::sync::atomic::Ordering;

use sotto_onion::directory::Descriptor;
use sotto_proto::RelayAddress;
use sotto_quic::unix_now;

use super::OnionNode;

/// The descriptor's file name in a relay's data directory.
pub const DESCRIPTOR_FILE: &str = "descriptor.toml";

/// Epoch value meaning "nothing published yet".
pub(super) const UNPUBLISHED: u64 = u64::MAX;

/// Writes `text` to `file` in one step (a temporary file, fsynced, renamed over it, the
/// directory fsynced), so a reader never sees half of it, and after a crash the file holds
/// the old text or the new, never an empty file under the final name. It stays readable by
/// others: network files and descriptors are public.
pub fn replace_file(file: &Path, text: &str) -> std::io::Result<()> {
    let partial = file.with_extension("toml.tmp");
    let mut written = std::fs::File::create(&partial)?;
    std::io::Write::write_all(&mut written, text.as_bytes())?;
    written.sync_all()?;
    std::fs::rename(&partial, file)?;
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sotto_quic::sync_dir(dir),
        _ => sotto_quic::sync_dir(Path::new(".")),
    }
}

impl OnionNode {
    /// Rewrites the descriptor if this epoch's is not out yet. Called every second by the
    /// maintenance task, after any key rotation.
    pub(crate) fn publish_descriptor(&self, address: &RelayAddress) {
        let now = unix_now();
        let epoch = self.directory.current_epoch(now);
        if self.published_epoch.load(Ordering::Relaxed) == epoch {
            return;
        }
        // Until the relay has rotated into the new epoch, the next tick tries again.
        let Some((onion_key, next_onion_key)) = self.published_keys(now) else {
            return;
        };
        let entry = Descriptor {
            address: address.clone(),
            onion_key,
            next_onion_key,
        };
        let written = entry
            .to_signed_toml(self.directory.epoch_secs(), &self.identity)
            .map_err(|e| e.to_string())
            .and_then(|text| replace_file(&self.descriptor, &text).map_err(|e| e.to_string()));
        match written {
            Ok(()) => self.published_epoch.store(epoch, Ordering::Relaxed),
            Err(error) => tracing::warn!(%error, "writing the relay descriptor failed"),
        }
    }
}
