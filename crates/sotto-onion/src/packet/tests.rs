use super::*;

struct Relay {
    node: NodeId,
    secret: [u8; 32],
    hop: RouteHop,
}

fn relays(n: u8) -> Vec<Relay> {
    (1..=n)
        .map(|i| {
            let secret = PrivateKey::random();
            let hop = RouteHop {
                node: [i; NODE_ADDRESS_LENGTH],
                onion_key: PublicKey::from(&secret).to_bytes(),
            };
            Relay {
                node: hop.node,
                secret: secret.to_bytes(),
                hop,
            }
        })
        .collect()
}

/// Carries a packet through `path`, checking each hop forwards to the next; returns the final
/// hop's view and every replay tag seen.
fn travel(
    mut packet: OnionPacket,
    path: &[&Relay],
) -> ((DestinationId, ReplyId, Vec<u8>), Vec<[u8; 32]>) {
    let mut tags = Vec::new();
    for (i, relay) in path.iter().enumerate() {
        let wire = packet.to_wire();
        assert_eq!(
            wire.len(),
            PACKET_LEN,
            "every packet on every link has one length"
        );
        let processed = OnionPacket::from_wire(&wire)
            .unwrap()
            .process(&relay.secret)
            .unwrap();
        tags.push(processed.replay_tag);
        match processed.peeled {
            Peeled::Forward {
                next,
                packet: inner,
            } => {
                assert_eq!(next, path[i + 1].node);
                packet = inner;
            }
            Peeled::Final {
                destination,
                reply,
                payload,
            } => {
                assert_eq!(i + 1, path.len(), "final before the end of the route");
                return ((destination, reply, payload), tags);
            }
        }
    }
    panic!("the packet never reached its final hop")
}

#[test]
fn a_request_reaches_its_host_and_opens_there_only() {
    let r = relays(3);
    let route: Vec<RouteHop> = r.iter().map(|relay| relay.hop).collect();
    for message in [vec![7u8], vec![0x42; 12 * 1024], vec![1; PLAINTEXT_LEN]] {
        let packet = OnionPacket::build(&route, r[2].node, &message).unwrap();
        let ((destination, _, payload), tags) = travel(packet, &[&r[0], &r[1], &r[2]]);
        assert_eq!(destination, r[2].node);
        assert_eq!(open_request(&payload).unwrap(), message);
        assert_ne!(tags[0], tags[1]);
    }
}

#[test]
fn the_same_packet_gives_the_same_replay_tag() {
    let r = relays(2);
    let route: Vec<RouteHop> = r.iter().map(|relay| relay.hop).collect();
    let wire = OnionPacket::build(&route, r[1].node, b"once")
        .unwrap()
        .to_wire();
    let tag = |wire: &[u8]| {
        OnionPacket::from_wire(wire)
            .unwrap()
            .process(&r[0].secret)
            .unwrap()
            .replay_tag
    };
    assert_eq!(tag(&wire), tag(&wire));
}

#[test]
fn a_reply_block_brings_the_reply_to_its_maker_only() {
    let r = relays(4);
    // The host (r[3]) replies over mix, mix, gateway to the client behind the gateway (r[2]).
    let route = [r[0].hop, r[1].hop, r[2].hop];
    let client = [0xc1; 32];
    let (block, key) = new_reply_block(&route, client).unwrap();
    let block = ReplyBlock::from_bytes(&block.to_bytes()).unwrap();
    let (packet, first) = block.send(b"your answer").unwrap();
    assert_eq!(first, r[0].node);
    let ((destination, reply, payload), _) = travel(packet, &[&r[0], &r[1], &r[2]]);
    assert_eq!(destination, client);
    assert_eq!(reply, key.id());
    assert!(
        open_request(&payload).is_err(),
        "the gateway cannot read the reply"
    );
    assert_eq!(key.open(&payload).unwrap(), b"your answer");
    let (_, other) = new_reply_block(&route, client).unwrap();
    assert!(other.open(&payload).is_err());
}

#[test]
fn wrong_keys_garbage_and_bad_lengths_are_refused() {
    let r = relays(2);
    let route: Vec<RouteHop> = r.iter().map(|relay| relay.hop).collect();
    let wire = OnionPacket::build(&route, r[1].node, b"x")
        .unwrap()
        .to_wire();
    assert!(matches!(
        OnionPacket::from_wire(&wire).unwrap().process(&r[1].secret),
        Err(PacketError::Unwrap(_))
    ));
    assert!(matches!(
        OnionPacket::from_wire(&wire[1..]),
        Err(PacketError::Length { .. })
    ));
    let garbage = vec![0x5c; PACKET_LEN];
    if let Ok(packet) = OnionPacket::from_wire(&garbage) {
        assert!(packet.process(&r[0].secret).is_err());
    }
    assert!(matches!(
        OnionPacket::build(&route, r[1].node, &vec![0; PLAINTEXT_LEN + 1]),
        Err(PacketError::TooLong(_))
    ));
    assert!(matches!(
        OnionPacket::build(&[], r[1].node, b"x"),
        Err(PacketError::Route(0))
    ));
    assert!(ReplyBlock::from_bytes(&[0; 10]).is_err());
}

#[test]
fn a_header_made_ahead_gives_the_packet_the_sphinx_builder_would() {
    let r = relays(4);
    let route: Vec<RouteHop> = r.iter().map(|relay| relay.hop).collect();
    let (nodes, delays) = sphinx_route(&route).unwrap();
    let secret = PrivateKey::random();
    let id = random_id();
    let message = vec![0x17; 3000];
    let ahead = RequestHeader::with_secret(&route, r[3].node, secret.clone(), id)
        .unwrap()
        .seal(&message)
        .unwrap();
    let destination = Destination::new(DestinationAddressBytes::from_bytes(r[3].node), id);
    let built = sphinx_packet::SphinxPacketBuilder::new()
        .with_payload_size(PAYLOAD_LEN)
        .with_initial_secret(&secret)
        .build_packet(&message, &nodes, &destination, &delays)
        .unwrap();
    let (a, b) = (ahead.to_wire(), built.to_bytes());
    // Only the destination's padding, random in both, differs.
    assert_eq!(a[..32], b[..32], "the same key agreement");
    assert!(
        a[HEADER_SIZE..] == b[HEADER_SIZE..],
        "the same layered payload"
    );
    let path = [&r[0], &r[1], &r[2], &r[3]];
    let (a_final, a_tags) = travel(OnionPacket::from_wire(&a).unwrap(), &path);
    let (b_final, b_tags) = travel(OnionPacket(built), &path);
    assert_eq!(a_tags, b_tags, "every hop sees the same packet");
    assert!(a_final == b_final, "and the host the same request");
    assert_eq!(open_request(&a_final.2).unwrap(), message);
}

#[test]
fn a_request_header_is_used_once_and_anything_fits_it() {
    let r = relays(3);
    let route: Vec<RouteHop> = r.iter().map(|relay| relay.hop).collect();
    let header = RequestHeader::new(&route, r[2].node).unwrap();
    assert!(matches!(
        RequestHeader::new(&route, r[2].node)
            .unwrap()
            .seal(&vec![0; PLAINTEXT_LEN + 1]),
        Err(PacketError::TooLong(_))
    ));
    let ((destination, _, payload), _) =
        travel(header.seal(b"late").unwrap(), &[&r[0], &r[1], &r[2]]);
    assert_eq!(destination, r[2].node);
    assert_eq!(open_request(&payload).unwrap(), b"late");
}
