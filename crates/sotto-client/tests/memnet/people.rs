//! People with a device each on the in-memory network, run the way `sotto serve` runs them,
//! and the checks every test ends with.

use std::path::PathBuf;
use std::time::Duration;

use sotto_client::{init, open_store, Arrivals, Device, Event, Unlock};
use sotto_proto::conversation::MessageId;

use crate::network::MemoryNetwork;

/// How long a device's loop waits for more before it counts as settled: longer than any
/// delay, resend and held frame of the faults the tests use, and than the 30 s after which a
/// link renews its push path (which is what finds a lost last push).
pub const QUIET: Duration = Duration::from_secs(35);
/// Longer than anything the tests make happen at once: a network still busy after it never
/// settles (a device whose loop keeps failing, say).
const SETTLE_AT_MOST: Duration = Duration::from_secs(600);

pub struct Person {
    pub name: &'static str,
    home: PathBuf,
    pub device: Device<MemoryNetwork>,
    /// The device's handle on the network, which counts its packets.
    network: MemoryNetwork,
    /// Taken by `listen`: from then on pushes are applied as they arrive.
    arrivals: Option<Arrivals>,
    /// Every event the device reported, in order.
    pub events: Vec<Event>,
    /// What made its loop report itself offline, as `sotto serve` would.
    pub offline: Vec<String>,
}

impl Person {
    /// A new device of `name`, keeping relay `gateway` as its gateway (so where its mailboxes
    /// go does not depend on the draw of a gateway).
    pub fn new(network: &MemoryNetwork, name: &'static str, gateway: usize) -> Self {
        let home = std::env::temp_dir().join(format!(
            "sotto-memnet-{}-{:016x}",
            name.to_lowercase(),
            rand::random::<u64>()
        ));
        let unlock = Unlock::KeyFile;
        init(&home, name, &unlock).unwrap();
        open_store(&home, &unlock)
            .unwrap()
            .set_gateway(&network.relay(gateway))
            .unwrap();
        let network = network.for_device();
        let device = Device::open_on(&home, &unlock, network.directory(), network.clone()).unwrap();
        Self {
            name,
            home,
            device,
            network,
            arrivals: None,
            events: Vec::new(),
            offline: Vec::new(),
        }
    }

    /// The device as it is after its process was killed and started again: what it had in
    /// memory is gone, its store stays.
    pub fn restart(&mut self, network: &MemoryNetwork) {
        self.arrivals = None;
        self.device = Device::open_on(
            &self.home,
            &Unlock::KeyFile,
            network.directory(),
            network.clone(),
        )
        .unwrap();
    }

    /// Where this person's files go.
    pub fn path(&self, name: &str) -> PathBuf {
        self.home.join(name)
    }

    /// Subscribes every mailbox; from now on `settle` applies what arrives.
    pub async fn listen(&mut self) {
        self.device.listen().await.unwrap();
        if self.arrivals.is_none() {
            self.arrivals = self.device.arrivals();
        }
    }

    /// One-shot catching up, as `sotto read` does.
    pub async fn sync(&mut self) {
        let events = self.device.sync().await.unwrap();
        self.events.extend(events);
    }

    pub async fn send(&mut self, to: &Person, text: &str) -> MessageId {
        self.device.send(to.name, text, None).await.unwrap()
    }

    /// The device's loop, as `sotto serve` runs it, until nothing arrives for `QUIET`: each
    /// batch applied and its events taken, then its follow-ups; a failure is noted and the
    /// loop goes on. Whether anything arrived.
    async fn run(&mut self) -> bool {
        let Some(arrivals) = self.arrivals.as_mut() else {
            return false;
        };
        let mut arrived = false;
        while let Ok(Some(batch)) = tokio::time::timeout(QUIET, arrivals.recv_all()).await {
            arrived = true;
            let follow_up = match self.device.apply_arrivals(batch) {
                Ok((events, follow_up)) => {
                    self.events.extend(events);
                    follow_up
                }
                Err(error) => {
                    self.offline.push(error.to_string());
                    continue;
                }
            };
            match self.device.follow_up(follow_up).await {
                Ok(events) => self.events.extend(events),
                Err(error) => self.offline.push(error.to_string()),
            }
        }
        arrived
    }

