//! The client's side of one onion request as a state machine: which attempts went out, when
//! to send the next on fresh paths, whose answer counts, and when to give up. It reads no
//! clock and runs no task: the driver (`OnionTransport::round_trip`) passes the time in, does
//! what [`Retries::next`] says, and reports what happened, so every rule is tested
//! deterministically here.
//!
//! The rules (protocol §16.4): an attempt is waited for the learnt timeout (`Rto`, doubling
//! for the request's later attempts); then, while every relay on its paths was heard from
//! since it went out, it is queued rather than lost, and waited for on, up to `PATIENCE`;
//! otherwise the mixes not heard from are suspected and the request goes again. An answer to
//! any attempt counts, once. After `retry_for` without one the request fails.

use std::time::{Duration, Instant};

use rand::Rng;
use sotto_onion::directory::{Directory, Path};
use sotto_onion::packet::ReplyId;
use sotto_proto::Fingerprint;

use crate::health::{Health, Verdict};
use crate::rto::Rto;
use crate::transport::TransportError;

/// Mixes on every path.
pub(super) const MIXES: usize = 2;
/// The longest one attempt is waited on while every relay on its paths is heard from.
const PATIENCE: Duration = Duration::from_secs(30);
/// Random paths drawn to find one that avoids suspects, before taking one that does not.
const PATH_DRAWS: usize = 16;
/// The pause before trying again after an attempt could not be sent at all.
const SEND_AGAIN_AFTER: Duration = Duration::from_millis(50);

/// What the driver does next.
#[derive(Debug)]
pub(super) enum Next {
    /// Send an attempt now, on fresh paths.
    Send,
    /// Wait for an answer until this time, then ask again.
    Wait(Instant),
    /// The request failed.
    GiveUp(TransportError),
}

struct Attempt {
    id: ReplyId,
    sent: Instant,
    /// The relays of its request and reply paths, and the mixes among them.
    relays: Vec<Fingerprint>,
    mixes: Vec<Fingerprint>,
    /// How long it is waited for before the next look.
    wait: Duration,
    look_at: Instant,
}

/// One request's attempts.
pub(super) struct Retries {
    deadline: Instant,
    attempts: Vec<Attempt>,
    /// An attempt that could not go out: the error, and when to try again.
    failed: Option<(TransportError, Instant)>,
    /// A handshake with the gateway went unanswered already.
    unanswered_handshake: bool,
    answered: bool,
    /// Until when the host asked to hold off (a BUSY answer, to this request or another of
    /// its transport): attempts already sent are queued there, so none goes again before.
    hold: Option<Instant>,
    /// This request was answered BUSY, so it was not run: it goes again once the hold is over.
    refused: bool,
}

impl Retries {
    pub(super) fn new(now: Instant, retry_for: Duration) -> Self {
        Self {
            deadline: now + retry_for,
            attempts: Vec::new(),
            failed: None,
            unanswered_handshake: false,
            answered: false,
            hold: None,
            refused: false,
        }
    }

    /// What to do at `now`, no answer having come. Suspects what the rules say in `health`.
    pub(super) fn next(&mut self, now: Instant, health: &mut Health) -> Next {
        if let Some(until) = self.hold {
            if now < until {
                if self.refused && until > self.deadline {
                    // No answer could come in time: hammering a busy host helps no one.
                    return Next::GiveUp(TransportError::Timeout(until.duration_since(now)));
                }
                return Next::Wait(until);
            }
            self.hold = None;
            if std::mem::take(&mut self.refused) {
                return Next::Send;
            }
        }
        if let Some((error, retry_at)) = self.failed.take() {
            if now >= self.deadline {
                return Next::GiveUp(error);
            }
            if now < retry_at {
                let wait = Next::Wait(retry_at);
                self.failed = Some((error, retry_at));
                return wait;
            }
            return Next::Send;
        }
        let Some(last) = self.attempts.last_mut() else {
            return Next::Send;
        };
        if now < last.look_at {
            return Next::Wait(last.look_at);
        }
        match health
            .heard
            .judge(&last.relays, &last.mixes, last.sent, now, PATIENCE)
        {
            Verdict::Wait => {
                last.look_at = now + last.wait;
                Next::Wait(last.look_at)
            }
            Verdict::Resend { suspects } => {
                health.suspect(suspects, now);
                if now >= self.deadline {
                    Next::GiveUp(TransportError::Timeout(now.duration_since(last.sent)))
                } else {
                    Next::Send
                }
            }
        }
    }

