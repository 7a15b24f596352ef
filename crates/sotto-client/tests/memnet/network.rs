//! The in-memory network: a few relays, each a real mailbox host (`sotto_relay::host::Host`
//! over its memory store) with the shell's subscriptions around it, reached by devices through
//! [`Link`]s that lose, duplicate, delay and reorder frames as [`Faults`] say. Time is tokio's
//! (paused in these tests), so waiting costs nothing.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::{Digest, Sha256};
use sotto_client::{Network, TransportError};
use sotto_onion::directory::{
    Authorities, Descriptor, Directory, OnionKey, Relay, Stake, VoucherIssuer,
};
use sotto_proto::batch::{open_requests, Requests};
use sotto_proto::voucher::IssuerKey;
use sotto_proto::{Command, ErrorCode, Fingerprint, Id, Push, RelayAddress, SignedRequest};
use sotto_relay::host::{BatchOutcome, Host, HostConfig, HostStats, Issuer, VoucherPolicy};
use sotto_relay::store::{MemoryStore, Store, Table};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::faults::Faults;
use crate::link::{Link, MemoryTransport};

/// How often a link's push path is renewed, as the onion transport does every 30 s: a lost
/// push is noticed at the next renewal at the latest.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);
const EPOCH_SECS: u64 = 86_400;

/// What the network did, to check that a test's faults happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests the hosts ran or answered.
    pub handled: u64,
    /// Requests a host had handled before (sent again after a lost answer, or duplicated).
    pub repeats: u64,
    /// Requests a host refused as too old or too new (none: hosts and clients read one clock).
    pub stale: u64,
    pub pushes: u64,
    pub restarts: u64,
    /// Requests that reached a relay while it was down.
    pub refused_while_down: u64,
}

/// A relay: its mailbox host and what the host's shell keeps in memory.
struct SimulatedRelay {
    host: Host<MemoryStore>,
    /// Read id -> the links subscribed to it. Held by the shell: a restart forgets them.
    subscriptions: HashMap<Id, Vec<Weak<Link>>>,
    links: Vec<Weak<Link>>,
    /// Digests of the requests handled, to count repeats.
    seen: HashSet<[u8; 32]>,
    down_until: Option<Instant>,
}

struct State {
    rng: StdRng,
    faults: Faults,
    relays: HashMap<Fingerprint, SimulatedRelay>,
    stats: Stats,
}

struct Shared {
    directory: Directory,
    state: Mutex<State>,
}

/// A network of simulated relays; cloning shares it (every device of a test uses one), and
/// [`for_device`](Self::for_device) gives a device its own count of packets.
#[derive(Clone)]
pub struct MemoryNetwork {
    shared: Arc<Shared>,
    packets: Arc<Packets>,
}

/// The packets of one device's links, as its gateway link would count them (a request, an
/// answer or a push each), leaving out subscriptions and their answers: those renew on a
/// timer, whatever the conversation does. Those are counted apart (`subscribe_frames`).
#[derive(Debug, Default)]
pub struct Packets {
    sent: AtomicU64,
    received: AtomicU64,
    subscribe_frames: AtomicU64,
}

impl Packets {
    /// Sent and received so far.
    pub fn now(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::SeqCst),
            self.received.load(Ordering::SeqCst),
        )
    }

    pub(crate) fn received(&self) {
        self.received.fetch_add(1, Ordering::SeqCst);
    }

    /// Request frames of subscribes (one, or a batch of them) sent so far.
    pub fn subscribe_frames(&self) -> u64 {
        self.subscribe_frames.load(Ordering::SeqCst)
    }
}

/// Whether a request frame holds only subscribes (see [`Packets`]).
fn subscribes(frame: &[u8]) -> bool {
    let is_subscribe = |signed: &SignedRequest| signed.request.command == Command::Subscribe;
    match open_requests(frame) {
        Ok(Requests::One(signed)) => is_subscribe(&signed),
        Ok(Requests::Batch(requests)) => requests.iter().all(is_subscribe),
        Err(_) => false,
    }
}

