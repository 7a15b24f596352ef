//! The thread that owns the mailbox host. Connections hand it request frames; it takes whatever
//! has queued up as one batch (one commit), answers each request, and sends pushes to the
//! connections subscribed to the readers of each new message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sotto_proto::batch::seal_answers;
use sotto_proto::{ErrorCode, Id, Push, Response, ResponseBody};
use sotto_quic::unix_now;
use tokio::sync::{mpsc as async_mpsc, oneshot, Semaphore};

use crate::host::{BatchOutcome, Handled, Host, HostConfig, Limit};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::subscriptions::{Added, Subscriptions};

const MAX_BATCH: usize = 512;
/// Requests waiting for the host thread, across all connections. Beyond this, connections wait
/// (QUIC flow control then slows the clients) instead of the queue growing without bound.
const MAX_QUEUED: usize = 8192;
/// Pushes waiting to go out on one connection. A client that falls this far behind is
/// disconnected; it subscribes again and fetches what waits, so nothing is lost.
pub const MAX_PENDING_PUSHES: usize = 1024;
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// A request that would wait about this long in the queue is answered BUSY instead, with the
/// wait: its client then sends it again after that, rather than after a timeout it guessed,
/// and does not take a late answer for a lost one.
const BUSY_AFTER: Duration = Duration::from_millis(500);
/// The longest wait a BUSY answer asks for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// How long a request that comes now would wait for the host thread: the batches queued ahead
/// of it (`queued` requests, `MAX_BATCH` a batch) at the recent time per batch.
fn expected_wait(queued: usize, batch_time: Duration) -> Duration {
    let batches = u32::try_from(queued.div_ceil(MAX_BATCH)).unwrap_or(u32::MAX);
    batch_time.saturating_mul(batches)
}

/// The answer for a request not run because the host is busy (protocol §7.2, `Busy`).
fn busy_answer(wait: Duration) -> Option<Vec<u8>> {
    let retry_after_ms = u32::try_from(wait.min(MAX_RETRY_AFTER).as_millis()).ok()?;
    Response {
        nonce: [0; 16],
        body: ResponseBody::Busy { retry_after_ms },
    }
    .seal()
    .ok()
}

/// Where pushes for one connection go.
#[derive(Clone)]
pub struct PushSink {
    pub id: u64,
    /// The client connection pushes go out on; `None` for the onion path, where pushes leave
    /// through reply blocks and a full queue only drops (the client renews its subscription).
    pub connection: Option<quinn::Connection>,
    pub frames: async_mpsc::Sender<Vec<u8>>,
}

