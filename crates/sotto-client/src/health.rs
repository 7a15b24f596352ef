//! What a client learns about relays from its own traffic.
//!
//! When it last had a delivery through each relay: an answer or a push that came back proves
//! every relay on its paths was passing packets on. That tells a slow network from a broken
//! path. A request whose answer is late while every relay on its paths has carried something
//! since it was sent is queued somewhere, not lost: sending it again would only add to the queue
//! (under load, resends had more than doubled the requests relays processed). A relay not heard
//! from since is the one to suspect and route around.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sotto_proto::Fingerprint;

/// How long relays on a path that got no answer are avoided.
const SUSPECT_FOR: Duration = Duration::from_secs(30);
/// Relays suspected at once, at most. A gateway sees each packet's first mix and can drop
/// the packets it chooses; unbounded, it could make its client suspect every mix but its
/// friends' and so pick the client's paths. Beyond this, new suspicions wait until old ones
/// fade, so at most this many relays are ever steered around.
const MAX_SUSPECTS: usize = 4;

/// What a client learns about relays from its own traffic: which it had deliveries through
/// lately, and which mixes it suspects. A device's transports share one: they draw mixes from
/// the same relays, so what one learns spares the others a timeout, and each hears from more
/// relays than its own traffic passes. Cloning shares it.
#[derive(Clone, Default)]
pub struct RelayHealth(Arc<Mutex<Health>>);

#[derive(Default)]
pub(crate) struct Health {
    pub heard: Heard,
    /// Mixes on paths that recently got no answer, and since when.
    pub suspects: HashMap<Fingerprint, Instant>,
}

impl Health {
    /// Suspects `mixes` from `now` on, as far as [`MAX_SUSPECTS`] allows; a mix suspected
    /// already is suspected anew.
    pub(crate) fn suspect(&mut self, mixes: impl IntoIterator<Item = Fingerprint>, now: Instant) {
        self.suspects
            .retain(|_, since| now.saturating_duration_since(*since) < SUSPECT_FOR);
        for mix in mixes {
            if self.suspects.len() < MAX_SUSPECTS || self.suspects.contains_key(&mix) {
                self.suspects.insert(mix, now);
            }
        }
    }
}

impl RelayHealth {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Health> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn heard(&self, relays: &[Fingerprint]) {
        self.lock().heard.heard(relays, Instant::now());
    }

    /// The mixes suspected within the last `SUSPECT_FOR`.
    pub(crate) fn suspects(&self) -> Vec<Fingerprint> {
        let mut health = self.lock();
        health
            .suspects
            .retain(|_, since| since.elapsed() < SUSPECT_FOR);
        health.suspects.keys().copied().collect()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Heard {
    last: HashMap<Fingerprint, Instant>,
}

impl Heard {
    /// A delivery came `at` through `relays`.
    pub(crate) fn heard<'a>(
        &mut self,
        relays: impl IntoIterator<Item = &'a Fingerprint>,
        at: Instant,
    ) {
        for relay in relays {
            let last = self.last.entry(*relay).or_insert(at);
            *last = (*last).max(at);
        }
    }

    /// The relays among `relays` with no delivery through them since `since`.
    pub(crate) fn silent_since<'a>(
        &self,
        relays: impl IntoIterator<Item = &'a Fingerprint>,
        since: Instant,
    ) -> Vec<Fingerprint> {
        relays
            .into_iter()
            .filter(|relay| self.last.get(relay).is_none_or(|last| *last < since))
            .copied()
            .collect()
    }