/// The issuer's key of every voucher network of the tests: generating one takes a while.
fn issuer_key() -> &'static IssuerKey {
    static KEY: std::sync::OnceLock<IssuerKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| IssuerKey::generate(1).expect("an RSA key"))
}

fn fingerprint(index: usize) -> Fingerprint {
    Fingerprint::from_bytes([index as u8 + 1; 32])
}

/// Relays each of its own operator and subnet, so any one may host what a device behind any
/// other writes; signed by a test authority, as devices take only signed network files. With
/// an issuer, the network requires vouchers.
fn directory(relays: usize, issuer: Option<VoucherIssuer>) -> Directory {
    let relays = (0..relays)
        .map(|index| {
            let n = index as u8 + 1;
            Relay {
                descriptor: Descriptor {
                    address: RelayAddress {
                        fingerprint: fingerprint(index),
                        host: format!("10.{n}.0.1"),
                        port: 4433,
                    },
                    onion_key: OnionKey::for_epoch(0, EPOCH_SECS, [n; 32]).expect("in range"),
                    next_onion_key: OnionKey::for_epoch(1, EPOCH_SECS, [n + 100; 32])
                        .expect("in range"),
                },
                stake: Stake {
                    operator: format!("operator{n}"),
                    weight: 1,
                },
            }
        })
        .collect();
    let authority = SigningKey::from_bytes(&[0xa5; 32]);
    let directory = Directory::new(EPOCH_SECS, relays).expect("a valid directory");
    match issuer {
        Some(issuer) => directory
            .with_issuer(issuer)
            .expect("the issuer is a relay"),
        None => directory,
    }
    .with_authorities(Authorities::single(authority.verifying_key()))
    .sign(&authority)
    .expect("signed by its authority")
}

impl MemoryNetwork {
    /// `relays` relays (at most 100), faults drawn from `seed`.
    pub fn new(relays: usize, seed: u64, faults: Faults) -> Self {
        Self::with_policy(relays, seed, faults, None)
    }

    /// As [`MemoryNetwork::new`], on a network whose hosts take a voucher per mailbox and
    /// link: relay 0 is its issuer and gives each device key `allowance` vouchers a day.
    pub fn with_vouchers(relays: usize, seed: u64, faults: Faults, allowance: u32) -> Self {
        Self::with_policy(relays, seed, faults, Some(allowance))
    }

    fn with_policy(relays: usize, seed: u64, faults: Faults, allowance: Option<u32>) -> Self {
        let issuer = allowance.map(|per_device_per_day| Issuer {
            keys: vec![issuer_key().clone()],
            per_device_per_day,
        });
        let accepted: Vec<_> = issuer
            .iter()
            .map(|_| issuer_key().public().clone())
            .collect();
        let hosts = (0..relays)
            .map(|index| {
                let policy = VoucherPolicy {
                    accepted: accepted.clone(),
                    own: fingerprint(index),
                    issuer: issuer.clone().filter(|_| index == 0),
                };
                let host = Host::open(MemoryStore::new(), HostConfig::default())
                    .expect("a memory store opens")
                    .with_vouchers(policy);
                let relay = SimulatedRelay {
                    host,
                    subscriptions: HashMap::new(),
                    links: Vec::new(),
                    seen: HashSet::new(),
                    down_until: None,
                };
                (fingerprint(index), relay)
            })
            .collect();
        let issuer = issuer.map(|_| {
            VoucherIssuer::new(fingerprint(0), vec![issuer_key().public().clone()])
                .expect("one key")
        });
        let shared = Arc::new(Shared {
            directory: directory(relays, issuer),
            state: Mutex::new(State {
                rng: StdRng::seed_from_u64(seed),
                faults,
                relays: hosts,
                stats: Stats::default(),
            }),
        });
        Self {
            shared,
            packets: Arc::default(),
        }
    }