    /// An attempt went out at `now` on `paths` (request, reply), answered through `id`.
    pub(super) fn sent(&mut self, id: ReplyId, paths: &[Path; 2], now: Instant, rto: &Rto) {
        let wait = rto.timeout(self.attempts.len() as u32);
        self.attempts.push(Attempt {
            id,
            sent: now,
            relays: paths.iter().flat_map(Path::relays).collect(),
            mixes: paths
                .iter()
                .flat_map(|path| path.mixes())
                .map(|hop| *hop.fingerprint())
                .collect(),
            wait,
            look_at: now + wait,
        });
    }

    /// An attempt could not be sent. A gateway that refuses a new connection, or does not
    /// answer two handshakes in a row, fails the request at once, so the device learns it is
    /// offline rather than retrying for the whole minute; one silent handshake may be a
    /// gateway too busy to answer in time.
    pub(super) fn not_sent(&mut self, error: TransportError, now: Instant) {
        let give_up = match error {
            TransportError::Handshake(_) => true,
            TransportError::Unreachable(_) => {
                std::mem::replace(&mut self.unanswered_handshake, true)
            }
            _ => false,
        };
        if give_up {
            self.deadline = self.deadline.min(now);
        }
        let retry_at = match error {
            TransportError::Unreachable(_) => now,
            _ => now + SEND_AGAIN_AFTER,
        };
        self.failed = Some((error, retry_at));
    }

    /// An answer came at `now` through reply `id`: the round trip sample to learn from if it
    /// is the first answer to one of this request's attempts, `None` otherwise (another
    /// request's, or a second answer: the host answers every attempt, the first counts).
    pub(super) fn answered(&mut self, id: &ReplyId, now: Instant) -> Option<Duration> {
        if self.answered {
            return None;
        }
        let attempt = self.attempts.iter().find(|a| a.id == *id)?;
        self.answered = true;
        Some(now.duration_since(attempt.sent))
    }

    /// No attempt goes again before `until`: the host said it is busy.
    pub(super) fn hold(&mut self, until: Instant) {
        self.hold = Some(self.hold.map_or(until, |known| known.max(until)));
    }

    /// An attempt of this request (reply `id`) was answered BUSY: the host ran nothing and
    /// asked to wait until `until`; the request goes again then. Whether `id` was this
    /// request's.
    pub(super) fn busy(&mut self, id: &ReplyId, until: Instant) -> bool {
        if self.answered || !self.attempts.iter().any(|a| a.id == *id) {
            return false;
        }
        self.hold(until);
        self.refused = true;
        true
    }

    /// The reply ids of every attempt, to forget once the request is over.
    pub(super) fn ids(&self) -> impl Iterator<Item = &ReplyId> {
        self.attempts.iter().map(|a| &a.id)
    }
}

