//! Reference figure for docs/performance.md: the raw per-hop cost of the `sphinx-packet` crate
//! (packet version `CURRENT_VERSION`), measured before sotto adds anything of its own on top.
//!
//! Payload size: **16 KiB** (16 384 bytes, set with `SphinxPacketBuilder::with_payload_size`).
//! The crate's only named size is `DEFAULT_PAYLOAD_SIZE` = 1 024 bytes, but the builder takes
//! any size, so this uses exactly the 16 KiB Sphinx payload the onion layer will carry
//! (docs/protocol.md, section 4). A packet is therefore `HEADER_SIZE` + 16 384 bytes, and the
//! message fills the payload (16 384 − `PAYLOAD_OVERHEAD_SIZE` bytes of plaintext).
//!
//! - `process_one_hop`: the first node of a 3-node route strips its layer off a freshly built
//!   packet with its private key (header: key agreement, MAC check, routing-info decryption;
//!   payload: one Lioness decryption over 16 KiB). Packets are built in the `iter_batched`
//!   setup, so only the processing is timed.
//! - `create_packet_3_hops`: a sender building one packet for a 3-node route.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sphinx_packet::constants::{
    DESTINATION_ADDRESS_LENGTH, IDENTIFIER_LENGTH, NODE_ADDRESS_LENGTH,
};
use sphinx_packet::crypto::{PrivateKey, PublicKey};
use sphinx_packet::header::delays::Delay;
use sphinx_packet::payload::PAYLOAD_OVERHEAD_SIZE;
use sphinx_packet::route::{Destination, DestinationAddressBytes, Node, NodeAddressBytes};
use sphinx_packet::{ProcessedPacketData, SphinxPacket, SphinxPacketBuilder};

/// The Sphinx payload size benchmarked: 16 KiB (see the module docs).
const PAYLOAD_SIZE: usize = 16 * 1024;
const HOPS: usize = 3;

/// A 3-node route with its nodes' private keys, a destination, per-hop delays and a message
/// that fills the payload.
struct Setup {
    keys: Vec<PrivateKey>,
    route: Vec<Node>,
    destination: Destination,
    delays: Vec<Delay>,
    message: Vec<u8>,
}

impl Setup {
    fn new() -> Self {
        let keys: Vec<PrivateKey> = (0..HOPS).map(|_| PrivateKey::random()).collect();
        let route = keys
            .iter()
            .zip(1u8..)
            .map(|(key, n)| {
                Node::new(
                    NodeAddressBytes::from_bytes([n; NODE_ADDRESS_LENGTH]),
                    PublicKey::from(key),
                )
            })
            .collect();
        Setup {
            keys,
            route,
            destination: Destination::new(
                DestinationAddressBytes::from_bytes([0xd5; DESTINATION_ADDRESS_LENGTH]),
                [0x1d; IDENTIFIER_LENGTH],
            ),
            delays: vec![Delay::new_from_millis(50); HOPS],
            message: vec![0x5a; PAYLOAD_SIZE - PAYLOAD_OVERHEAD_SIZE],
        }
    }

    fn packet(&self) -> SphinxPacket {
        SphinxPacketBuilder::new()
            .with_payload_size(PAYLOAD_SIZE)
            .build_packet(&self.message, &self.route, &self.destination, &self.delays)
            .expect("building a packet")
    }

    /// Walks one packet through all three hops, so the benchmark is known to time real work.
    fn check_route(&self) {
        let mut packet = self.packet();
        assert_eq!(packet.payload.len(), PAYLOAD_SIZE);
        for (hop, key) in self.keys.iter().enumerate() {
            match packet.process(key).expect("processing a hop").data {
                ProcessedPacketData::ForwardHop {
                    next_hop_packet,
                    next_hop_address,
                    ..
                } => {
                    assert!(hop + 1 < HOPS, "hop {hop} forwarded past the route's end");
                    assert_eq!(next_hop_address, self.route[hop + 1].address);
                    packet = next_hop_packet;
                }
                ProcessedPacketData::FinalHop {
                    destination,
                    payload,
                    ..
                } => {
                    assert_eq!(hop + 1, HOPS, "hop {hop} took itself for the last one");
                    assert_eq!(destination, self.destination.address);
                    let plaintext = payload.recover_plaintext().expect("recovering plaintext");
                    assert_eq!(plaintext, self.message);
                    return;
                }
            }
        }
        panic!("the packet never reached its final hop");
    }
}

