//! Paths: ends, mixes, keys of the epoch, and uniform choice among equals.

use super::*;

#[test]
fn a_request_path_enters_at_the_gateway_and_ends_at_the_host() {
    let directory = directory(6);
    let path = directory
        .choose_path(&fp(1), &fp(2), DEFAULT_MIXES, &mut rng())
        .unwrap();
    assert_eq!(path.entry().fingerprint, fp(1));
    assert_eq!(path.destination().fingerprint(), &fp(2));
    assert_eq!(path.mixes().len(), 2);
    assert_eq!(path.first_hop(), &path.mixes()[0]);
    let hops: Vec<&Hop> = path.hops().collect();
    assert_eq!(hops.len(), 3);
    for hop in &hops {
        let relay = directory.relay(hop.fingerprint()).unwrap();
        assert_eq!(hop.onion_key, relay.descriptor.onion_key.public_key);
        assert_eq!(hop.epoch, EPOCH);
        assert_eq!(&hop.address, relay.address());
    }
    assert_ne!(hops[0].fingerprint(), hops[1].fingerprint());
}

#[test]
fn a_reply_path_ends_at_the_gateway() {
    let directory = directory(4);
    let host = fp(3);
    let gateway = fp(4);
    let path = directory
        .choose_path(&host, &gateway, 2, &mut rng())
        .unwrap();
    assert_eq!(path.entry().fingerprint, host);
    assert_eq!(path.destination().fingerprint(), &gateway);
    let mut mixes: Vec<Fingerprint> = path.mixes().iter().map(|hop| *hop.fingerprint()).collect();
    mixes.retain(|mix| *mix == fp(1) || *mix == fp(2));
    assert_eq!(mixes.len(), 2);
}

#[test]
fn sphinx_route_nodes_are_fingerprints_and_onion_keys() {
    let directory = directory(5);
    let path = directory
        .choose_path(&fp(1), &fp(2), 3, &mut rng())
        .unwrap();
    let route = path.sphinx_route();
    assert_eq!(route.len(), 4);
    for (node, hop) in route.iter().zip(path.hops()) {
        assert_eq!(node.address.as_bytes(), hop.fingerprint().as_bytes());
        assert_eq!(node.pub_key.as_bytes(), &hop.onion_key);
        assert_eq!(
            directory.relay_at(&node.address).map(Relay::address),
            Some(&hop.address)
        );
    }
}

#[test]
fn a_network_too_small_is_an_error_not_a_shorter_path() {
    let directory = directory(3);
    assert!(directory.choose_path(&fp(1), &fp(2), 1, &mut rng()).is_ok());
    let error = directory
        .choose_path(&fp(1), &fp(2), 2, &mut rng())
        .unwrap_err();
    assert_eq!(
        error,
        DirectoryError::NetworkTooSmall {
            mixes: 2,
            needed: 4,
            available: 3
        }
    );
    assert!(error
        .to_string()
        .contains("needs 4 relays of distinct operators (and subnets), but only 3"));
}

#[test]
fn refuses_paths_that_would_join_both_ends() {
    let directory = directory(6);
    let mut rng = rng();
    assert_eq!(
        directory.choose_path(&fp(1), &fp(1), 2, &mut rng),
        Err(DirectoryError::SameEnds(fp(1)))
    );
    assert_eq!(
        directory.choose_path(&fp(1), &fp(2), 0, &mut rng),
        Err(DirectoryError::NoMixes)
    );
    assert_eq!(
        directory.choose_path(&fp(1), &fp(2), MAX_MIXES + 1, &mut rng),
        Err(DirectoryError::TooManyMixes {
            mixes: MAX_MIXES + 1
        })
    );
    assert!(directory
        .choose_path(&fp(1), &fp(2), MAX_MIXES, &mut rng)
        .is_ok());
    assert_eq!(
        directory.choose_path(&fp(9), &fp(2), 2, &mut rng),
        Err(DirectoryError::UnknownRelay(fp(9)))
    );
    assert_eq!(
        directory.choose_path(&fp(1), &fp(9), 2, &mut rng),
        Err(DirectoryError::UnknownRelay(fp(9)))
    );
}

#[test]
fn paths_at_an_epoch_use_its_keys_and_skip_relays_without_one() {
    // Relays 1..=4 are in EPOCH; 5 and 6 have rotated twice since (EPOCH + 2, + 3).
    let mut relays: Vec<Relay> = (1..=4).map(|n| relay(n, EPOCH)).collect();
    relays.extend((5..=6).map(|n| relay(n, EPOCH + 2)));
    let directory = Directory::new(SECS, relays).unwrap();
    let mut rng = rng();
    for _ in 0..50 {
        let path = directory
            .choose_path_at(EPOCH + 1, &fp(5), &fp(1), 2, &mut rng)
            .unwrap();
        for hop in path.hops() {
            assert_eq!(hop.epoch, EPOCH + 1);
            assert_eq!(
                Some(hop.onion_key),
                directory.onion_key(hop.fingerprint(), EPOCH + 1)
            );
            assert!(hop.fingerprint() != &fp(5) && hop.fingerprint() != &fp(6));
        }
    }
    assert_eq!(
        directory.choose_path_at(EPOCH + 1, &fp(1), &fp(5), 2, &mut rng),
        Err(DirectoryError::NoOnionKey {
            relay: fp(5),
            epoch: EPOCH + 1
        })
    );
    assert_eq!(
        directory.choose_path_at(EPOCH + 1, &fp(1), &fp(2), 3, &mut rng),
        Err(DirectoryError::NetworkTooSmall {
            mixes: 3,
            needed: 5,
            available: 4
        })
    );
}

#[test]
fn mixes_are_chosen_uniformly() {
    let directory = directory(5);
    let mut rng = rng();
    let mut counts: HashMap<[u8; 32], usize> = HashMap::new();
    let mut first_is_lower = 0usize;
    const TRIALS: usize = 6000;
    for _ in 0..TRIALS {
        let path = directory.choose_path(&fp(1), &fp(2), 2, &mut rng).unwrap();
        for hop in path.mixes() {
            *counts.entry(*hop.fingerprint().as_bytes()).or_default() += 1;
        }
        if path.mixes()[0].address.port < path.mixes()[1].address.port {
            first_is_lower += 1;
        }
    }
    // Each of the 3 eligible relays is on 2/3 of the paths (4000); the standard deviation
    // is about 37, so 250 either way never happens by chance.
    assert_eq!(counts.len(), 3);
    for count in counts.values() {
        assert!(count.abs_diff(TRIALS * 2 / 3) < 250, "{counts:?}");
    }
    assert!(
        first_is_lower.abs_diff(TRIALS / 2) < 250,
        "order is not random"
    );
}

#[test]
fn gateways_are_chosen_among_all_relays() {
    let directory = directory(4);
    let mut rng = rng();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        seen.insert(directory.choose_gateway(&mut rng).unwrap().address().port);
    }
    assert_eq!(seen.len(), 4);
    let alone = self::directory(1);
    assert_eq!(alone.choose_gateway(&mut rng).unwrap(), &alone.relays()[0]);
}
