//! The in-memory network: a few relays, each a real mailbox host (`sotto_relay::host::Host`
//! over its memory store) with the shell's subscriptions around it, reached by devices through
//! [`Link`]s that lose, duplicate, delay and reorder frames as [`Faults`] say. Time is tokio's
//! (paused in these tests), so waiting costs nothing.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::{Digest, Sha256};
use sotto_client::{Network, TransportError};
use sotto_onion::directory::{Authorities, Descriptor, Directory, OnionKey, Relay, Stake};
use sotto_proto::{ErrorCode, Fingerprint, Id, Push, RelayAddress};
use sotto_relay::host::{BatchOutcome, Host, HostConfig, HostStats};
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

/// A network of simulated relays; cloning shares it (every device of a test uses one).
#[derive(Clone)]
pub struct MemoryNetwork(Arc<Shared>);

fn fingerprint(index: usize) -> Fingerprint {
    Fingerprint::from_bytes([index as u8 + 1; 32])
}

/// Relays each of its own operator and subnet, so any one may host what a device behind any
/// other writes; signed by a test authority, as devices take only signed network files.
fn directory(relays: usize) -> Directory {
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
    Directory::new(EPOCH_SECS, relays)
        .expect("a valid directory")
        .with_authorities(Authorities::single(authority.verifying_key()))
        .sign(&authority)
        .expect("signed by its authority")
}

impl MemoryNetwork {
    /// `relays` relays (at most 100), faults drawn from `seed`.
    pub fn new(relays: usize, seed: u64, faults: Faults) -> Self {
        let hosts = (0..relays)
            .map(|index| {
                let host = Host::open(MemoryStore::new(), HostConfig::default())
                    .expect("a memory store opens");
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
        Self(Arc::new(Shared {
            directory: directory(relays),
            state: Mutex::new(State {
                rng: StdRng::seed_from_u64(seed),
                faults,
                relays: hosts,
                stats: Stats::default(),
            }),
        }))
    }

    /// The signed network file of these relays.
    pub fn directory(&self) -> Directory {
        self.0.directory.clone()
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
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
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
        let fates = {
            let mut state = self.state();
            let faults = state.faults.requests;
            faults.draw(&mut state.rng)
        };
        let (network, at) = (self.clone(), link.clone());
        link.requests.carry(fates, frame, move |frame| {
            network.arrive(&at, frame, answers.clone())
        });
    }

    /// A request reaches its host: the host runs it, its answer goes back on the link, and
    /// what it appended is pushed to every subscribed link (as `sotto_relay`'s shell does).
    fn arrive(&self, link: &Arc<Link>, frame: Vec<u8>, answers: mpsc::UnboundedSender<Vec<u8>>) {
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
        let BatchOutcome { handled, appended } =
            relay
                .host
                .handle_batch(std::slice::from_ref(&frame), Self::unix_now(), rng);
        for handled in handled {
            stats.handled += 1;
            if handled.error == Some(ErrorCode::Stale) {
                stats.stale += 1;
            }
            if let Some(read_id) = handled.subscribed {
                let links = relay.subscriptions.entry(read_id).or_default();
                if !links.iter().any(|l| l.ptr_eq(&Arc::downgrade(link))) {
                    links.push(Arc::downgrade(link));
                }
            }
            let fates = faults.answers.draw(rng);
            let answers = answers.clone();
            link.answers.carry(fates, handled.frame, move |frame| {
                // The round trip may be over: an answer to an earlier attempt came first.
                let _ = answers.send(frame);
            });
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