fn sphinx_reference(c: &mut Criterion) {
    let setup = Setup::new();
    setup.check_route();

    let mut group = c.benchmark_group("sphinx_reference");
    group.throughput(Throughput::Elements(1));
    group.bench_function("process_one_hop", |b| {
        b.iter_batched(
            || setup.packet(),
            |packet| packet.process(&setup.keys[0]).expect("processing a hop"),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("create_packet_3_hops", |b| {
        b.iter(|| {
            SphinxPacketBuilder::new()
                .with_payload_size(PAYLOAD_SIZE)
                .build_packet(
                    black_box(&setup.message),
                    black_box(&setup.route),
                    black_box(&setup.destination),
                    black_box(&setup.delays),
                )
                .expect("building a packet")
        })
    });
    group.finish();
}

/// `hops` relays' onion keys and the route through them, as `sotto-onion` takes it.
fn onion_route(hops: usize) -> (Vec<PrivateKey>, Vec<sotto_onion::packet::RouteHop>) {
    let keys: Vec<PrivateKey> = (0..hops).map(|_| PrivateKey::random()).collect();
    let route = keys
        .iter()
        .zip(1u8..)
        .map(|(key, n)| sotto_onion::packet::RouteHop {
            node: [n; NODE_ADDRESS_LENGTH],
            onion_key: PublicKey::from(key).to_bytes(),
        })
        .collect();
    (keys, route)
}

/// What a relay does per packet, to compare with `process_one_hop`: parse the wire bytes into
/// the fixed-size packet, peel the layer, check and remember the replay tag (in memory; the
/// relay's fsync of the tag log is measured end to end, not here).
fn relay_hop(c: &mut Criterion) {
    use sotto_onion::packet::OnionPacket;
    use sotto_onion::replay::ReplayCache;

    let (keys, route) = onion_route(HOPS);
    let secret = keys[0].to_bytes();
    let message = vec![0x5a; sotto_onion::packet::PLAINTEXT_LEN];
    let mut cache = ReplayCache::new();
    let mut group = c.benchmark_group("sphinx_reference");
    group.throughput(Throughput::Elements(1));
    group.bench_function("relay_hop", |b| {
        b.iter_batched(
            || {
                OnionPacket::build(&route, [0xd5; 32], &message)
                    .expect("building a packet")
                    .to_wire()
            },
            |wire| {
                let processed = OnionPacket::from_wire(&wire)
                    .expect("a packet")
                    .process(&secret)
                    .expect("processing a hop");
                cache
                    .check_and_insert(0, processed.replay_tag)
                    .expect("a fresh tag");
                processed
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// A client's own Sphinx work on a request's way, to set against the hops': sealing a
/// request onto a header made ahead of time (route gateway, mix, mix, host), making a header
/// (the work moved off the way), and opening a reply that came back on a reply block (route
/// mix, mix, gateway).
fn client_side(c: &mut Criterion) {
    use sotto_onion::packet::{new_reply_block, RequestHeader};

    let (keys, route) = onion_route(4);
    let message = vec![0x5a; sotto_onion::packet::PLAINTEXT_LEN];
    let mut group = c.benchmark_group("client");
    group.throughput(Throughput::Elements(1));
    group.bench_function("request_header_4_hops", |b| {
        b.iter(|| RequestHeader::new(black_box(&route), [0xd5; 32]).expect("a header"))
    });
    group.bench_function("seal_request_on_ready_header", |b| {
        b.iter_batched(
            || RequestHeader::new(&route, [0xd5; 32]).expect("a header"),
            |header| header.seal(black_box(&message)).expect("a packet"),
            BatchSize::SmallInput,
        )
    });
    let back = &route[..3];
    let reply = |block: sotto_onion::packet::ReplyBlock| {
        let (mut packet, _) = block.send(&message).expect("a reply");
        for key in &keys[..3] {
            match packet.process(&key.to_bytes()).expect("a hop").peeled {
                sotto_onion::packet::Peeled::Forward { packet: next, .. } => packet = next,
                sotto_onion::packet::Peeled::Final { payload, .. } => return payload,
            }
        }
        panic!("the reply never reached the gateway")
    };
    group.bench_function("open_reply", |b| {
        b.iter_batched(
            || {
                let (block, key) = new_reply_block(back, [0xc1; 32]).expect("a reply block");
                (reply(block), key)
            },
            |(payload, key)| key.open(black_box(&payload)).expect("the reply"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, sphinx_reference, relay_hop, client_side);
criterion_main!(benches);
