//! How long to wait for an answer before sending a request again on fresh paths: the
//! retransmission timeout of RFC 6298, learnt from the answers this client gets. A fixed
//! timeout either gives up on a dead mix slowly or, when relays are busy and answers take
//! longer than it, sends every request again and again until the network does nothing else.
//!
//! Unlike TCP, a retry here takes new paths, so silence more often means a dead relay on the
//! old path than a congested network: each request backs off only a little (at most four
//! times the learnt timeout), and the learnt timeout itself grows when answers come late.
//! An answer to any earlier attempt still counts.

use std::time::Duration;

/// Before the first answer: long enough for a slow first path.
const INITIAL: Duration = Duration::from_secs(3);
/// Never less: a loopback round trip is a few milliseconds, but a busy machine stalls longer,
/// and resending is cheap only while it is rare.
const MIN: Duration = Duration::from_millis(1000);
/// Never more. High enough to follow a network that is slow because it is busy (a lower cap,
/// 8 s, had every request sent again and again once queues grew past it); a relay that died
/// is routed around sooner than this anyway, as soon as it is seen to be silent (`heard`).
const MAX: Duration = Duration::from_secs(30);
/// Doublings one request's attempts may add to the learnt timeout.
const MAX_DOUBLINGS: u32 = 2;

#[derive(Debug, Clone, Default)]
pub(crate) struct Rto {
    /// Smoothed round trip and its mean deviation, once there was an answer.
    smoothed: Option<(Duration, Duration)>,
}

impl Rto {
    /// The wait before sending attempt `attempt + 1` of a request (`attempt` 0 is the first).
    pub(crate) fn timeout(&self, attempt: u32) -> Duration {
        let base = match self.smoothed {
            None => INITIAL,
            Some((srtt, rttvar)) => (srtt + 4 * rttvar).clamp(MIN, MAX),
        };
        base.saturating_mul(1 << attempt.min(MAX_DOUBLINGS))
            .min(MAX)
    }

    /// An answer came `sample` after its attempt was sent.
    pub(crate) fn answered(&mut self, sample: Duration) {
        self.smoothed = Some(match self.smoothed {
            None => (sample, sample / 2),
            Some((srtt, rttvar)) => {
                let deviation = srtt.abs_diff(sample);
                ((srtt * 7 + sample) / 8, (rttvar * 3 + deviation) / 4)
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn starts_cautious_and_learns_a_fast_network() {
        let mut rto = Rto::default();
        assert_eq!(rto.timeout(0), INITIAL);
        for _ in 0..20 {
            rto.answered(4 * MS);
        }
        assert_eq!(
            rto.timeout(0),
            MIN,
            "a fast network still waits the minimum"
        );
    }

    #[test]
    fn follows_a_slow_network_and_backs_off_a_little_per_request() {
        let mut rto = Rto::default();
        for _ in 0..20 {
            rto.answered(1500 * MS);
        }
        let learnt = rto.timeout(0);
        assert!(learnt >= 1500 * MS && learnt < 2500 * MS, "{learnt:?}");
        assert_eq!(rto.timeout(1), learnt * 2);
        assert_eq!(rto.timeout(2), (learnt * 4).min(MAX));
        assert_eq!(rto.timeout(9), rto.timeout(2), "bounded per request");
        for _ in 0..20 {
            rto.answered(60_000 * MS);
        }
        assert_eq!(rto.timeout(0), MAX, "bounded whatever the network");
    }

    #[test]
    fn jitter_widens_the_timeout() {
        let mut steady = Rto::default();
        let mut jittery = Rto::default();
        for i in 0..40 {
            steady.answered(800 * MS);
            jittery.answered(if i % 2 == 0 { 300 * MS } else { 1300 * MS });
        }
        assert!(jittery.timeout(0) > steady.timeout(0));
    }
}
