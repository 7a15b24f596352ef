//! Applying a device's pushes outside `serve`'s loop (the demo, `sotto bench chat`): one batch
//! at a time, noting when its texts landed, before the acknowledgements and receipts go out.

use std::time::Instant;

use anyhow::Context;
use sotto_client::store::StoredMessage;
use sotto_client::{Arrival, Arrivals, Device, Event};

/// What one batch of pushes brought.
pub struct Applied {
    pub events: Vec<Event>,
    /// New texts, taken from the store (so marked shown).
    pub texts: Vec<StoredMessage>,
    /// When they were applied: what a person would see, before the follow-ups.
    pub at: Instant,
}

/// Waits until `deadline` for pushes, applies them, then sends their follow-ups.
pub async fn apply_next(
    device: &mut Device,
    arrivals: &mut Arrivals,
    deadline: tokio::time::Instant,
) -> anyhow::Result<Applied> {
    let batch = tokio::time::timeout_at(deadline, arrivals.recv_all())
        .await
        .context("nothing arrived in time")?
        .context("the device stopped listening")?;
    apply(device, batch).await
}

/// Applies a batch of pushes, then sends their follow-ups. Not to be cancelled midway (the
/// follow-ups would be lost until the next renewal): wait for arrivals in a `select!`, and
/// apply them outside it.
pub async fn apply(device: &mut Device, batch: Vec<Arrival>) -> anyhow::Result<Applied> {
    let (mut events, follow_up) = device.apply_arrivals(batch)?;
    let at = Instant::now();
    let texts = device.records().take_unshown(None)?;
    events.extend(device.follow_up(follow_up).await?);
    Ok(Applied { events, texts, at })
}
