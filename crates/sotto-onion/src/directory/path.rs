//! Hops and paths as the directory hands them out, ready to become Sphinx routes.

use sotto_proto::{Fingerprint, RelayAddress};
use sphinx_packet::crypto::PublicKey;
use sphinx_packet::route::{Node, NodeAddressBytes};

/// One Sphinx hop: a relay that removes one layer of the packet, with the key to encrypt that
/// layer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub address: RelayAddress,
    pub onion_key: [u8; 32],
    /// The epoch `onion_key` serves, so the sender knows how long the path stays usable.
    pub epoch: u64,
}

impl Hop {
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.address.fingerprint
    }

    /// The hop's address inside a Sphinx header: the fingerprint itself (both are 32 bytes), so
    /// the previous hop finds where to forward with [`Directory::relay_at`] and no other table.
    pub fn node_address(&self) -> NodeAddressBytes {
        NodeAddressBytes::from_bytes(*self.fingerprint().as_bytes())
    }

    /// The hop as a `sphinx-packet` route node.
    pub fn sphinx_node(&self) -> Node {
        Node::new(self.node_address(), PublicKey::from(self.onion_key))
    }

    /// The hop as [`crate::packet`] builds packets for it.
    pub fn route_hop(&self) -> crate::packet::RouteHop {
        crate::packet::RouteHop {
            node: *self.fingerprint().as_bytes(),
            onion_key: self.onion_key,
        }
    }
}

/// A chosen path: the relay that injects the packet (`entry`), then the Sphinx hops, mixes
/// first and the destination last. All relays on it are distinct, and there is at least one
/// mix, so neither end learns the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub(super) entry: RelayAddress,
    pub(super) mixes: Vec<Hop>,
    pub(super) destination: Hop,
}

impl Path {
    /// The relay that sends the packet to the first hop: the client's gateway for a request,
    /// the mailbox host for a reply. It removes no layer, so it needs no key here.
    pub fn entry(&self) -> &RelayAddress {
        &self.entry
    }

    pub fn mixes(&self) -> &[Hop] {
        &self.mixes
    }

    pub fn destination(&self) -> &Hop {
        &self.destination
    }

    /// Where the entry sends the packet: the first mix.
    pub fn first_hop(&self) -> &Hop {
        self.mixes.first().unwrap_or(&self.destination)
    }

    /// The Sphinx hops in order: the mixes, then the destination.
    pub fn hops(&self) -> impl Iterator<Item = &Hop> {
        self.mixes.iter().chain(std::iter::once(&self.destination))
    }

    /// Every relay the packet passes, in order: the entry, the mixes, the destination.
    pub fn relays(&self) -> Vec<sotto_proto::Fingerprint> {
        std::iter::once(self.entry.fingerprint)
            .chain(self.hops().map(|hop| *hop.fingerprint()))
            .collect()
    }

    /// The Sphinx route to build a packet or a reply block for.
    pub fn sphinx_route(&self) -> Vec<Node> {
        self.hops().map(Hop::sphinx_node).collect()
    }

    /// The Sphinx hops as [`crate::packet`] takes them.
    pub fn route(&self) -> Vec<crate::packet::RouteHop> {
        self.hops().map(Hop::route_hop).collect()
    }
}
