//! Sphinx packets of one size, and the single-use reply blocks (SURBs) replies travel on.
//!
//! Every packet on every link is [`PACKET_LEN`] bytes: a Sphinx header and a 16 KiB payload,
//! whatever it carries, so a link observer learns nothing from sizes. A relay peels one layer
//! with its onion key and learns only the next hop, or, at the final hop, the destination and
//! the plaintext meant for it. Forward packets carry no mixing delay: sotto aims at interactive
//! latency, and timing protection comes from elsewhere (see the design's threat model).
//!
//! A request's header is made ahead of time ([`RequestHeader`]): its key agreements, one per
//! hop, are most of building a packet and do not depend on what the packet carries. It is the
//! same version-260 header a reply block has, carrying every hop's payload key, so it is the
//! very packet `sphinx-packet`'s builder makes and a hop cannot tell requests from replies.
//!
//! Replies use recoverable single-seed SURBs (`sphinx-packet` version 260): the host that uses
//! a reply block adds one layer, the hops peel theirs, and only the client that made the block,
//! holding its [`ReplyKey`], can read the reply. The route of a reply block ends at the client's
//! gateway, whose final hop yields the client's address and the still-sealed payload.

use sphinx_packet::constants::{IDENTIFIER_LENGTH, NODE_ADDRESS_LENGTH};
use sphinx_packet::crypto::{PrivateKey, PublicKey};
use sphinx_packet::header::delays::Delay;
use sphinx_packet::header::shared_secret::ExpandedSharedSecret;
use sphinx_packet::header::HEADER_SIZE;
use sphinx_packet::payload::{Payload, PAYLOAD_OVERHEAD_SIZE};
use sphinx_packet::route::{Destination, DestinationAddressBytes, Node, NodeAddressBytes};
use sphinx_packet::version::SINGLE_SEED_SURB_VERSION;
use sphinx_packet::{ProcessedPacketData, SURBMaterial, SphinxPacket, SurbReplyRecovery, SURB};
use thiserror::Error;
use zeroize::Zeroizing;

/// Bytes of payload in every packet.
pub const PAYLOAD_LEN: usize = 16 * 1024;
/// Bytes of every packet on the wire.
pub const PACKET_LEN: usize = HEADER_SIZE + PAYLOAD_LEN;
/// Largest plaintext one packet carries.
pub const PLAINTEXT_LEN: usize = PAYLOAD_LEN - PAYLOAD_OVERHEAD_SIZE;
/// Bytes of an encoded reply block.
pub const REPLY_BLOCK_LEN: usize = HEADER_SIZE + NODE_ADDRESS_LENGTH + 16;

/// A relay's address inside packets: its 32-byte identity fingerprint.
pub type NodeId = [u8; NODE_ADDRESS_LENGTH];
/// Where a final hop delivers: a host's own id, or a client's address at its gateway.
pub type DestinationId = [u8; 32];
/// Identifies a reply block, in the clear to its final hop only.
pub type ReplyId = [u8; IDENTIFIER_LENGTH];

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PacketError {
    #[error("a packet is {expected} bytes, got {got}")]
    Length { got: usize, expected: usize },
    #[error("{0} bytes of plaintext do not fit one packet (at most {PLAINTEXT_LEN})")]
    TooLong(usize),
    #[error("a route needs 1 to 5 hops, got {0}")]
    Route(usize),
    #[error("malformed packet: {0}")]
    Malformed(String),
    #[error("the packet is not for this key or was tampered with: {0}")]
    Unwrap(String),
    #[error("malformed reply block: {0}")]
    ReplyBlock(String),
    #[error("the reply does not open with this reply key: {0}")]
    Reply(String),
}

/// One hop of a route: who, and the onion key of the epoch the packet is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteHop {
    pub node: NodeId,
    pub onion_key: [u8; 32],
}

fn sphinx_route(route: &[RouteHop]) -> Result<(Vec<Node>, Vec<Delay>), PacketError> {
    if route.is_empty() || route.len() > sphinx_packet::constants::MAX_PATH_LENGTH {
        return Err(PacketError::Route(route.len()));
    }
    let nodes = route
        .iter()
        .map(|hop| {
            Node::new(
                NodeAddressBytes::from_bytes(hop.node),
                PublicKey::from(hop.onion_key),
            )
        })
        .collect();
    Ok((nodes, vec![Delay::new_from_millis(0); route.len()]))
}

