//! What the simulated network does to frames, one direction at a time: loses, duplicates,
//! delays and reorders them, as the network's seeded generator draws.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::sync::watch;

/// A held frame that nothing overtakes goes on after this long.
const HOLD_AT_MOST: Duration = Duration::from_secs(2);

/// The faults of one direction (requests, answers or pushes), each a chance per frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct Direction {
    /// Lost on the way.
    pub loss: f64,
    /// Arrives twice.
    pub duplicate: f64,
    /// Held back until a frame sent after it on the same link has arrived.
    pub reorder: f64,
    /// Each copy waits a random time up to this: frames close together swap places.
    pub delay: Duration,
}

/// Faults per direction. A lost answer is the hard case for a host: the request ran, the
/// client sends the very frame again, and the host must answer it from its replay memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub requests: Direction,
    pub answers: Direction,
    pub pushes: Direction,
}

/// How one copy of a frame travels.
#[derive(Debug, Clone, Copy)]
pub struct Fate {
    delay: Duration,
    /// Drawn to be overtaken (the lane decides whether it can be).
    reorder: bool,
}

impl Direction {
    /// The copies of one frame that arrive: none if it is lost, two if it is duplicated.
    pub fn draw(&self, rng: &mut impl Rng) -> Vec<Fate> {
        if rng.gen_bool(self.loss) {
            return Vec::new();
        }
        let copies = if rng.gen_bool(self.duplicate) { 2 } else { 1 };
        (0..copies)
            .map(|_| Fate {
                delay: self.delay.mul_f64(rng.gen()),
                reorder: rng.gen_bool(self.reorder),
            })
            .collect()
    }
}

/// One direction of one link. It numbers the frames sent on it, so that a held frame waits
/// for a later one to arrive first; one frame is held at a time, so the later one overtakes
/// instead of being held as well.
pub struct Lane {
    sent: AtomicU64,
    /// The highest number that arrived.
    arrived: watch::Sender<u64>,
    holding: Mutex<bool>,
}

impl Default for Lane {
    fn default() -> Self {
        Self {
            sent: AtomicU64::new(0),
            arrived: watch::Sender::new(0),
            holding: Mutex::new(false),
        }
    }
}

impl Lane {
    /// Sends `frame` as its fates say; `deliver` runs once per copy that arrives.
    pub fn carry(
        self: &Arc<Self>,
        fates: Vec<Fate>,
        frame: Vec<u8>,
        deliver: impl Fn(Vec<u8>) + Send + Sync + 'static,
    ) {
        let number = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        let deliver = Arc::new(deliver);
        for fate in fates {
            let held = fate.reorder && !std::mem::replace(&mut *self.holding(), true);
            let (lane, frame, deliver) = (self.clone(), frame.clone(), deliver.clone());
            tokio::spawn(async move {
                if !fate.delay.is_zero() {
                    tokio::time::sleep(fate.delay).await;
                }
                if held {
                    let mut arrived = lane.arrived.subscribe();
                    let overtaken = arrived.wait_for(|last| *last > number);
                    let _ = tokio::time::timeout(HOLD_AT_MOST, overtaken).await;
                    *lane.holding() = false;
                }
                deliver(frame);
                lane.arrived.send_modify(|last| *last = (*last).max(number));
            });
        }
    }

    fn holding(&self) -> std::sync::MutexGuard<'_, bool> {
        self.holding.lock().unwrap_or_else(|e| e.into_inner())
    }
}
