//! The test harness around a relay's onion driver ([`crate::onion::hooks::Hooks`]): records
//! what the relay saw (`view-log` feature) and drops, duplicates and delays what it forwards
//! (`faults` feature, as `SOTTO_FAULTS` asks). Both exist for the tests that check who learns
//! what and that try to break the network; a build without the features has no harness, so
//! nothing a serving relay runs can record addresses next to mailboxes.

mod faults;
mod view;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use sotto_onion::packet::NodeId;
use sotto_proto::batch::{open_requests, Requests};

use crate::onion::core::Action;
use crate::onion::hooks::{Fate, Hooks};
use crate::onion::Role;

/// The harness of a build with a test-only feature, recording into `data_dir`; `None` in a
/// build for serving.
pub fn for_this_build(data_dir: &Path) -> Option<Arc<dyn Hooks>> {
    if !cfg!(any(feature = "view-log", feature = "faults")) {
        return None;
    }
    Some(Arc::new(Harness {
        view: view::View::open(data_dir),
        faults: faults::Faults::from_env(),
    }))
}

struct Harness {
    view: view::View,
    faults: faults::Faults,
}

impl Hooks for Harness {
    fn handled(&self, remote: SocketAddr, bytes: &[u8], action: &Action<quinn::Connection>) {
        self.view.wire(b'i', bytes);
        match action {
            Action::Forward {
                role: Role::Gateway,
                ..
            }
            | Action::Registered => self.view.saw(|| format!("client {remote}")),
            Action::Forward { .. } | Action::Deliver { .. } => {
                self.view.saw(|| format!("from {remote}"))
            }
            Action::Execute(execution) => {
                self.view.saw(|| format!("from {remote}"));
                let targets = match open_requests(&execution.frame) {
                    Ok(Requests::One(signed)) => vec![signed.request.target],
                    Ok(Requests::Batch(requests)) => {
                        requests.iter().map(|s| s.request.target).collect()
                    }
                    Err(_) => Vec::new(),
                };
                for target in targets {
                    self.view.saw(|| format!("mailbox {}", target.to_hex()));
                }
            }
            Action::Drop(_) => {}
        }
    }

    fn forwarding(&self, next: &NodeId) -> Fate {
        self.view.saw(|| format!("to {}", hex::encode(next)));
        self.faults.fate()
    }

    fn sent(&self, bytes: &[u8]) {
        self.view.wire(b'o', bytes);
    }
}
