//! How onion traffic rides QUIC streams. Each is one message ([`crate::stream`]), and since
//! every onion packet has one size, a stream's length alone tells what it carries.
//!
//! To a relay ([`Inbound`]):
//! - [`PACKET_LEN`] bytes: a packet to process (from another relay);
//! - [`INJECTION_LEN`] bytes, `first hop [32] | packet`: a client's packet and the relay to
//!   inject it at (gateway role; the gateway does not peel it, it only passes it on);
//! - [`CLIENT_ADDRESS_LEN`] bytes: a client registering the address its replies come to.
//!
//! From a gateway to its client, [`DELIVERY_LEN`] bytes: `reply id [16] | payload`.

use sotto_onion::packet::{NodeId, ReplyId, PACKET_LEN, PAYLOAD_LEN};

/// Length of a client's address at its gateway.
pub const CLIENT_ADDRESS_LEN: usize = 32;
/// Length of a client's packet with the relay it goes to first.
pub const INJECTION_LEN: usize = size_of::<NodeId>() + PACKET_LEN;
/// Length of a delivery from a gateway to its client.
pub const DELIVERY_LEN: usize = size_of::<ReplyId>() + PAYLOAD_LEN;
/// The longest stream a relay reads.
pub const MAX_INBOUND_LEN: usize = INJECTION_LEN;

/// What one stream to a relay carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// A packet to peel.
    Packet(&'a [u8]),
    /// A client's packet, to send on to `first_hop` as it is.
    Injection { first_hop: NodeId, packet: &'a [u8] },
    /// The address a client's replies and pushes come to, on the connection it came on.
    Register([u8; CLIENT_ADDRESS_LEN]),
}

impl<'a> Inbound<'a> {
    /// What `stream` is by its length; `None` for a length nothing has.
    pub fn parse(stream: &'a [u8]) -> Option<Self> {
        match stream.len() {
            PACKET_LEN => Some(Self::Packet(stream)),
            INJECTION_LEN => {
                let (first_hop, packet): (&NodeId, _) = stream.split_first_chunk()?;
                Some(Self::Injection {
                    first_hop: *first_hop,
                    packet,
                })
            }
            CLIENT_ADDRESS_LEN => stream.try_into().ok().map(Self::Register),
            _ => None,
        }
    }
}

/// The stream that injects `packet` at `first_hop` through the client's gateway.
pub fn injection(first_hop: &NodeId, packet: &[u8]) -> Vec<u8> {
    [first_hop.as_slice(), packet].concat()
}

/// The stream that delivers a reply block's `payload` to the client waiting for `reply`.
pub fn delivery(reply: &ReplyId, payload: &[u8]) -> Vec<u8> {
    [reply.as_slice(), payload].concat()
}

/// The reply id and payload of a delivery; `None` if it is too short to hold an id.
pub fn delivery_parts(stream: &[u8]) -> Option<(&ReplyId, &[u8])> {
    stream.split_first_chunk()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stream_is_told_by_its_length() {
        let packet = vec![7u8; PACKET_LEN];
        assert_eq!(Inbound::parse(&packet), Some(Inbound::Packet(&packet)));
        let injected = injection(&[1; 32], &packet);
        assert_eq!(
            Inbound::parse(&injected),
            Some(Inbound::Injection {
                first_hop: [1; 32],
                packet: &packet
            })
        );
        assert_eq!(Inbound::parse(&[2; 32]), Some(Inbound::Register([2; 32])));
        assert_eq!(Inbound::parse(&packet[1..]), None);
        assert_eq!(Inbound::parse(&[]), None);
    }

    #[test]
    fn a_delivery_parses_back_into_its_reply_id_and_payload() {
        let payload = vec![3u8; PAYLOAD_LEN];
        let stream = delivery(&[9; 16], &payload);
        assert_eq!(stream.len(), DELIVERY_LEN);
        assert_eq!(delivery_parts(&stream), Some((&[9; 16], &payload[..])));
        assert_eq!(delivery_parts(&[0; 15]), None);
    }
}