    /// The same network, for one device: what its links carry is counted apart.
    pub fn for_device(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            packets: Arc::default(),
        }
    }

    /// What this device's links carried (see [`Packets`]).
    pub fn packets(&self) -> &Arc<Packets> {
        &self.packets
    }

    /// The signed network file of these relays.
    pub fn directory(&self) -> Directory {
        self.shared.directory.clone()
    }

    /// The relay numbered `index` (from 0).
    pub fn relay(&self, index: usize) -> Fingerprint {
        fingerprint(index)
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
    }

    pub fn stats(&self) -> Stats {
        self.state().stats
    }

    /// Runs `frame` at `relay` as a client outside any device would, and returns the answer.
    pub fn send_to(&self, relay: &Fingerprint, frame: Vec<u8>) -> Vec<u8> {
        let mut guard = self.state();
        let State { rng, relays, .. } = &mut *guard;
        let relay = relays.get_mut(relay).expect("a relay of this network");
        let outcome = relay.host.handle_batch(&[frame], Self::unix_now(), rng);
        outcome.handled[0].frame.clone()
    }

    /// Mailboxes and links `relay` holds.
    pub fn held(&self, relay: &Fingerprint) -> (u64, u64) {
        let stats = self.state().relays[relay].host.stats();
        (stats.mailboxes, stats.links)
    }

    /// Restarts `relay`, down for `down_for`: what its store holds stays (the host's data and
    /// its replay memory), what its shell held is gone: subscriptions, and the paths of pushes
    /// on their way. Every link to it sees its epoch move on and subscribes again.
    pub fn restart(&self, relay: &Fingerprint, down_for: Duration) {
        let mut state = self.state();
        state.stats.restarts += 1;
        let relay = state
            .relays
            .get_mut(relay)
            .expect("a relay of this network");
        relay.subscriptions.clear();
        relay.down_until = Some(Instant::now() + down_for);
        relay.links.retain(|link| match link.upgrade() {
            Some(link) => {
                link.restarts.fetch_add(1, Ordering::SeqCst);
                true
            }
            None => false,
        });
    }

    /// What the host of `relay` holds, as its counters say.
    pub fn host_stats(&self, relay: &Fingerprint) -> HostStats {
        self.state().relays[relay].host.stats()
    }

    /// Every key and value the host of `relay` stores, as a curious host would read them.
    pub fn stored(&self, relay: &Fingerprint) -> Vec<Vec<u8>> {
        let mut state = self.state();
        let store = state
            .relays
            .get_mut(relay)
            .expect("a relay of this network")
            .host
            .store_mut();
        let txn = store.begin().expect("the memory store begins");
        Table::ALL
            .into_iter()
            .flat_map(|table| {
                txn.range(table, &[], &[0xff; 64], usize::MAX)
                    .expect("the memory store reads")
            })
            .flat_map(|(key, value)| [key, value])
            .collect()
    }

    /// Passes every stored file chunk of `relay` through `alter`, as a dishonest host would;
    /// returns how many there were.
    pub fn alter_chunks(&self, relay: &Fingerprint, alter: impl Fn(&mut Vec<u8>)) -> usize {
        let mut state = self.state();
        let store = state
            .relays
            .get_mut(relay)
            .expect("a relay of this network")
            .host
            .store_mut();
        let mut txn = store.begin().expect("the memory store begins");
        let chunks = txn
            .range(Table::Chunks, &[], &[0xff; 64], usize::MAX)
            .expect("the memory store reads");
        for (key, mut value) in chunks.clone() {
            alter(&mut value);
            txn.put(Table::Chunks, &key, &value)
                .expect("the memory store writes");
        }
        txn.commit().expect("the memory store commits");
        chunks.len()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The hosts' clock: the system's, which clients stamp their requests with. (Tokio's
    /// paused time runs far ahead of it in a long test, and would make requests stale.)
    fn unix_now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// Sends a request frame on `link`; its answer (or answers) go to `answers`.
    pub(crate) fn request(
        &self,
        link: &Arc<Link>,
        frame: Vec<u8>,
        answers: mpsc::UnboundedSender<Vec<u8>>,
    ) {
        let counted = !subscribes(&frame);
        if counted {
            self.packets.sent.fetch_add(1, Ordering::SeqCst);
        } else {
            self.packets.subscribe_frames.fetch_add(1, Ordering::SeqCst);
        }
        let fates = {
            let mut state = self.state();
            let faults = state.faults.requests;
            faults.draw(&mut state.rng)
        };
        let (network, at) = (self.clone(), link.clone());
        let packets = self.packets.clone();
        link.requests.carry(fates, frame, move |frame| {
            let answers = answers.clone();
            let packets = packets.clone();
            let counted_answers = move |answer| {
                if counted {
                    packets.received();
                }
                let _ = answers.send(answer);
            };
            network.arrive(&at, frame, counted_answers)
        });
    }

    /// A request reaches its host: the host runs it, its answer goes back on the link, and
    /// what it appended is pushed to every subscribed link (as `sotto_relay`'s shell does).
    fn arrive(
        &self,
        link: &Arc<Link>,
        frame: Vec<u8>,
        answers: impl Fn(Vec<u8>) + Clone + Send + Sync + 'static,
    ) {
        let mut guard = self.state();
        let State {
            rng,
            faults,
            relays,
            stats,
        } = &mut *guard;
        let relay = relays.get_mut(&link.host).expect("links go to relays");
        if relay.down_until.is_some_and(|until| Instant::now() < until) {
            stats.refused_while_down += 1;
            return;
        }
        if !relay.seen.insert(Sha256::digest(&frame).into()) {
            stats.repeats += 1;
        }
        let BatchOutcome {
            handled,
            appended,
            gone,
        } = relay
            .host
            .handle_batch(std::slice::from_ref(&frame), Self::unix_now(), rng);
        for read_id in &gone {
            relay.subscriptions.remove(read_id);
        }
        for handled in handled {
            stats.handled += 1;
            if handled.error == Some(ErrorCode::Stale) {
                stats.stale += 1;
            }
            let subscribed = std::iter::once(&handled)
                .chain(&handled.batched)
                .filter_map(|h| h.subscribed);
            for read_id in subscribed {
                let links = relay.subscriptions.entry(read_id).or_default();
                if !links.iter().any(|l| l.ptr_eq(&Arc::downgrade(link))) {
                    links.push(Arc::downgrade(link));
                }
            }
            let fates = faults.answers.draw(rng);
            let answers = answers.clone();
            // The round trip may be over: an answer to an earlier attempt came first.
            link.answers.carry(fates, handled.frame, answers);
        }
        for appended in appended {
            for read_id in appended.read_ids {
                let Some(links) = relay.subscriptions.get_mut(&read_id) else {
                    continue;
                };
                links.retain(|l| l.strong_count() > 0);
                let push = Push {
                    read_id,
                    message: appended.message.clone(),
                };
                let frame = push.seal().expect("a stored message fits a push");
                for subscriber in links.iter().filter_map(Weak::upgrade) {
                    stats.pushes += 1;
                    let fates = faults.pushes.draw(rng);
                    let restarts = subscriber.restarts.load(Ordering::SeqCst);
                    let to = subscriber.clone();
                    subscriber
                        .pushes_lane
                        .carry(fates, frame.clone(), move |frame| {
                            // A push on its way when its host restarted lost its path.
                            if to.restarts.load(Ordering::SeqCst) == restarts {
                                to.packets.received();
                                let _ = to.pushes.send(frame);
                            }
                        });
                }
            }
        }
    }
}

impl Network for MemoryNetwork {
    type Transport = MemoryTransport;

    async fn connect(
        &mut self,
        _directory: &Directory,
        entry: Fingerprint,
        host: Fingerprint,
    ) -> Result<MemoryTransport, TransportError> {
        if entry == host {
            return Err(TransportError::Connect(
                "a device entered at the mailbox's host, which would learn both ends".into(),
            ));
        }
        let mut state = self.state();
        let Some(relay) = state.relays.get_mut(&host) else {
            return Err(TransportError::Connect(format!("no relay {host}")));
        };
        let (link, transport) = MemoryTransport::new(self.clone(), host);
        relay.links.push(Arc::downgrade(&link));
        Ok(transport)
    }
}
