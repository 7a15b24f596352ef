//! What a relay keeps per connection for its onion roles: the client addresses registered on
//! it (gateway) and what the connection may still make this relay do. Sans-IO: `C` is the
//! connection handle (a `quinn::Connection` in the relay), time is passed in.
//!
//! # Why per connection
//!
//! A gateway passes a client's packets on unpeeled, so random bytes cost the client nothing
//! and the next relay a key agreement each. The gateway cannot tell junk from packets, but it
//! can bound what each client injects (packets and bytes a second, far above what a person
//! sends), and the next relay can bound what each link makes it peel, charging a packet that
//! does not open more than one that does: a link that carries junk is throttled, and what it
//! takes from the relay's peel budget is bounded, so the other links' packets go through.

use std::collections::HashMap;
use std::time::Instant;

use sotto_quic::onion::CLIENT_ADDRESS_LEN;

use super::bucket::TokenBucket;
use super::limits::OnionLimits;

/// A client's address at its gateway.
pub type ClientAddress = [u8; CLIENT_ADDRESS_LEN];

/// What a packet that does not open costs its link, in peels: junk uses up a link's share
/// this many times faster than packets do. Not more: a gateway cannot tell its clients' junk
/// from their packets, so one junk client at its own limit must not take its gateway's link.
const JUNK_COST: u32 = 4;

/// Why a peer's stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Over one of the connection's rate limits.
    Busy,
    /// The connection registered as many addresses as it may.
    TooManyAddresses,
}

struct Peer {
    addresses: Vec<ClientAddress>,
    /// Packets a client injects.
    injected: TokenBucket,
    /// Bytes of every stream a client sends (registrations, injections, junk of any length).
    bytes: TokenBucket,
    /// Packets a relay link has this relay peel, junk charged [`JUNK_COST`].
    peeled: TokenBucket,
}

pub struct Peers<C> {
    limits: OnionLimits,
    connections: HashMap<usize, Peer>,
    clients: HashMap<ClientAddress, (usize, C)>,
}

impl<C: Clone> Peers<C> {
    pub fn new(limits: OnionLimits) -> Self {
        Self {
            limits,
            connections: HashMap::new(),
            clients: HashMap::new(),
        }
    }

    fn peer(&mut self, connection: usize, now: Instant) -> &mut Peer {
        let limits = &self.limits;
        self.connections.entry(connection).or_insert_with(|| Peer {
            addresses: Vec::new(),
            injected: TokenBucket::new(
                limits.client_packets_per_second,
                limits.client_packets_burst,
                now,
            ),
            bytes: TokenBucket::new(
                limits.client_bytes_per_second,
                limits.client_bytes_burst,
                now,
            ),
            peeled: TokenBucket::new(
                limits.link_peel_per_second,
                limits.link_peel_per_second.saturating_mul(2),
                now,
            ),
        })
    }

    /// Charges a client stream of `len` bytes (not a relay's packet) to its connection.
    pub fn admit_client_stream(
        &mut self,
        connection: usize,
        len: usize,
        now: Instant,
    ) -> Result<(), Refusal> {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        if self.peer(connection, now).bytes.take(len, now) {
            Ok(())
        } else {
            Err(Refusal::Busy)
        }
    }

    /// Charges one injected packet to its connection.
    pub fn admit_injection(&mut self, connection: usize, now: Instant) -> Result<(), Refusal> {
        if self.peer(connection, now).injected.take(1, now) {
            Ok(())
        } else {
            Err(Refusal::Busy)
        }
    }

    /// Charges one packet to peel to the link it came on.
    pub fn admit_peel(&mut self, connection: usize, now: Instant) -> Result<(), Refusal> {
        if self.peer(connection, now).peeled.take(1, now) {
            Ok(())
        } else {
            Err(Refusal::Busy)
        }
    }

    /// The packet admitted last on `connection` did not open: charges the rest of its cost.
    pub fn junk(&mut self, connection: usize, now: Instant) {
        self.peer(connection, now).peeled.drain(JUNK_COST - 1, now);
    }