    /// What to do about an attempt sent at `sent` through `relays` (its mixes among them), with
    /// no answer by `now`: wait on while every relay was heard from since and `patience` has
    /// not run out; otherwise send again, avoiding the mixes not heard from (all of them if
    /// each was, since one of them lost the packet all the same).
    pub(crate) fn judge(
        &self,
        relays: &[Fingerprint],
        mixes: &[Fingerprint],
        sent: Instant,
        now: Instant,
        patience: Duration,
    ) -> Verdict {
        let silent = self.silent_since(relays, sent);
        if silent.is_empty() && now.duration_since(sent) < patience {
            return Verdict::Wait;
        }
        let silent_mixes: Vec<Fingerprint> = mixes
            .iter()
            .filter(|mix| silent.contains(mix))
            .copied()
            .collect();
        Verdict::Resend {
            suspects: if silent_mixes.is_empty() {
                mixes.to_vec()
            } else {
                silent_mixes
            },
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The attempt is queued somewhere, not lost.
    Wait,
    /// Send the request again, on paths without these mixes.
    Resend { suspects: Vec<Fingerprint> },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gateway that drops the packets to every mix but its friends' gets only a few of them
    /// suspected, and not for long.
    #[test]
    fn suspicion_is_bounded_and_fades() {
        let start = Instant::now();
        let mut health = Health::default();
        health.suspect((1..=20).map(relay), start);
        assert_eq!(health.suspects.len(), MAX_SUSPECTS);
        let later = start + SUSPECT_FOR / 2;
        health.suspect([relay(1), relay(30)], later);
        assert_eq!(
            health.suspects.get(&relay(1)),
            Some(&later),
            "suspected anew"
        );
        assert!(!health.suspects.contains_key(&relay(30)));
        health.suspect([relay(30)], start + SUSPECT_FOR);
        assert_eq!(
            health.suspects.keys().copied().collect::<Vec<_>>().len(),
            2,
            "the old suspicions faded, relay 1's and 30's stand"
        );
    }

    const PATIENCE: Duration = Duration::from_secs(30);

    fn relay(byte: u8) -> Fingerprint {
        Fingerprint::from_bytes([byte; 32])
    }

    #[test]
    fn a_relay_is_silent_until_a_delivery_comes_through_it_after_the_moment_asked() {
        let start = Instant::now();
        let later = start + Duration::from_secs(1);
        let mut heard = Heard::default();
        let path = [relay(1), relay(2), relay(3)];
        assert_eq!(
            heard.silent_since(&path, start),
            path.to_vec(),
            "never heard"
        );
        heard.heard(&[relay(1), relay(2)], start);
        assert_eq!(heard.silent_since(&path, start), vec![relay(3)]);
        assert_eq!(
            heard.silent_since(&path, later),
            path.to_vec(),
            "heard only before"
        );
        heard.heard(&path, later);
        assert!(heard.silent_since(&path, later).is_empty());
    }

    #[test]
    fn an_older_delivery_does_not_hide_a_newer_one() {
        let start = Instant::now();
        let later = start + Duration::from_secs(1);
        let mut heard = Heard::default();
        heard.heard(&[relay(1)], later);
        heard.heard(&[relay(1)], start);
        assert!(heard.silent_since(&[relay(1)], later).is_empty());
    }

    /// One attempt's gateway, mixes and host (and all four), when it went out, and a second
    /// later.
    struct Attempt {
        gateway: Fingerprint,
        mixes: [Fingerprint; 2],
        host: Fingerprint,
        relays: [Fingerprint; 4],
        sent: Instant,
        second: Instant,
    }

    impl Attempt {
        fn new() -> Self {
            let (gateway, mixes, host) = (relay(1), [relay(2), relay(3)], relay(4));
            let sent = Instant::now();
            Self {
                gateway,
                mixes,
                host,
                relays: [gateway, mixes[0], mixes[1], host],
                sent,
                second: sent + Duration::from_secs(1),
            }
        }

        fn judge(&self, heard: &Heard, now: Instant) -> Verdict {
            heard.judge(&self.relays, &self.mixes, self.sent, now, PATIENCE)
        }

        fn resend_avoiding(&self, suspects: &[Fingerprint]) -> Verdict {
            Verdict::Resend {
                suspects: suspects.to_vec(),
            }
        }
    }

    #[test]
    fn a_late_answer_is_waited_for_while_every_relay_on_its_paths_is_heard_from() {
        let attempt = Attempt::new();
        let mut heard = Heard::default();
        heard.heard(&attempt.relays, attempt.second);
        assert_eq!(attempt.judge(&heard, attempt.second), Verdict::Wait);
        assert_eq!(
            attempt.judge(&heard, attempt.sent + PATIENCE),
            attempt.resend_avoiding(&attempt.mixes),
            "a live path that lost the packet all the same"
        );
    }

    #[test]
    fn the_mix_not_heard_from_is_the_one_suspected() {
        let attempt = Attempt::new();
        let mut heard = Heard::default();
        heard.heard(
            &[attempt.gateway, attempt.mixes[1], attempt.host],
            attempt.second,
        );
        assert_eq!(
            attempt.judge(&heard, attempt.second),
            attempt.resend_avoiding(&attempt.mixes[..1])
        );
        // A silent host or gateway cannot be routed around: the mixes are suspected then.
        let mut heard = Heard::default();
        heard.heard(
            &[attempt.gateway, attempt.mixes[0], attempt.mixes[1]],
            attempt.second,
        );
        assert_eq!(
            attempt.judge(&heard, attempt.second),
            attempt.resend_avoiding(&attempt.mixes)
        );
    }

    #[test]
    fn transports_sharing_relay_health_share_what_they_learn() {
        let (mix, other) = (
            Fingerprint::from_bytes([1; 32]),
            Fingerprint::from_bytes([2; 32]),
        );
        let one = RelayHealth::default();
        let another = one.clone();
        one.lock().suspects.insert(mix, Instant::now());
        one.heard(&[other]);
        assert_eq!(another.suspects(), vec![mix]);
        let long_ago = Instant::now() - SUSPECT_FOR;
        another.lock().suspects.insert(mix, long_ago);
        assert!(one.suspects().is_empty(), "a suspicion lasts SUSPECT_FOR");
        let before = Instant::now() - Duration::from_secs(1);
        assert!(another
            .lock()
            .heard
            .silent_since(&[other], before)
            .is_empty());
    }
}