/// A packet of exactly [`PACKET_LEN`] bytes.
pub struct OnionPacket(SphinxPacket);

/// What peeling one layer gave.
pub enum Peeled {
    /// Send `packet` on to `next`.
    Forward { next: NodeId, packet: OnionPacket },
    /// This relay is the last hop. A request's `destination` is the host itself, and its
    /// payload opens with [`open_request`] (its `reply` id means nothing); otherwise `reply` is
    /// a reply block's id and the payload stays sealed for the client at `destination`.
    Final {
        destination: DestinationId,
        reply: ReplyId,
        payload: Vec<u8>,
    },
}

/// The outcome of processing a packet, with the tag that detects its replay.
pub struct Processed {
    /// Unique per packet and hop; a relay drops a packet whose tag it has seen this epoch.
    pub replay_tag: [u8; 32],
    pub peeled: Peeled,
}

/// The header of a request not yet written: sealing a plaintext onto it makes the packet.
pub struct RequestHeader(SURB);

impl RequestHeader {
    /// A header along `route` for `destination`, the route's last hop.
    pub fn new(route: &[RouteHop], destination: DestinationId) -> Result<Self, PacketError> {
        Self::with_secret(route, destination, PrivateKey::random(), random_id())
    }

    fn with_secret(
        route: &[RouteHop],
        destination: DestinationId,
        secret: PrivateKey,
        id: ReplyId,
    ) -> Result<Self, PacketError> {
        let (nodes, delays) = sphinx_route(route)?;
        let destination = Destination::new(DestinationAddressBytes::from_bytes(destination), id);
        let material = SURBMaterial::new(nodes, delays, destination, SINGLE_SEED_SURB_VERSION);
        let (block, recovery) = SURB::new_recoverable(secret, material)
            .map_err(|e| PacketError::Malformed(e.to_string()))?;
        // A reply block hands out the last hop's payload key only; its maker's recovery
        // material holds every hop's. A block with all of them layers the payload for every
        // hop, as a forward packet is.
        let recovery = Zeroizing::new(recovery.to_bytes());
        let mut bytes = Zeroizing::new(block.to_bytes());
        bytes.truncate(HEADER_SIZE + NODE_ADDRESS_LENGTH);
        bytes.extend_from_slice(&recovery[IDENTIFIER_LENGTH..]);
        SURB::from_bytes(&bytes)
            .map(Self)
            .map_err(|e| PacketError::Malformed(e.to_string()))
    }

    /// The packet carrying `plaintext` on this header.
    pub fn seal(self, plaintext: &[u8]) -> Result<OnionPacket, PacketError> {
        if plaintext.len() > PLAINTEXT_LEN {
            return Err(PacketError::TooLong(plaintext.len()));
        }
        self.0
            .use_surb(plaintext, PAYLOAD_LEN)
            .map(|(packet, _)| OnionPacket(packet))
            .map_err(|e| PacketError::Malformed(e.to_string()))
    }
}

/// A random non-zero reply id (zero is refused by `sphinx-packet`).
fn random_id() -> ReplyId {
    let mut id = [0u8; IDENTIFIER_LENGTH];
    while id == [0; IDENTIFIER_LENGTH] {
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
    }
    id
}

impl OnionPacket {
    /// Builds a request along `route` for `destination`, the route's last hop.
    pub fn build(
        route: &[RouteHop],
        destination: DestinationId,
        plaintext: &[u8],
    ) -> Result<Self, PacketError> {
        RequestHeader::new(route, destination)?.seal(plaintext)
    }

    pub fn from_wire(bytes: &[u8]) -> Result<Self, PacketError> {
        if bytes.len() != PACKET_LEN {
            return Err(PacketError::Length {
                got: bytes.len(),
                expected: PACKET_LEN,
            });
        }
        SphinxPacket::from_bytes(bytes)
            .map(Self)
            .map_err(|e| PacketError::Malformed(e.to_string()))
    }