    /// Subscribe frames (one subscribe, or a batch of them) this device sent so far.
    pub fn subscribe_frames(&self) -> u64 {
        self.network.packets().subscribe_frames()
    }

    /// Packets this device's links carried so far, sent and received, subscriptions left
    /// out (see `network::Packets`).
    pub fn packets(&self) -> (u64, u64) {
        self.network.packets().now()
    }

    /// The texts of the conversation with `peer`, one way: ids and texts, oldest first.
    pub fn texts(&self, peer: &Person, outgoing: bool) -> Vec<(MessageId, String)> {
        self.device
            .store()
            .messages(peer.name)
            .unwrap()
            .into_iter()
            .filter(|m| m.outgoing == outgoing)
            .map(|m| (m.id, m.text))
            .collect()
    }

    /// The MLS epoch of the conversation with `peer`.
    pub fn epoch(&self, peer: &Person) -> u64 {
        let conversation = self
            .device
            .store()
            .conversation(peer.name)
            .unwrap()
            .unwrap();
        let provider = self.device.store().provider();
        sotto_client::conversation::mls::load_group(&provider, &conversation.group_id)
            .unwrap()
            .epoch()
            .as_u64()
    }
}

impl Drop for Person {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// Runs both devices' loops side by side (as two processes would) until neither gets
/// anything more.
pub async fn settle(a: &mut Person, b: &mut Person) {
    let rounds = async {
        loop {
            let (a_got, b_got) = tokio::join!(a.run(), b.run());
            if !a_got && !b_got {
                return;
            }
        }
    };
    let settled = tokio::time::timeout(SETTLE_AT_MOST, rounds).await;
    assert!(
        settled.is_ok(),
        "still busy after {SETTLE_AT_MOST:?}; offline: {:?} {:?}",
        a.offline,
        b.offline
    );
}

/// `from` sent `texts` to `to`: each arrived once, in the order sent, and came back delivered.
pub fn assert_delivered(from: &Person, to: &Person, texts: &[String]) {
    let only_texts = |messages: &[(MessageId, String)]| -> Vec<String> {
        messages.iter().map(|(_, text)| text.clone()).collect()
    };
    let (sent, received) = (from.texts(to, true), to.texts(from, false));
    assert_eq!(
        only_texts(&sent),
        texts,
        "what {} recorded as sent",
        from.name
    );
    assert_eq!(
        only_texts(&received),
        texts,
        "{}'s texts at {}: each once, in the order sent",
        from.name,
        to.name
    );
    assert_eq!(received, sent, "the same messages (ids) both sides");
    let undelivered: Vec<String> = from
        .device
        .store()
        .messages(to.name)
        .unwrap()
        .into_iter()
        .filter(|m| m.outgoing && !m.delivered)
        .map(|m| m.text)
        .collect();
    assert!(
        undelivered.is_empty(),
        "{}'s texts without a receipt: {undelivered:?}",
        from.name
    );
}

/// Nothing was rejected anywhere (a message applied twice, out of order or forged would be),
/// and no loop ever failed: the simulated network gives up on no request.
pub fn assert_no_trouble(people: &[&Person]) {
    for person in people {
        let rejected: Vec<&Event> = person
            .events
            .iter()
            .filter(|e| matches!(e, Event::Rejected { .. }))
            .collect();
        assert!(rejected.is_empty(), "{}: {rejected:?}", person.name);
        assert!(
            person.offline.is_empty(),
            "{} went offline: {:?}",
            person.name,
            person.offline
        );
    }
}

/// Alice, entering at relay 0, invites; Bob, entering at relay 1, connects; Alice picks the
/// answer up. On a network of two relays each of them reaches some mailbox on their own
/// gateway (through their second guard), which the network would refuse to carry otherwise.
pub async fn connected(network: &MemoryNetwork) -> (Person, Person) {
    let mut alice = Person::new(network, "Alice", 0);
    let mut bob = Person::new(network, "Bob", 1);
    let link = alice.device.invite().await.unwrap().to_string();
    assert_eq!(bob.device.connect(&link, None).await.unwrap(), "Alice");
    alice.sync().await;
    assert_eq!(
        alice.events,
        [Event::Connected {
            alias: "Bob".into()
        }]
    );
    (alice, bob)
}

/// `count` texts named after their sender and number.
pub fn texts(sender: &Person, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{} {i}", sender.name)).collect()
}
