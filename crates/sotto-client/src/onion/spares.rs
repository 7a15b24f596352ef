//! Request headers and reply blocks made ahead of time, while the client waits: their key
//! agreements are most of a request's work on the client and do not depend on what it carries.

use std::sync::{Arc, Mutex as SyncMutex};

use sotto_onion::directory::Path;
use sotto_onion::packet::{new_reply_block, ReplyBlock, ReplyKey, RequestHeader};
use sotto_proto::Fingerprint;
use sotto_quic::unix_now;
use tokio::sync::Notify;

use super::{Ends, MIXES};
use crate::push_blocks::FULL_SET;

/// Reply blocks kept ready: enough for a request with a full set of push blocks, and the next.
const SPARE_BLOCKS: usize = 2 * (1 + FULL_SET);
/// Request headers kept ready: the next request's, and a resend's.
const SPARE_HEADERS: usize = 2;

/// Something made for a path of one epoch.
pub(super) struct Spare<T> {
    epoch: u64,
    path: Path,
    made: T,
}

/// A transport's spares of both kinds, newest last.
#[derive(Default)]
pub(super) struct Spares {
    pub(super) headers: Vec<Spare<RequestHeader>>,
    pub(super) blocks: Vec<Spare<(ReplyBlock, ReplyKey)>>,
}

enum Made {
    Header(Spare<RequestHeader>),
    Block(Spare<(ReplyBlock, ReplyKey)>),
}

/// Takes the newest spare of `epoch` unless its path passes a suspect (then it is dropped).
pub(super) fn take_spare<T>(
    spares: &mut Vec<Spare<T>>,
    epoch: u64,
    suspects: &[Fingerprint],
) -> Option<(Path, T)> {
    spares.retain(|spare| spare.epoch == epoch);
    let spare = spares.pop()?;
    let suspect = spare
        .path
        .mixes()
        .iter()
        .any(|hop| suspects.contains(hop.fingerprint()));
    (!suspect).then_some((spare.path, spare.made))
}

impl Ends {
    /// A random path of `epoch` from `from` to `to`, and what `make` builds on it.
    fn spare<T>(
        &self,
        epoch: u64,
        (from, to): (&Fingerprint, &Fingerprint),
        make: impl FnOnce(&Path) -> Option<T>,
    ) -> Option<Spare<T>> {
        let mut rng = rand::thread_rng();
        let path = self
            .directory
            .choose_path_at(epoch, from, to, MIXES, &mut rng)
            .ok()?;
        let made = make(&path)?;
        Some(Spare { epoch, path, made })
    }

    fn header(&self, epoch: u64) -> Option<Spare<RequestHeader>> {
        self.spare(epoch, (&self.gateway, &self.host), |path| {
            RequestHeader::new(&path.route(), *self.host.as_bytes()).ok()
        })
    }

    fn block(&self, epoch: u64) -> Option<Spare<(ReplyBlock, ReplyKey)>> {
        self.spare(epoch, (&self.host, &self.gateway), |path| {
            new_reply_block(&path.route(), self.address).ok()
        })
    }
}

/// Keeps [`SPARE_HEADERS`] request headers and [`SPARE_BLOCKS`] reply blocks ready for the
/// current epoch, working only when asked.
pub(super) async fn make_spares(
    ends: Ends,
    spares: std::sync::Weak<SyncMutex<Spares>>,
    refill: Arc<Notify>,
) {
    loop {
        refill.notified().await;
        loop {
            let Some(spares) = spares.upgrade() else {
                return;
            };
            let epoch = ends.directory.current_epoch(unix_now());
            let (headers, blocks) = {
                let spares = spares.lock().unwrap_or_else(|e| e.into_inner());
                (spares.headers.len(), spares.blocks.len())
            };
            if headers >= SPARE_HEADERS && blocks >= SPARE_BLOCKS {
                break;
            }
            let ends = ends.clone();
            let made = tokio::task::spawn_blocking(move || {
                if headers < SPARE_HEADERS {
                    ends.header(epoch).map(Made::Header)
                } else {
                    ends.block(epoch).map(Made::Block)
                }
            })
            .await;
            let mut spares = spares.lock().unwrap_or_else(|e| e.into_inner());
            match made {
                Ok(Some(Made::Header(spare))) => spares.headers.push(spare),
                Ok(Some(Made::Block(spare))) => spares.blocks.push(spare),
                _ => break,
            }
        }
    }
}
