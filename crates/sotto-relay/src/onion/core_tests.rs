//! The core's decisions, with packets built as clients and relays build them, the time
//! passed in, and no network.

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use sotto_onion::packet::{new_reply_block, RouteHop, PACKET_LEN};
use sotto_proto::{Command, Request};
use sotto_quic::onion::injection;
use sphinx_packet::crypto::{PrivateKey, PublicKey};

use super::*;
use crate::onion_keys::KEY_GRACE_SECS;
use crate::temp_dir::TempDir;

const ME: NodeId = [1; 32];
const NEXT: NodeId = [2; 32];
const CLIENT: [u8; 32] = [3; 32];

/// One onion key, for epoch 0.
struct OneKey([u8; 32]);

impl PeelKeys for OneKey {
    fn accepted_secrets(&self, _unix_secs: u64) -> Vec<(u64, [u8; 32])> {
        vec![(0, self.0)]
    }
}

type Core = OnionCore<OneKey, ReplayCache, u8>;

/// A core for relay [`ME`] and its public onion key.
fn core(limits: OnionLimits) -> (Core, [u8; 32], Instant) {
    let secret = PrivateKey::random();
    let public = PublicKey::from(&secret).to_bytes();
    let start = Instant::now();
    let core = OnionCore::new(
        ME,
        OneKey(secret.to_bytes()),
        ReplayCache::new(),
        limits,
        start,
    );
    (core, public, start)
}

fn at(instant: Instant) -> Now {
    Now {
        instant,
        unix_secs: 0,
    }
}

fn hop(node: NodeId, onion_key: [u8; 32]) -> RouteHop {
    RouteHop { node, onion_key }
}

fn any_hop(node: NodeId) -> RouteHop {
    hop(node, PublicKey::from(&PrivateKey::random()).to_bytes())
}

/// A subscribe for a random reader, as a host receives its frame.
fn subscribe_frame() -> (Vec<u8>, Id) {
    let reader = SigningKey::generate(&mut rand::rngs::OsRng);
    let read_id = Id::from_bytes(rand::random());
    let frame = Request {
        command: Command::Subscribe,
        nonce: rand::random(),
        timestamp: 0,
        target: read_id,
    }
    .seal(&reader)
    .unwrap();
    (frame, read_id)
}

/// A request packet whose route ends at [`ME`], carrying `frame` and `blocks` reply blocks.
fn request_packet(me: [u8; 32], frame: Vec<u8>, blocks: usize) -> Vec<u8> {
    let reply_blocks = (0..blocks)
        .map(|_| new_reply_block(&[any_hop(NEXT)], CLIENT).unwrap().0)
        .collect();
    let plain = OnionRequest {
        reply_blocks,
        frame,
    }
    .encode()
    .unwrap();
    OnionPacket::build(&[hop(ME, me)], ME, &plain)
        .unwrap()
        .to_wire()
}

#[test]
fn a_packet_for_another_relay_is_peeled_and_forwarded() {
    let (core, me, start) = core(OnionLimits::default());
    let packet = OnionPacket::build(&[hop(ME, me), any_hop(NEXT)], NEXT, b"hello")
        .unwrap()
        .to_wire();
    match core.process(7, &7, &packet, at(start)) {
        Action::Forward { role, next, packet } => {
            assert_eq!((role, next, packet.len()), (Role::Mix, NEXT, PACKET_LEN));
        }
        _ => panic!("forwarded"),
    }
}

#[test]
fn a_clients_injection_goes_on_unpeeled() {
    let (core, _, start) = core(OnionLimits::default());
    let packet = vec![9u8; PACKET_LEN];
    match core.process(7, &7, &injection(&NEXT, &packet), at(start)) {
        Action::Forward {
            role,
            next,
            packet: sent,
        } => assert_eq!((role, next, sent), (Role::Gateway, NEXT, packet)),
        _ => panic!("forwarded as it came"),
    }
}

