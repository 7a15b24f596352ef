//! How long to wait for an answer before sending a request again on fresh paths: the
//! retransmission timeout of RFC 6298, learnt from the answers this client gets. A fixed
//! timeout either gives up on a dead mix slowly or, when relays are busy and answers take
//! longer than it, sends every request again and again until the network does nothing else.
//! Each retry doubles the timeout, and an answer to any earlier attempt still counts.

use std::time::Duration;

/// Before the first answer: long enough for a slow first path.
const INITIAL: Duration = Duration::from_secs(3);
/// Never less: a loopback round trip is a few milliseconds, but a busy machine stalls longer,
/// and resending is cheap only while it is rare.
const MIN: Duration = Duration::from_millis(1000);
/// Never more, so that a network that is back is noticed soon.
const MAX: Duration = Duration::from_secs(16);

#[derive(Debug, Clone, Default)]
pub(crate) struct Rto {
    /// Smoothed round trip and its mean deviation, once there was an answer.
    smoothed: Option<(Duration, Duration)>,
    /// Doublings since the last answer.
    backoff: u32,
}

impl Rto {
    /// The wait before the next attempt.
    pub(crate) fn timeout(&self) -> Duration {
        let base = match self.smoothed {
            None => INITIAL,
            Some((srtt, rttvar)) => (srtt + 4 * rttvar).clamp(MIN, MAX),
        };
        base.saturating_mul(1 << self.backoff.min(8)).min(MAX)
    }

    /// An answer came `sample` after its attempt was sent.
    pub(crate) fn answered(&mut self, sample: Duration) {
        self.backoff = 0;
        self.smoothed = Some(match self.smoothed {
            None => (sample, sample / 2),
            Some((srtt, rttvar)) => {
                let deviation = srtt.abs_diff(sample);
                ((srtt * 7 + sample) / 8, (rttvar * 3 + deviation) / 4)
            }
        });
    }

    /// An attempt got no answer in time.
    pub(crate) fn timed_out(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn starts_cautious_and_learns_a_fast_network() {
        let mut rto = Rto::default();
        assert_eq!(rto.timeout(), INITIAL);
        for _ in 0..20 {
            rto.answered(4 * MS);
        }
        assert_eq!(rto.timeout(), MIN, "a fast network still waits the minimum");
    }

    #[test]
    fn follows_a_slow_network_and_backs_off_on_silence() {
        let mut rto = Rto::default();
        for _ in 0..20 {
            rto.answered(2500 * MS);
        }
        let learnt = rto.timeout();
        assert!(learnt >= 2500 * MS && learnt < 4 * 1000 * MS, "{learnt:?}");
        rto.timed_out();
        assert_eq!(rto.timeout(), (learnt * 2).min(MAX));
        for _ in 0..10 {
            rto.timed_out();
        }
        assert_eq!(rto.timeout(), MAX, "bounded");
        rto.answered(2500 * MS);
        assert!(rto.timeout() < MAX, "an answer ends the backoff");
    }

    #[test]
    fn jitter_widens_the_timeout() {
        let mut steady = Rto::default();
        let mut jittery = Rto::default();
        for i in 0..40 {
            steady.answered(800 * MS);
            jittery.answered(if i % 2 == 0 { 300 * MS } else { 1300 * MS });
        }
        assert!(jittery.timeout() > steady.timeout());
    }
}
