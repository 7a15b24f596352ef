//! Who gets pushes for which reader, kept by the host thread. Bounded in all (a subscribe past
//! the bound is answered BUSY), and every way a subscription ends removes it: its connection
//! closing, its reader or mailbox going, or its onion reader's reply blocks running out.

use std::collections::{HashMap, HashSet};

use sotto_proto::Id;

use crate::actor::PushSink;

#[derive(Default)]
pub(crate) struct Subscriptions {
    by_reader: HashMap<Id, Vec<PushSink>>,
    /// The readers each sink is subscribed for, so a closing connection costs its own count.
    by_sink: HashMap<u64, HashSet<Id>>,
    count: usize,
}

/// What [`Subscriptions::add`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Added {
    New,
    Already,
    Full,
}

impl Subscriptions {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn contains(&self, read_id: &Id) -> bool {
        self.by_reader.contains_key(read_id)
    }

    /// Subscribes `sink` to `read_id`, unless that would make more than `max` subscriptions.
    pub fn add(&mut self, read_id: Id, sink: &PushSink, max: u64) -> Added {
        if self
            .by_sink
            .get(&sink.id)
            .is_some_and(|r| r.contains(&read_id))
        {
            return Added::Already;
        }
        if self.count as u64 >= max {
            return Added::Full;
        }
        self.by_reader
            .entry(read_id)
            .or_default()
            .push(sink.clone());
        self.by_sink.entry(sink.id).or_default().insert(read_id);
        self.count += 1;
        Added::New
    }

    /// Ends the subscription of sink `sink_id` to `read_id`.
    pub fn remove(&mut self, read_id: &Id, sink_id: u64) {
        let Some(sinks) = self.by_reader.get_mut(read_id) else {
            return;
        };
        let before = sinks.len();
        sinks.retain(|s| s.id != sink_id);
        self.count -= before - sinks.len();
        if sinks.is_empty() {
            self.by_reader.remove(read_id);
        }
        if let Some(readers) = self.by_sink.get_mut(&sink_id) {
            readers.remove(read_id);
            if readers.is_empty() {
                self.by_sink.remove(&sink_id);
            }
        }
    }

    /// Ends every subscription of a reader that no longer exists.
    pub fn forget_reader(&mut self, read_id: &Id) {
        let sink_ids: Vec<u64> = self
            .by_reader
            .get(read_id)
            .map(|sinks| sinks.iter().map(|s| s.id).collect())
            .unwrap_or_default();
        for sink_id in sink_ids {
            self.remove(read_id, sink_id);
        }
    }

    /// Ends every subscription of a connection that closed.
    pub fn forget_sink(&mut self, sink_id: u64) {
        for read_id in self.by_sink.remove(&sink_id).unwrap_or_default() {
            if let Some(sinks) = self.by_reader.get_mut(&read_id) {
                sinks.retain(|s| s.id != sink_id);
                self.count -= 1;
                if sinks.is_empty() {
                    self.by_reader.remove(&read_id);
                }
            }
        }
    }

    /// Queues `frame` for every sink subscribed to `read_id`; sinks that are gone or fell
    /// behind are unsubscribed.
    pub fn push(&mut self, read_id: &Id, frame: &[u8]) {
        let Some(sinks) = self.by_reader.get(read_id) else {
            return;
        };
        let failed: Vec<u64> = sinks
            .iter()
            .filter(|sink| !sink.push(frame.to_vec()))
            .map(|sink| sink.id)
            .collect();
        for sink_id in failed {
            self.remove(read_id, sink_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::*;

    fn sink(id: u64) -> (PushSink, mpsc::Receiver<Vec<u8>>) {
        let (frames, queue) = mpsc::channel(4);
        (
            PushSink {
                id,
                connection: None,
                frames,
            },
            queue,
        )
    }

    #[test]
    fn subscriptions_are_bounded_and_every_ending_removes_them() {
        let mut subscriptions = Subscriptions::default();
        let (one, mut one_queue) = sink(1);
        let (two, _two_queue) = sink(2);
        let readers: Vec<Id> = (0..3).map(|n| Id::from_bytes([n; Id::LEN])).collect();
        assert_eq!(subscriptions.add(readers[0], &one, 3), Added::New);
        assert_eq!(subscriptions.add(readers[0], &one, 3), Added::Already);
        assert_eq!(subscriptions.add(readers[1], &one, 3), Added::New);
        assert_eq!(subscriptions.add(readers[0], &two, 3), Added::New);
        assert_eq!(subscriptions.add(readers[2], &two, 3), Added::Full);
        assert_eq!(subscriptions.len(), 3);

        subscriptions.push(&readers[0], b"push");
        assert_eq!(one_queue.try_recv().unwrap(), b"push");

        subscriptions.forget_reader(&readers[0]);
        assert_eq!(subscriptions.len(), 1, "both sinks of the reader went");
        subscriptions.forget_sink(1);
        assert_eq!(subscriptions.len(), 0);
        assert!(subscriptions.by_reader.is_empty() && subscriptions.by_sink.is_empty());

        let (gone, queue) = sink(3);
        drop(queue);
        subscriptions.add(readers[2], &gone, 3);
        subscriptions.push(&readers[2], b"push");
        assert_eq!(subscriptions.len(), 0, "a closed sink is unsubscribed");
    }
}