#[test]
fn a_request_for_this_relay_is_executed_with_its_push_blocks() {
    let (core, me, start) = core(OnionLimits::default());
    let (frame, read_id) = subscribe_frame();
    let packet = request_packet(me, frame.clone(), 3);
    let Action::Execute(execution) = core.process(7, &7, &packet, at(start)) else {
        panic!("executed");
    };
    assert_eq!(execution.frame, frame);
    let push = execution
        .push_blocks
        .expect("a subscribe brings push blocks");
    assert_eq!(
        (push.readers, push.replace, push.blocks.len()),
        (vec![(0, read_id)], true, 2)
    );
    // The answer goes back on the first block, towards the client's side of the path.
    match through_block::<u8>(execution.answer, b"answer") {
        Action::Forward { role, next, .. } => assert_eq!((role, next), (Role::Host, NEXT)),
        _ => panic!("sent on the block"),
    }
}

#[test]
fn a_request_without_a_frame_the_host_can_read_is_still_executed_but_junk_is_not() {
    let (core, me, start) = core(OnionLimits::default());
    // The host answers a frame it cannot read with MALFORMED, so the core passes it on.
    let packet = request_packet(me, vec![0; sotto_proto::FRAME_LEN], 1);
    assert!(matches!(
        core.process(7, &7, &packet, at(start)),
        Action::Execute(Execution {
            push_blocks: None,
            ..
        })
    ));
    // A final payload that is no request at all is dropped.
    let junk = OnionPacket::build(&[hop(ME, me)], ME, b"not a request")
        .unwrap()
        .to_wire();
    assert!(matches!(
        core.process(7, &7, &junk, at(start)),
        Action::Drop(Drop::BadRequest)
    ));
}

#[test]
fn a_replayed_packet_is_dropped() {
    let (core, me, start) = core(OnionLimits::default());
    let packet = OnionPacket::build(&[hop(ME, me), any_hop(NEXT)], NEXT, b"once")
        .unwrap()
        .to_wire();
    assert!(matches!(
        core.process(7, &7, &packet, at(start)),
        Action::Forward { .. }
    ));
    assert!(matches!(
        core.process(8, &8, &packet, at(start)),
        Action::Drop(Drop::Replay)
    ));
    // A retired epoch's packets are refused, not taken as new.
    core.with_replay(|replay| replay.retire_epochs_before(1));
    let late = OnionPacket::build(&[hop(ME, me), any_hop(NEXT)], NEXT, b"late")
        .unwrap()
        .to_wire();
    assert!(matches!(
        core.process(7, &7, &late, at(start)),
        Action::Drop(Drop::ReplayRefused)
    ));
}

#[test]
fn bad_packets_are_dropped_and_charged_to_their_link() {
    let limits = OnionLimits {
        link_peel_per_second: 10,
        ..OnionLimits::default()
    };
    let (core, me, start) = core(limits);
    assert!(matches!(
        core.process(7, &7, &[0; 100], at(start)),
        Action::Drop(Drop::Malformed)
    ));
    let junk = vec![0x5a; PACKET_LEN];
    assert!(matches!(
        core.process(7, &7, &junk, at(start)),
        Action::Drop(Drop::Malformed | Drop::Unwrap)
    ));
    // A packet for another relay's key does not open here.
    let elsewhere = OnionPacket::build(&[any_hop(ME)], ME, b"x")
        .unwrap()
        .to_wire();
    // The packet above was junk too.
    let mut junk_passed = 1;
    while matches!(
        core.process(7, &7, &elsewhere, at(start)),
        Action::Drop(Drop::Unwrap)
    ) {
        junk_passed += 1;
    }
    assert_eq!(junk_passed, 20 / 4, "junk costs its link four peels each");
    // Another link's good packet still goes through.
    let good = OnionPacket::build(&[hop(ME, me), any_hop(NEXT)], NEXT, b"ok")
        .unwrap()
        .to_wire();
    assert!(matches!(
        core.process(8, &8, &good, at(start)),
        Action::Forward { .. }
    ));
}