    pub fn to_wire(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    /// Peels this relay's layer with its onion key for the packet's epoch.
    pub fn process(self, onion_secret: &[u8; 32]) -> Result<Processed, PacketError> {
        self.process_with_any([(0, *onion_secret)])
            .map(|(_, processed)| processed)
    }

    /// Peels this relay's layer with the first of `keys` (epoch, onion secret) whose header
    /// MAC verifies, and says which epoch that was. A wrong key costs one key agreement and
    /// one MAC, never the payload's decryption.
    pub fn process_with_any(
        self,
        keys: impl IntoIterator<Item = (u64, [u8; 32])>,
    ) -> Result<(u64, Processed), PacketError> {
        let opened = keys.into_iter().find_map(|(epoch, secret)| {
            let expanded = self
                .0
                .header
                .compute_expanded_shared_secret(&PrivateKey::from(secret));
            self.0
                .header
                .ensure_header_integrity(&expanded)
                .is_ok()
                .then_some((epoch, expanded))
        });
        let (epoch, expanded) =
            opened.ok_or_else(|| PacketError::Unwrap("no accepted key opens the header".into()))?;
        self.peel(&expanded).map(|processed| (epoch, processed))
    }

    fn peel(self, expanded: &ExpandedSharedSecret) -> Result<Processed, PacketError> {
        let replay_tag = *expanded.replay_tag();
        let processed = self
            .0
            .process_with_expanded_secret(expanded)
            .map_err(|e| PacketError::Unwrap(e.to_string()))?;
        let peeled = match processed.data {
            ProcessedPacketData::ForwardHop {
                next_hop_packet,
                next_hop_address,
                ..
            } => Peeled::Forward {
                next: next_hop_address.to_bytes(),
                packet: Self(next_hop_packet),
            },
            ProcessedPacketData::FinalHop {
                destination,
                identifier,
                payload,
            } => Peeled::Final {
                destination: destination.as_bytes(),
                reply: identifier,
                payload: payload.as_bytes().to_vec(),
            },
        };
        Ok(Processed { replay_tag, peeled })
    }
}

/// The plaintext of a forward request's final payload.
pub fn open_request(payload: &[u8]) -> Result<Vec<u8>, PacketError> {
    Payload::from_bytes(payload)
        .and_then(Payload::recover_plaintext)
        .map_err(|e| PacketError::Malformed(e.to_string()))
}

/// A single-use reply block, handed to a host inside a request.
pub struct ReplyBlock(SURB);

/// What the client keeps to read the reply sent on its block.
pub struct ReplyKey(SurbReplyRecovery);

/// Makes a reply block over `route` (ending at the client's gateway) to the client's address
/// at that gateway, and the key that reads what comes back on it.
pub fn new_reply_block(
    route: &[RouteHop],
    client: DestinationId,
) -> Result<(ReplyBlock, ReplyKey), PacketError> {
    let (nodes, delays) = sphinx_route(route)?;
    let destination = Destination::new(DestinationAddressBytes::from_bytes(client), random_id());
    let material = SURBMaterial::new(nodes, delays, destination, SINGLE_SEED_SURB_VERSION);
    let (surb, recovery) = material
        .construct_recoverable_SURB()
        .map_err(|e| PacketError::ReplyBlock(e.to_string()))?;
    Ok((ReplyBlock(surb), ReplyKey(recovery)))
}

impl ReplyBlock {
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PacketError> {
        if bytes.len() != REPLY_BLOCK_LEN {
            return Err(PacketError::ReplyBlock(format!(
                "{} bytes, expected {REPLY_BLOCK_LEN}",
                bytes.len()
            )));
        }
        SURB::from_bytes(bytes)
            .map(Self)
            .map_err(|e| PacketError::ReplyBlock(e.to_string()))
    }

    /// Seals `plaintext` onto the block; returns the packet and the relay to hand it to.
    pub fn send(self, plaintext: &[u8]) -> Result<(OnionPacket, NodeId), PacketError> {
        if plaintext.len() > PLAINTEXT_LEN {
            return Err(PacketError::TooLong(plaintext.len()));
        }
        let (packet, first) = self
            .0
            .use_surb(plaintext, PAYLOAD_LEN)
            .map_err(|e| PacketError::ReplyBlock(e.to_string()))?;
        Ok((OnionPacket(packet), first.to_bytes()))
    }
}

impl ReplyKey {
    /// The id the reply arrives under, to find this key.
    pub fn id(&self) -> ReplyId {
        *self.0.identifier()
    }

    /// Reads a reply's payload as its final hop delivered it.
    pub fn open(&self, payload: &[u8]) -> Result<Vec<u8>, PacketError> {
        let sealed = Payload::from_bytes(payload).map_err(|e| PacketError::Reply(e.to_string()))?;
        self.0
            .recover_plaintext(sealed)
            .map_err(|e| PacketError::Reply(e.to_string()))
    }
}

#[cfg(test)]
mod tests;
