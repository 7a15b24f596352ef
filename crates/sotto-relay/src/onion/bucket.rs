//! A token bucket: what lets a relay say "this much a second, with bursts up to that" for
//! packets it peels and for what one client or one relay link may send. Sans-IO: the caller
//! passes the time.

use std::time::Instant;

/// Refills at `rate` tokens a second up to `burst`; starts full.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes `cost` tokens if the bucket holds them at `now`; takes nothing otherwise.
    pub fn take(&mut self, cost: u32, now: Instant) -> bool {
        self.refill(now);
        let cost = f64::from(cost);
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }

    /// Takes up to `cost` tokens, as many as there are: for a cost learnt after the fact.
    pub fn drain(&mut self, cost: u32, now: Instant) {
        self.refill(now);
        self.tokens = (self.tokens - f64::from(cost)).max(0.0);
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 5, start);
        assert!((0..5).all(|_| bucket.take(1, start)));
        assert!(!bucket.take(1, start));
        assert!(!bucket.take(1, start + Duration::from_millis(99)));
        assert!(bucket.take(1, start + Duration::from_millis(100)));
        // A long pause refills to the burst, no further.
        let later = start + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| bucket.take(1, later)).count(), 5);
    }

    #[test]
    fn a_cost_above_the_burst_never_passes_and_time_going_back_gives_nothing() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1_000, 10, start);
        assert!(!bucket.take(11, start + Duration::from_secs(5)));
        assert!(bucket.take(10, start + Duration::from_secs(5)));
        assert!(!bucket.take(1, start));
    }
}