#[test]
fn past_its_budget_a_relay_drops_as_busy_until_the_budget_refills() {
    let limits = OnionLimits {
        peel_per_second: 2,
        client_packets_per_second: 1,
        client_packets_burst: 1,
        ..OnionLimits::default()
    };
    let (core, me, start) = core(limits);
    let packet = || {
        OnionPacket::build(&[hop(ME, me), any_hop(NEXT)], NEXT, b"p")
            .unwrap()
            .to_wire()
    };
    let busy = |action: Action<u8>| matches!(action, Action::Drop(Drop::Busy));
    assert!((0..4).all(|link| !busy(core.process(link, &0, &packet(), at(start)))));
    assert!(busy(core.process(9, &9, &packet(), at(start))));
    let later = start + Duration::from_secs(1);
    assert!(!busy(core.process(9, &9, &packet(), at(later))));
    // A client's injections meet its own limit, another client's do not.
    let injected = injection(&NEXT, &packet());
    assert!(!busy(core.process(20, &20, &injected, at(start))));
    assert!(busy(core.process(20, &20, &injected, at(start))));
    assert!(!busy(core.process(21, &21, &injected, at(start))));
}

#[test]
fn a_reply_for_a_registered_client_is_delivered_on_its_connection() {
    let (core, me, start) = core(OnionLimits::default());
    let (block, _) = new_reply_block(&[hop(ME, me)], CLIENT).unwrap();
    let (packet, first) = block.send(b"answer").unwrap();
    assert_eq!(first, ME);
    let wire = packet.to_wire();
    assert!(matches!(
        core.process(1, &1, &wire, at(start)),
        Action::Drop(Drop::UnknownClient)
    ));
    assert!(matches!(
        core.process(5, &5, &ME, at(start)),
        Action::Drop(Drop::Malformed)
    ));
    assert!(matches!(
        core.process(5, &5, &CLIENT, at(start)),
        Action::Registered
    ));
    let (block, key) = new_reply_block(&[hop(ME, me)], CLIENT).unwrap();
    let wire = block.send(b"answer").unwrap().0.to_wire();
    let Action::Deliver { client, stream } = core.process(1, &1, &wire, at(start)) else {
        panic!("delivered");
    };
    assert_eq!(client, 5);
    let (reply, payload) = sotto_quic::onion::delivery_parts(&stream).unwrap();
    assert_eq!(*reply, key.id());
    assert_eq!(key.open(payload).unwrap(), b"answer");
    // Once its connection closed the client is unknown again.
    core.closed(5);
    let (block, _) = new_reply_block(&[hop(ME, me)], CLIENT).unwrap();
    let wire = block.send(b"answer").unwrap().0.to_wire();
    assert!(matches!(
        core.process(1, &1, &wire, at(start)),
        Action::Drop(Drop::UnknownClient)
    ));
}

/// Around a key rotation: the previous epoch's key opens packets for [`KEY_GRACE_SECS`] into
/// the new epoch and no longer, the next epoch's as long before it starts.
#[test]
fn epoch_keys_open_packets_only_within_their_grace() {
    const EPOCH: u64 = 3_600;
    let dir = TempDir::new("core-keys");
    let start = 10 * EPOCH + 100;
    let keys = OnionKeys::open(&dir.0, EPOCH, start).unwrap();
    let (this, next) = (keys.public(10).unwrap(), keys.public(11).unwrap());
    let core: OnionCore<OnionKeys, ReplayCache, u8> = OnionCore::new(
        ME,
        keys,
        ReplayCache::new(),
        OnionLimits::default(),
        Instant::now(),
    );
    let for_key = |key: [u8; 32]| {
        OnionPacket::build(&[hop(ME, key), any_hop(NEXT)], NEXT, b"p")
            .unwrap()
            .to_wire()
    };
    let opens = |key: [u8; 32], unix_secs: u64| {
        let now = Now {
            instant: Instant::now(),
            unix_secs,
        };
        match core.process(7, &7, &for_key(key), now) {
            Action::Forward { .. } => true,
            Action::Drop(Drop::Unwrap) => false,
            _ => panic!("forwarded or not opened"),
        }
    };
    assert!(opens(this, start));
    assert!(!opens(next, start), "the next key is not taken this early");
    let before_next = 11 * EPOCH - KEY_GRACE_SECS;
    assert!(opens(next, before_next));
    assert!(!opens(next, before_next - 1));
    let into_next = 11 * EPOCH + KEY_GRACE_SECS;
    core.with_keys(|keys| keys.rotate(11 * EPOCH))
        .unwrap()
        .unwrap();
    assert!(opens(this, into_next - 1), "the old key within its grace");
    assert!(!opens(this, into_next), "and not after");
    assert!(opens(next, into_next));
}