impl PushSink {
    /// Queues a push; `false` once the sink is gone or closed for falling behind.
    pub(crate) fn push(&self, frame: Vec<u8>) -> bool {
        match self.frames.try_send(frame) {
            Ok(()) => true,
            Err(async_mpsc::error::TrySendError::Full(_)) => match &self.connection {
                Some(connection) => {
                    connection.close(PUSH_OVERFLOW.into(), b"too many pushes waiting");
                    false
                }
                None => true,
            },
            Err(async_mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// QUIC application close code for a client that fell behind on pushes.
const PUSH_OVERFLOW: u32 = 2;

/// Run by the host thread when it answered a frame, before the answer leaves and before any
/// push of a later message: what a request sets up for its pushes is in place when they come.
/// It is told, for each request of the frame in order (one for a single request), whether
/// the host accepted it (answered without an error).
pub type OnAccepted = Box<dyn FnOnce(&[bool]) + Send>;

enum Job {
    Request {
        frame: Vec<u8>,
        sink: PushSink,
        reply: oneshot::Sender<Vec<u8>>,
        accepted: Option<OnAccepted>,
    },
    Closed {
        connection: u64,
    },
    /// A sink can no longer deliver pushes for this reader.
    Unsubscribe {
        read_id: Id,
        sink: u64,
    },
    /// New limits, from a reloaded `relay.toml`.
    Configure(HostConfig),
}

/// A cloneable handle to the host thread.
#[derive(Clone)]
pub struct HostHandle {
    jobs: mpsc::Sender<Job>,
    room: Arc<Semaphore>,
    /// Recent time per batch in the host thread, in nanoseconds (a moving average).
    batch_nanos: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, thiserror::Error)]
#[error("the mailbox host has stopped")]
pub struct HostStopped;

impl HostHandle {
    /// Starts the host thread. It runs until every handle is dropped, then drops the store.
    pub fn spawn<S: Store + 'static>(
        host: Host<S>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (jobs, queue) = mpsc::channel();
        let batch_nanos = Arc::new(AtomicU64::new(0));
        let room = Arc::new(Semaphore::new(MAX_QUEUED));
        let thread = {
            let (metrics, batch_nanos, closing) =
                (metrics.clone(), batch_nanos.clone(), room.clone());
            std::thread::Builder::new()
                .name("mailbox-host".into())
                .spawn(move || {
                    run(host, queue, &metrics, &batch_nanos);
                    // Requests waiting for room, and any later, learn at once that no one
                    // answers.
                    closing.close();
                })?
        };
        let handle = Self {
            jobs,
            room,
            batch_nanos,
            metrics,
        };
        Ok((handle, thread))
    }

    /// The BUSY answer for a request that comes now, if the queue would hold it too long.
    fn busy(&self) -> Option<Vec<u8>> {
        let queued = MAX_QUEUED.saturating_sub(self.room.available_permits());
        let batch_time = Duration::from_nanos(self.batch_nanos.load(Ordering::Relaxed));
        let wait = expected_wait(queued, batch_time);
        if wait < BUSY_AFTER {
            return None;
        }
        self.metrics.busy_answer();
        busy_answer(wait)
    }

    pub async fn request(&self, frame: Vec<u8>, sink: PushSink) -> Result<Vec<u8>, HostStopped> {
        self.request_then(frame, sink, None).await
    }

    /// Like [`request`](Self::request), running `accepted` in the host thread if the host
    /// accepts the request (answers without an error).
    pub async fn request_then(
        &self,
        frame: Vec<u8>,
        sink: PushSink,
        accepted: Option<OnAccepted>,
    ) -> Result<Vec<u8>, HostStopped> {
        if let Some(answer) = self.busy() {
            return Ok(answer);
        }
        let _room = self.room.acquire().await.map_err(|_| HostStopped)?;
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Request {
                frame,
                sink,
                reply,
                accepted,
            })
            .map_err(|_| HostStopped)?;
        answer.await.map_err(|_| HostStopped)
    }

    pub fn connection_closed(&self, connection: u64) {
        let _ = self.jobs.send(Job::Closed { connection });
    }

    /// Applies new limits from the next batch on; what is stored stays, and subscriptions
    /// beyond a lowered bound stay until they end.
    pub fn configure(&self, config: HostConfig) {
        let _ = self.jobs.send(Job::Configure(config));
    }

    /// Whether the host thread has stopped (its store failed beyond repair).
    pub fn stopped(&self) -> bool {
        self.room.is_closed()
    }

    /// Ends the subscription of `sink` to `read_id`: the onion host calls it when a reader's
    /// reply blocks are gone, so readers who went away do not stay subscribed.
    pub fn unsubscribe(&self, read_id: Id, sink: u64) {
        let _ = self.jobs.send(Job::Unsubscribe { read_id, sink });
    }
}

fn run<S: Store>(
    mut host: Host<S>,
    queue: mpsc::Receiver<Job>,
    metrics: &Metrics,
    batch_nanos: &AtomicU64,
) {
    let mut subscriptions = Subscriptions::default();
    let mut rng = rand::rngs::OsRng;
    let mut next_sweep = Instant::now();
    metrics.set_stats(host.stats());
    loop {
        if !host.usable() {
            tracing::error!(
                "the mailbox store failed and could not be reopened; the relay stops serving \
                 mailboxes: check its disk and restart it"
            );
            break;
        }
        if Instant::now() >= next_sweep {
            match host.sweep(unix_now()) {
                Ok(gone) => gone.iter().for_each(|id| subscriptions.forget_reader(id)),
                Err(error) => tracing::error!(%error, "expiry sweep failed"),
            }
            metrics.set_stats(host.stats());
            metrics.set_subscriptions(subscriptions.len());
            next_sweep = Instant::now() + SWEEP_EVERY;
        }
        let first = match queue.recv_timeout(next_sweep.saturating_duration_since(Instant::now())) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut requests = Vec::new();
        let mut job = Some(first);
        while let Some(next) = job.take() {
            match next {
                Job::Request {
                    frame,
                    sink,
                    reply,
                    accepted,
                } => requests.push((frame, sink, reply, accepted)),
                Job::Closed { connection } => subscriptions.forget_sink(connection),
                Job::Unsubscribe { read_id, sink } => subscriptions.remove(&read_id, sink),
                Job::Configure(config) => host.set_config(config),
            }
            if requests.len() < MAX_BATCH {
                job = queue.try_recv().ok();
            }
        }
        if requests.is_empty() {
            continue;
        }
        let frames: Vec<Vec<u8>> = requests
            .iter_mut()
            .map(|(frame, _, _, _)| std::mem::take(frame))
            .collect();
        let started = Instant::now();
        let outcome = host.handle_batch(&frames, unix_now(), &mut rng);
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let average = batch_nanos.load(Ordering::Relaxed);
        batch_nanos.store(
            (average / 8).saturating_mul(7).saturating_add(took / 8),
            Ordering::Relaxed,
        );
        // Counts first, so whoever reads an answer then the metrics sees the answer's effect.
        metrics.set_stats(host.stats());
        let max_subscriptions = host.config().max_subscriptions;
        deliver(
            outcome,
            requests,
            &mut subscriptions,
            max_subscriptions,
            metrics,
        );
        metrics.set_subscriptions(subscriptions.len());
    }
    tracing::debug!("mailbox host stopped");
}

type Waiting = Vec<(
    Vec<u8>,
    PushSink,
    oneshot::Sender<Vec<u8>>,
    Option<OnAccepted>,
)>;

fn deliver(
    outcome: BatchOutcome,
    requests: Waiting,
    subscriptions: &mut Subscriptions,
    max_subscriptions: u64,
    metrics: &Metrics,
) {
    for read_id in &outcome.gone {
        subscriptions.forget_reader(read_id);
    }
    for (mut handled, (_, sink, reply, accepted)) in outcome.handled.into_iter().zip(requests) {
        subscribe(&mut handled, &sink, subscriptions, max_subscriptions);
        metrics.record(&handled);
        if let Some(accepted) = accepted {
            accepted(&accepted_requests(&handled));
        }
        let _ = reply.send(handled.frame);
    }
    for appended in outcome.appended {
        for read_id in appended.read_ids {
            if !subscriptions.contains(&read_id) {
                continue;
            }
            let push = Push {
                read_id,
                message: appended.message.clone(),
            };
            let Ok(frame) = push.seal() else { continue };
            subscriptions.push(&read_id, &frame);
        }
    }
}

/// Whether the host accepted each request of a frame.
fn accepted_requests(handled: &Handled) -> Vec<bool> {
    if handled.batched.is_empty() {
        vec![handled.error.is_none()]
    } else {
        handled.batched.iter().map(|h| h.error.is_none()).collect()
    }
}

/// Subscribes `sink` to the readers a frame's subscribes asked for; one past
/// `max_subscriptions` is answered BUSY instead (in a batch, that subscribe's answer alone).
fn subscribe(
    handled: &mut Handled,
    sink: &PushSink,
    subscriptions: &mut Subscriptions,
    max_subscriptions: u64,
) {
    let mut add = |handled: &mut Handled| match handled.subscribed {
        Some(read_id) if subscriptions.add(read_id, sink, max_subscriptions) == Added::Full => {
            refuse(handled, Limit::Subscriptions);
            true
        }
        Some(_) | None => false,
    };
    if handled.batched.is_empty() {
        add(handled);
        return;
    }
    // Every subscribe of the batch, not only up to the first refused.
    let mut refused = false;
    for answer in &mut handled.batched {
        refused |= add(answer);
    }
    if !refused {
        return;
    }
    let responses: Option<Vec<Response>> = handled
        .batched
        .iter()
        .map(|h| Response::open(&h.frame).ok())
        .collect();
    if let Some(frame) = responses.and_then(|r| seal_answers(&r).ok()) {
        handled.frame = frame;
        handled.error = handled.batched.iter().find_map(|h| h.error);
        handled.limit = Some(Limit::Subscriptions);
    }
}

/// Turns an accepted subscribe into BUSY: the host thread cannot keep one more subscription.
fn refuse(handled: &mut Handled, limit: Limit) {
    let Ok(response) = Response::open(&handled.frame) else {
        return;
    };
    let busy = Response {
        nonce: response.nonce,
        body: ResponseBody::Error(ErrorCode::Busy),
    };
    if let Ok(frame) = busy.seal() {
        handled.frame = frame;
        handled.error = Some(ErrorCode::Busy);
        handled.subscribed = None;
        handled.limit = Some(limit);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use ed25519_dalek::SigningKey;
    use sotto_proto::{Command, MailboxKind, Request, Response, ResponseBody};

    use super::*;
    use crate::host::HostConfig;
    use crate::store::MemoryStore;

    fn signed(command: Command, target: Id, key: &SigningKey) -> Vec<u8> {
        Request {
            command,
            nonce: rand::random(),
            timestamp: unix_now(),
            target,
        }
        .seal(key)
        .unwrap()
    }

    /// A new mailbox made through `handle`: its writer and reader keys and ids.
    struct Made {
        writer: SigningKey,
        reader: SigningKey,
        write_id: Id,
        read_id: Id,
    }

    async fn make_mailbox(handle: &HostHandle, sink: &PushSink) -> Made {
        let (writer, reader) = (
            SigningKey::generate(&mut rand::rngs::OsRng),
            SigningKey::generate(&mut rand::rngs::OsRng),
        );
        let create = Command::Create {
            kind: MailboxKind::Conversation,
            ttl_secs: 0,
            quota: 0,
            writer_key: writer.verifying_key(),
            reader_key: reader.verifying_key(),
            voucher: None,
        };
        let answer = handle
            .request(
                signed(create, Id::from_bytes([0; Id::LEN]), &reader),
                sink.clone(),
            )
            .await
            .unwrap();
        let ResponseBody::Created { write_id, read_id } = Response::open(&answer).unwrap().body
        else {
            panic!("created");
        };
        Made {
            writer,
            reader,
            write_id,
            read_id,
        }
    }

    #[test]
    fn a_request_is_answered_busy_only_when_the_queue_would_hold_it_long() {
        let batch = Duration::from_millis(100);
        assert_eq!(expected_wait(0, batch), Duration::ZERO);
        assert_eq!(expected_wait(1, batch), batch);
        assert_eq!(expected_wait(MAX_BATCH * 5, batch), batch * 5);
        assert!(expected_wait(MAX_BATCH * 4, batch) < BUSY_AFTER);
        let answer = busy_answer(Duration::from_secs(60)).unwrap();
        assert_eq!(
            Response::open(&answer).unwrap().body,
            ResponseBody::Busy {
                retry_after_ms: 10_000
            }
        );
    }

    /// A host whose recent batches were slow answers BUSY with its queue full, at once, and
    /// runs nothing; once its batches are quick again it runs requests as before.
    #[tokio::test]
    async fn a_host_with_a_long_queue_says_so_and_runs_nothing() {
        let host = Host::open(MemoryStore::new(), HostConfig::default()).unwrap();
        let (handle, _thread) = HostHandle::spawn(host, Arc::new(Metrics::default())).unwrap();
        let (frames, _pushes) = async_mpsc::channel(16);
        let sink = PushSink {
            id: 1,
            connection: None,
            frames,
        };
        let held = handle
            .room
            .clone()
            .try_acquire_many_owned(u32::try_from(MAX_BATCH * 4).unwrap())
            .unwrap();
        handle
            .batch_nanos
            .store(200_000_000, std::sync::atomic::Ordering::Relaxed);
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let fetch = signed(Command::Fetch, Id::from_bytes([1; Id::LEN]), &key);
        let answer = handle.request(fetch.clone(), sink.clone()).await.unwrap();
        assert_eq!(
            Response::open(&answer).unwrap().body,
            ResponseBody::Busy {
                retry_after_ms: 800
            }
        );
        drop(held);
        let answer = handle.request(fetch, sink).await.unwrap();
        assert!(!matches!(
            Response::open(&answer).unwrap().body,
            ResponseBody::Busy { .. }
        ));
    }

    /// The onion host deposits a subscriber's reply blocks in `accepted`; a message written
    /// right after must find them, however the threads are scheduled.
    #[tokio::test]
    async fn what_a_request_sets_up_on_acceptance_is_there_before_later_pushes() {
        let host = Host::open(MemoryStore::new(), HostConfig::default()).unwrap();
        let (handle, _thread) = HostHandle::spawn(host, Arc::new(Metrics::default())).unwrap();
        let (frames, mut pushes) = async_mpsc::channel(16);
        let sink = PushSink {
            id: 1,
            connection: None,
            frames,
        };
        let Made {
            writer,
            reader,
            write_id,
            read_id,
        } = make_mailbox(&handle, &sink).await;
        for _ in 0..50 {
            let deposited = Arc::new(AtomicBool::new(false));
            let flag = deposited.clone();
            let hook: OnAccepted = Box::new(move |accepted| {
                assert_eq!(accepted, [true]);
                flag.store(true, Ordering::SeqCst)
            });
            let subscribe = signed(Command::Subscribe, read_id, &reader);
            let write = signed(Command::Write { body: vec![1] }, write_id, &writer);
            let (subscribed, written) = tokio::join!(
                handle.request_then(subscribe, sink.clone(), Some(hook)),
                async {
                    tokio::task::yield_now().await;
                    handle.request(write, sink.clone()).await
                }
            );
            subscribed.unwrap();
            written.unwrap();
            if let Ok(push) = pushes.try_recv() {
                assert!(Push::open(&push).is_ok());
                assert!(
                    deposited.load(Ordering::SeqCst),
                    "a push came before the deposit"
                );
            }
            assert!(deposited.load(Ordering::SeqCst));
        }
        // A refused request is told so.
        let refused: OnAccepted = Box::new(|accepted| assert_eq!(accepted, [false]));
        let stranger = SigningKey::generate(&mut rand::rngs::OsRng);
        handle
            .request_then(
                signed(Command::Subscribe, read_id, &stranger),
                sink,
                Some(refused),
            )
            .await
            .unwrap();
    }

    /// A subscribe past `max_subscriptions` is answered BUSY, counted, and sets nothing up;
    /// one that ends makes room again.
    #[tokio::test]
    async fn subscriptions_past_the_limit_are_answered_busy() {
        let config = HostConfig {
            max_subscriptions: 1,
            ..HostConfig::default()
        };
        let host = Host::open(MemoryStore::new(), config).unwrap();
        let metrics = Arc::new(Metrics::default());
        let (handle, _thread) = HostHandle::spawn(host, metrics.clone()).unwrap();
        let (frames, _pushes) = async_mpsc::channel(16);
        let sink = PushSink {
            id: 1,
            connection: None,
            frames,
        };
        let mut readers = Vec::new();
        for _ in 0..2 {
            let made = make_mailbox(&handle, &sink).await;
            readers.push((made.read_id, made.reader));
        }
        let subscribe =
            |(read_id, key): &(Id, SigningKey)| signed(Command::Subscribe, *read_id, key);
        let first = handle
            .request(subscribe(&readers[0]), sink.clone())
            .await
            .unwrap();
        assert!(matches!(
            Response::open(&first).unwrap().body,
            ResponseBody::Messages(_)
        ));
        let refused: OnAccepted = Box::new(|accepted| assert_eq!(accepted, [false]));
        let second = handle
            .request_then(subscribe(&readers[1]), sink.clone(), Some(refused))
            .await
            .unwrap();
        assert_eq!(
            Response::open(&second).unwrap().body,
            ResponseBody::Error(ErrorCode::Busy)
        );
        assert!(metrics
            .render()
            .contains("sotto_limit_refusals_total{limit=\"subscriptions\"} 1"));
        // The first reader's mailbox goes, and with it its subscription.
        let (read_id, key) = &readers[0];
        handle
            .request(signed(Command::Delete, *read_id, key), sink.clone())
            .await
            .unwrap();
        let again = handle.request(subscribe(&readers[1]), sink).await.unwrap();
        assert!(matches!(
            Response::open(&again).unwrap().body,
            ResponseBody::Messages(_)
        ));
    }

    /// Subscribes ride in one batch frame: each is subscribed on its own, the one past
    /// `max_subscriptions` alone is answered BUSY, and the host tells what it set up which
    /// requests it accepted.
    #[tokio::test]
    async fn a_batch_of_subscribes_subscribes_each_and_refuses_only_past_the_limit() {
        let config = HostConfig {
            max_subscriptions: 2,
            ..HostConfig::default()
        };
        let host = Host::open(MemoryStore::new(), config).unwrap();
        let (handle, _thread) = HostHandle::spawn(host, Arc::new(Metrics::default())).unwrap();
        let (frames, mut pushes) = async_mpsc::channel(16);
        let sink = PushSink {
            id: 1,
            connection: None,
            frames,
        };
        let mut made = Vec::new();
        for _ in 0..3 {
            made.push(make_mailbox(&handle, &sink).await);
        }
        let requests: Vec<(Request, &SigningKey)> = made
            .iter()
            .map(|m| {
                let request = Request {
                    command: Command::Subscribe,
                    nonce: rand::random(),
                    timestamp: unix_now(),
                    target: m.read_id,
                };
                (request, &m.reader)
            })
            .collect();
        let frame = sotto_proto::batch::seal_batch(&requests).unwrap();
        let (told, seen) = tokio::sync::oneshot::channel();
        let hook: OnAccepted = Box::new(move |accepted| {
            let _ = told.send(accepted.to_vec());
        });
        let answer = handle.request_then(frame, sink, Some(hook)).await.unwrap();
        let bodies: Vec<ResponseBody> = sotto_proto::batch::open_answers(&answer)
            .unwrap()
            .into_iter()
            .map(|r| r.body)
            .collect();
        assert!(matches!(bodies[0], ResponseBody::Messages(_)));
        assert!(matches!(bodies[1], ResponseBody::Messages(_)));
        assert_eq!(bodies[2], ResponseBody::Error(ErrorCode::Busy));
        assert_eq!(seen.await.unwrap(), [true, true, false]);
        // The first two are pushed what is written to them.
        for m in &made {
            let write = signed(Command::Write { body: vec![7] }, m.write_id, &m.writer);
            let (other, _) = async_mpsc::channel(1);
            let writer_sink = PushSink {
                id: 2,
                connection: None,
                frames: other,
            };
            handle.request(write, writer_sink).await.unwrap();
        }
        let mut pushed = Vec::new();
        for _ in 0..2 {
            pushed.push(Push::open(&pushes.recv().await.unwrap()).unwrap().read_id);
        }
        assert_eq!(pushed, [made[0].read_id, made[1].read_id]);
        assert!(pushes.try_recv().is_err());
    }
}
