//! Hands out each subscribed mailbox's messages once and in sequence order, whatever order
//! pushes arrive in. Pushes travel on independent reply-block paths, so they overtake each
//! other and some are lost; a message must not be skipped because a later one came first
//! (acknowledging the later one would delete it at the host). A push that leaves a gap makes
//! the client fetch what waits, and the gap is filled from there.

use std::collections::{BTreeMap, HashMap};

use sotto_proto::{Id, Message, Push};

/// What to do with a pushed message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// The next message in order: hand it out.
    Next(Push),
    /// Already handed out (a push racing a fetch, or a duplicate).
    Seen,
    /// Messages before it are missing: fetch the mailbox (it holds this message too, as it is
    /// not acknowledged yet) and pass what it holds to [`Inbox::fetched`].
    Gap,
}

#[derive(Default)]
pub(crate) struct Inbox {
    /// Highest sequence number handed out, per read id; 0 before the first.
    delivered: HashMap<Id, u64>,
    /// Messages received but not yet handed out, in order per read id.
    ready: BTreeMap<(Id, u64), Message>,
}

impl Inbox {
    fn delivered(&self, read_id: &Id) -> u64 {
        self.delivered.get(read_id).copied().unwrap_or(0)
    }

    /// Marks `messages` (a subscription's first answer) handed out.
    pub(crate) fn handed_out(&mut self, read_id: Id, messages: &[Message]) {
        let last = messages.iter().map(|m| m.seq).max().unwrap_or(0);
        let delivered = self.delivered.entry(read_id).or_insert(0);
        *delivered = (*delivered).max(last);
    }

    pub(crate) fn pushed(&mut self, push: Push) -> Arrival {
        let delivered = self.delivered(&push.read_id);
        let seq = push.message.seq;
        if seq <= delivered {
            Arrival::Seen
        } else if seq == delivered + 1 && !self.has_ready() {
            self.delivered.insert(push.read_id, seq);
            Arrival::Next(push)
        } else {
            Arrival::Gap
        }
    }

    /// Takes in what a fetch or a renewed subscription found waiting. After it, what is ready
    /// is handed out in order even across a gap: the host no longer has what is missing.
    pub(crate) fn fetched(&mut self, read_id: Id, messages: Vec<Message>) {
        let delivered = self.delivered(&read_id);
        for message in messages.into_iter().filter(|m| m.seq > delivered) {
            self.ready.insert((read_id, message.seq), message);
        }
    }

    /// The next message to hand out, if one is ready.
    pub(crate) fn pop(&mut self) -> Option<Push> {
        while let Some(((read_id, seq), message)) = self.ready.pop_first() {
            if seq > self.delivered(&read_id) {
                self.delivered.insert(read_id, seq);
                return Some(Push { read_id, message });
            }
        }
        None
    }

    /// Whether something fetched is waiting to be handed out.
    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message(seq: u64) -> Message {
        Message {
            seq,
            written_at: 0,
            body: seq.to_be_bytes().to_vec(),
        }
    }

    fn push(seq: u64) -> Push {
        Push {
            read_id: Id::from_bytes([7; Id::LEN]),
            message: message(seq),
        }
    }

    /// The mailbox side of the model: every message after the last acknowledged one waits.
    fn fetch(all: u64, acked: u64) -> Vec<Message> {
        (acked + 1..=all).map(message).collect()
    }

    fn drain(inbox: &mut Inbox, out: &mut Vec<u64>) {
        while let Some(push) = inbox.pop() {
            out.push(push.message.seq);
        }
    }

    #[test]
    fn a_push_that_overtakes_another_waits_for_the_fetch() {
        let mut inbox = Inbox::default();
        let id = push(1).read_id;
        inbox.handed_out(id, &[message(1)]);
        assert_eq!(inbox.pushed(push(3)), Arrival::Gap);
        assert!(
            inbox.pop().is_none(),
            "nothing is handed out across a gap before a fetch"
        );
        inbox.fetched(id, fetch(3, 1));
        let mut out = Vec::new();
        drain(&mut inbox, &mut out);
        assert_eq!(out, [2, 3]);
        assert_eq!(inbox.pushed(push(2)), Arrival::Seen);
        assert_eq!(inbox.pushed(push(4)), Arrival::Next(push(4)));
    }

    proptest! {
        /// Pushes in any order, some lost: what comes out is strictly in order at every
        /// moment, and after a final renewal it is every message exactly once.
        #[test]
        fn in_order_once_whatever_the_pushes_do(
            count in 1u64..40,
            order in proptest::collection::vec(any::<u64>(), 40),
            lost in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let mut seqs: Vec<u64> = (1..=count).collect();
            // A random permutation, drawn from `order`.
            for i in (1..seqs.len()).rev() {
                seqs.swap(i, (order[i] % (i as u64 + 1)) as usize);
            }
            let mut inbox = Inbox::default();
            let id = push(1).read_id;
            let mut out = Vec::new();
            for (i, seq) in seqs.into_iter().enumerate() {
                if lost[i] {
                    continue;
                }
                match inbox.pushed(push(seq)) {
                    Arrival::Next(p) => out.push(p.message.seq),
                    Arrival::Seen => {}
                    Arrival::Gap => {
                        // The reader acknowledges what it was handed, so a fetch starts there.
                        let acked = out.last().copied().unwrap_or(0);
                        inbox.fetched(id, fetch(count, acked));
                    }
                }
                drain(&mut inbox, &mut out);
                prop_assert!(out.windows(2).all(|w| w[0] < w[1]), "out of order: {out:?}");
            }
            let acked = out.last().copied().unwrap_or(0);
            inbox.fetched(id, fetch(count, acked));
            drain(&mut inbox, &mut out);
            prop_assert_eq!(out, (1..=count).collect::<Vec<_>>());
        }
    }
}