    /// Registers `address` for deliveries on `connection` (`handle`).
    pub fn register(
        &mut self,
        connection: usize,
        handle: &C,
        address: ClientAddress,
        now: Instant,
    ) -> Result<(), Refusal> {
        let most = self.limits.addresses_per_connection;
        let peer = self.peer(connection, now);
        if !peer.addresses.contains(&address) {
            if peer.addresses.len() >= most {
                return Err(Refusal::TooManyAddresses);
            }
            peer.addresses.push(address);
        }
        // An address moved from another connection (a client that reconnected before its
        // old connection timed out) is that connection's no more.
        if let Some((old, _)) = self
            .clients
            .insert(address, (connection, handle.clone()))
            .filter(|(old, _)| *old != connection)
        {
            if let Some(peer) = self.connections.get_mut(&old) {
                peer.addresses.retain(|a| *a != address);
            }
        }
        Ok(())
    }

    /// The connection of the client registered as `address`.
    pub fn client(&self, address: &ClientAddress) -> Option<C> {
        self.clients.get(address).map(|(_, handle)| handle.clone())
    }

    /// Forgets `connection` and the addresses registered on it (no more than it may hold).
    pub fn closed(&mut self, connection: usize) {
        if let Some(peer) = self.connections.remove(&connection) {
            for address in peer.addresses {
                self.clients.remove(&address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> OnionLimits {
        OnionLimits {
            client_packets_per_second: 10,
            client_packets_burst: 20,
            link_peel_per_second: 100,
            addresses_per_connection: 2,
            ..OnionLimits::default()
        }
    }

    /// A junk injector meets its own limit at the gateway; another client behind the same
    /// gateway injects as before.
    #[test]
    fn one_clients_flood_is_stopped_and_anothers_packets_pass() {
        let start = Instant::now();
        let mut peers: Peers<()> = Peers::new(limits());
        let passed = (0..1_000)
            .filter(|_| peers.admit_injection(1, start).is_ok())
            .count();
        assert_eq!(passed, 20, "the flood passes its burst, no more");
        assert!((0..20).all(|_| peers.admit_injection(2, start).is_ok()));
        let later = start + Duration::from_secs(1);
        assert_eq!(
            (0..1_000)
                .filter(|_| peers.admit_injection(1, later).is_ok())
                .count(),
            10
        );
    }

    #[test]
    fn a_link_that_carries_junk_is_throttled_sooner() {
        let start = Instant::now();
        let mut peers: Peers<()> = Peers::new(limits());
        let mut junk_passed = 0;
        while peers.admit_peel(1, start).is_ok() {
            peers.junk(1, start);
            junk_passed += 1;
        }
        assert_eq!(junk_passed, 200 / JUNK_COST as usize);
        let good = (0..1_000)
            .filter(|_| peers.admit_peel(2, start).is_ok())
            .count();
        assert_eq!(good, 200);
    }

    #[test]
    fn registrations_are_bounded_and_forgotten_with_their_connection() {
        let now = Instant::now();
        let mut peers: Peers<u8> = Peers::new(limits());
        assert_eq!(peers.register(1, &1, [1; 32], now), Ok(()));
        assert_eq!(peers.register(1, &1, [1; 32], now), Ok(()));
        assert_eq!(peers.register(1, &1, [2; 32], now), Ok(()));
        assert_eq!(
            peers.register(1, &1, [3; 32], now),
            Err(Refusal::TooManyAddresses)
        );
        assert_eq!(peers.client(&[3; 32]), None);
        // A client that reconnected takes its address along.
        assert_eq!(peers.register(2, &2, [2; 32], now), Ok(()));
        assert_eq!(peers.client(&[2; 32]), Some(2));
        peers.closed(1);
        assert_eq!(peers.client(&[1; 32]), None);
        assert_eq!(peers.client(&[2; 32]), Some(2));
        peers.closed(2);
        assert_eq!((peers.client(&[2; 32]), peers.connections.len()), (None, 0));
    }
}