/// A random path from `from` to `to`, avoiding the `suspects` when it can: up to
/// `PATH_DRAWS` more draws, then whatever the last one gave.
pub(super) fn choose_path(
    directory: &Directory,
    epoch: u64,
    (from, to): (&Fingerprint, &Fingerprint),
    suspects: &[Fingerprint],
    rng: &mut impl Rng,
) -> Result<Path, TransportError> {
    let mut draw = || {
        directory
            .choose_path_at(epoch, from, to, MIXES, rng)
            .map_err(|e| TransportError::Protocol(e.to_string()))
    };
    let mut path = draw()?;
    for _ in 0..PATH_DRAWS {
        if !path
            .mixes()
            .iter()
            .any(|hop| suspects.contains(hop.fingerprint()))
        {
            break;
        }
        path = draw()?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::test_network::network;

    const S: Duration = Duration::from_secs(1);

    struct Bench {
        directory: Directory,
        rng: StdRng,
        health: Health,
        rto: Rto,
        start: Instant,
        next_id: u8,
    }

    impl Bench {
        fn new() -> Self {
            Self {
                directory: network(10),
                rng: StdRng::seed_from_u64(5),
                health: Health::default(),
                rto: Rto::default(),
                start: Instant::now(),
                next_id: 0,
            }
        }

        fn relay(n: u8) -> Fingerprint {
            Fingerprint::from_bytes([n; 32])
        }

        /// Request and reply paths between relay 1 (the gateway) and relay 10 (the host),
        /// avoiding what the health suspects, as the driver draws them.
        fn paths(&mut self) -> [Path; 2] {
            let suspects: Vec<Fingerprint> = self.health.suspects.keys().copied().collect();
            let (gateway, host) = (Self::relay(1), Self::relay(10));
            let mut draw = |from, to| {
                choose_path(&self.directory, 0, (from, to), &suspects, &mut self.rng).unwrap()
            };
            [draw(&gateway, &host), draw(&host, &gateway)]
        }

        /// Sends an attempt at `at` seconds; its reply id.
        fn send(&mut self, retries: &mut Retries, at: Duration) -> (ReplyId, [Path; 2]) {
            self.next_id += 1;
            let id = [self.next_id; 16];
            let paths = self.paths();
            retries.sent(id, &paths, self.start + at, &self.rto);
            (id, paths)
        }

        fn next(&mut self, retries: &mut Retries, at: Duration) -> Next {
            retries.next(self.start + at, &mut self.health)
        }
    }

    #[test]
    fn a_lost_answer_is_sent_again_after_the_timeout_on_paths_avoiding_its_mixes() {
        let mut b = Bench::new();
        let mut retries = Retries::new(b.start, 60 * S);
        assert!(matches!(b.next(&mut retries, Duration::ZERO), Next::Send));
        let (_, first) = b.send(&mut retries, Duration::ZERO);
        // Before any answer the timeout is 3 s.
        let Next::Wait(until) = b.next(&mut retries, S) else {
            panic!("waits for the answer");
        };
        assert_eq!(until, b.start + 3 * S);
        // Nothing heard through any of its relays: sent again, and its mixes suspected.
        assert!(matches!(b.next(&mut retries, 3 * S), Next::Send));
        let mixes: Vec<Fingerprint> = first
            .iter()
            .flat_map(|p| p.mixes())
            .map(|hop| *hop.fingerprint())
            .collect();
        assert!(mixes.iter().all(|m| b.health.suspects.contains_key(m)));
        let (_, second) = b.send(&mut retries, 3 * S);
        assert!(
            second
                .iter()
                .flat_map(|p| p.mixes())
                .all(|hop| !mixes.contains(hop.fingerprint())),
            "fresh paths through other mixes"
        );
        // The second attempt waits twice as long.
        let Next::Wait(until) = b.next(&mut retries, 4 * S) else {
            panic!("waits for the second answer");
        };
        assert_eq!(until, b.start + 9 * S);
    }

    #[test]
    fn an_attempt_whose_relays_are_all_heard_from_is_waited_on_up_to_the_patience() {
        let mut b = Bench::new();
        let mut retries = Retries::new(b.start, 60 * S);
        let (_, paths) = b.send(&mut retries, Duration::ZERO);
        let relays: Vec<Fingerprint> = paths.iter().flat_map(Path::relays).collect();
        b.health.heard.heard(&relays, b.start + S);
        // Queued, not lost: looked at again one timeout later, not sent again, until the
        // patience runs out.
        let mut now = 3 * S;
        while let Next::Wait(until) = b.next(&mut retries, now) {
            assert!(b.health.suspects.is_empty());
            assert_eq!(until, b.start + now + 3 * S);
            now += 3 * S;
        }
        assert_eq!(now, 30 * S, "sent again once the patience ran out");
    }

    #[test]
    fn the_first_answer_to_any_attempt_counts_and_a_second_is_ignored() {
        let mut b = Bench::new();
        let mut retries = Retries::new(b.start, 60 * S);
        let (first, _) = b.send(&mut retries, Duration::ZERO);
        assert!(matches!(b.next(&mut retries, 3 * S), Next::Send));
        let (second, _) = b.send(&mut retries, 3 * S);
        assert_eq!(
            retries.answered(&[99; 16], b.start + 4 * S),
            None,
            "not ours"
        );
        // The first attempt's answer comes late: its own send time makes the sample.
        assert_eq!(retries.answered(&first, b.start + 4 * S), Some(4 * S));
        assert_eq!(retries.answered(&second, b.start + 5 * S), None);
        assert_eq!(retries.ids().count(), 2, "both forgotten after");
    }

    #[test]
    fn a_request_gives_up_after_a_minute_of_lost_attempts() {
        let mut b = Bench::new();
        let mut retries = Retries::new(b.start, 60 * S);
        let mut sent_at = Vec::new();
        let mut now = Duration::ZERO;
        let error = loop {
            match b.next(&mut retries, now) {
                Next::Send => {
                    sent_at.push(now.as_secs());
                    b.send(&mut retries, now);
                }
                Next::Wait(until) => now = until.duration_since(b.start),
                Next::GiveUp(error) => break error,
            }
        };
        // 3 s, then twice and four times that for the later attempts.
        assert_eq!(sent_at, [0, 3, 9, 21, 33, 45, 57]);
        assert_eq!(now.as_secs(), 69);
        assert!(matches!(error, TransportError::Timeout(wait) if wait == 12 * S));
    }

    #[test]
    fn a_busy_answer_holds_every_attempt_and_sends_the_frame_again_after_its_wait() {
        let mut b = Bench::new();
        let mut retries = Retries::new(b.start, 60 * S);
        assert!(matches!(b.next(&mut retries, Duration::ZERO), Next::Send));
        let (id, _) = b.send(&mut retries, Duration::ZERO);
        assert!(
            !retries.busy(&[99; 16], b.start + 5 * S),
            "not this request's"
        );
        assert!(retries.busy(&id, b.start + 5 * S));
        // Nothing goes again before the host's wait is over, though the timeout passed.
        assert!(
            matches!(b.next(&mut retries, 4 * S), Next::Wait(until) if until == b.start + 5 * S)
        );
        assert!(
            matches!(b.next(&mut retries, 5 * S), Next::Send),
            "the same frame again"
        );
        let (again, _) = b.send(&mut retries, 5 * S);
        assert_eq!(retries.answered(&again, b.start + 6 * S), Some(S));
        assert!(
            !retries.busy(&id, b.start + 9 * S),
            "answered: a late busy changes nothing"
        );

        // Another request's busy answer only holds this one's resends.
        let mut other = Retries::new(b.start, 60 * S);
        b.send(&mut other, Duration::ZERO);
        other.hold(b.start + 20 * S);
        assert!(
            matches!(b.next(&mut other, 10 * S), Next::Wait(until) if until == b.start + 20 * S)
        );

        // A host that asks to wait past the deadline fails the request now.
        let mut late = Retries::new(b.start, 60 * S);
        let (id, _) = b.send(&mut late, Duration::ZERO);
        late.busy(&id, b.start + 90 * S);
        assert!(matches!(
            b.next(&mut late, S),
            Next::GiveUp(TransportError::Timeout(_))
        ));
    }

    #[test]
    fn a_gateway_that_refuses_or_stays_silent_twice_fails_the_request_at_once() {
        let mut b = Bench::new();
        let mut retries = Retries::new(b.start, 60 * S);
        retries.not_sent(TransportError::Unreachable("silent".into()), b.start);
        assert!(
            matches!(b.next(&mut retries, Duration::ZERO), Next::Send),
            "one silent handshake may be a busy gateway"
        );
        retries.not_sent(TransportError::Unreachable("silent".into()), b.start + S);
        assert!(matches!(
            b.next(&mut retries, S),
            Next::GiveUp(TransportError::Unreachable(_))
        ));

        let mut retries = Retries::new(b.start, 60 * S);
        retries.not_sent(TransportError::Handshake("refused".into()), b.start);
        assert!(matches!(
            b.next(&mut retries, Duration::ZERO),
            Next::GiveUp(TransportError::Handshake(_))
        ));

        let mut retries = Retries::new(b.start, 60 * S);
        retries.not_sent(TransportError::Connection("reset".into()), b.start);
        let Next::Wait(until) = b.next(&mut retries, Duration::ZERO) else {
            panic!("pauses a little");
        };
        assert_eq!(until, b.start + SEND_AGAIN_AFTER);
        assert!(matches!(b.next(&mut retries, SEND_AGAIN_AFTER), Next::Send));
    }
}
