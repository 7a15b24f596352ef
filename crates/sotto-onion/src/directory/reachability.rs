//! Whether relays answer: the authority probes every staked relay, and one that has not
//! answered for a while loses its place in the network file until it answers again. Stake
//! admits a relay; only answering keeps it in, so paths are not drawn through relays that are
//! gone (each such path costs a client a timeout).
//!
//! Without I/O: probe results and times (unix seconds) come in, verdicts go out.

use std::collections::HashMap;

use sotto_proto::Fingerprint;

/// What the authority has heard of each relay.
#[derive(Debug, Clone)]
pub struct Reachability {
    /// How long a relay may go unanswering before it is left out.
    down_after_secs: u64,
    /// Per relay, since when it has failed every probe (`None`: it answered the last one).
    failing_since: HashMap<Fingerprint, Option<u64>>,
}

impl Reachability {
    pub fn new(down_after_secs: u64) -> Self {
        Self {
            down_after_secs,
            failing_since: HashMap::new(),
        }
    }

    /// One probe of `relay` at `now`: answered or not.
    pub fn record(&mut self, relay: Fingerprint, answered: bool, now: u64) {
        let since = self.failing_since.entry(relay).or_insert(None);
        *since = match (answered, *since) {
            (true, _) => None,
            (false, None) => Some(now),
            (false, Some(first)) => Some(first),
        };
    }

    /// Whether `relay` belongs in the network file at `now`: yes unless every probe for at
    /// least `down_after_secs` failed. A relay not probed yet is given the benefit of the doubt,
    /// so that relays listed before they first start are in the first file.
    pub fn is_up(&self, relay: &Fingerprint, now: u64) -> bool {
        match self.failing_since.get(relay) {
            Some(Some(since)) => now.saturating_sub(*since) < self.down_after_secs,
            _ => true,
        }
    }

    /// Forgets relays not in `current`, so a relay that left and comes back starts afresh.
    pub fn retain(&mut self, current: &[Fingerprint]) {
        self.failing_since
            .retain(|relay, _| current.contains(relay));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relay_is_left_out_after_failing_for_the_whole_grace_and_back_at_its_first_answer() {
        let relay = Fingerprint::from_bytes([1; 32]);
        let mut seen = Reachability::new(60);
        assert!(seen.is_up(&relay, 0), "not probed yet");
        seen.record(relay, false, 100);
        seen.record(relay, false, 130);
        assert!(seen.is_up(&relay, 159), "failing for 59 s");
        assert!(!seen.is_up(&relay, 160), "failing for 60 s");
        seen.record(relay, false, 200);
        assert!(!seen.is_up(&relay, 200));
        seen.record(relay, true, 210);
        assert!(seen.is_up(&relay, 210));
        // A blip is not a failure streak: the clock restarts at the next failure.
        seen.record(relay, false, 300);
        assert!(seen.is_up(&relay, 359));
        assert!(!seen.is_up(&relay, 360));
        seen.retain(&[]);
        assert!(seen.is_up(&relay, 1000), "forgotten");
    }
}
