use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

const SECS: u64 = 3600;
const EPOCH: u64 = 481_000;

fn fp(n: u8) -> Fingerprint {
    Fingerprint::of_key(&[n; 32])
}

/// Relay `n` (from 1) with keys `[n; 32]` and `[!n; 32]`, never zero and never equal.
fn relay(n: u8, epoch: u64) -> Relay {
    Relay {
        address: RelayAddress {
            fingerprint: fp(n),
            host: "127.0.0.1".into(),
            port: 4000 + u16::from(n),
        },
        onion_key: OnionKey::for_epoch(epoch, SECS, [n; 32]).unwrap(),
        next_onion_key: OnionKey::for_epoch(epoch + 1, SECS, [!n; 32]).unwrap(),
    }
}

fn directory(count: u8) -> Directory {
    Directory::new(SECS, (1..=count).map(|n| relay(n, EPOCH)).collect()).unwrap()
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

const EXAMPLE: &str = r#"
epoch_secs = 3600

[[relay]]
address = "sotto-relay://9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a@127.0.0.1:4433"
onion_key = { epoch = 481000, valid_from = 1731600000, public_key = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" }
next_onion_key = { epoch = 481001, valid_from = 1731603600, public_key = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f" }
"#;

/// The example file with `from` replaced by `to` in it, parsed.
fn example_with(from: &str, to: &str) -> Result<Directory, DirectoryError> {
    assert!(EXAMPLE.contains(from), "{from} is not in the example");
    NetworkFile::parse(&EXAMPLE.replace(from, to))
}

#[test]
fn the_documented_example_parses() {
    let directory = NetworkFile::parse(EXAMPLE).unwrap();
    assert_eq!(directory.epoch_secs(), 3600);
    let relay = &directory.relays()[0];
    assert_eq!(relay.address.host, "127.0.0.1");
    assert_eq!(relay.address.port, 4433);
    assert_eq!(relay.onion_key.epoch, 481_000);
    assert_eq!(relay.next_onion_key.valid_from, 1_731_603_600);
    assert_eq!(relay.onion_key.public_key[0], 0x85);
}

#[test]
fn written_files_read_back_and_keep_the_order() {
    let mut relays: Vec<Relay> = (1..=5).map(|n| relay(n, EPOCH)).collect();
    relays[2].address.host = "::1".into();
    relays[3].address.host = "relay-4.example".into();
    relays.reverse();
    let directory = Directory::new(SECS, relays).unwrap();
    let text = directory.to_toml();
    assert!(text.starts_with(FILE_HEADER));
    assert_eq!(NetworkFile::parse(&text).unwrap(), directory);
    let example = NetworkFile::parse(EXAMPLE).unwrap();
    assert_eq!(NetworkFile::parse(&example.to_toml()).unwrap(), example);
}

#[test]
fn onion_keys_are_found_by_fingerprint_and_epoch() {
    let directory = directory(3);
    assert_eq!(directory.onion_key(&fp(2), EPOCH), Some([2; 32]));
    assert_eq!(directory.onion_key(&fp(2), EPOCH + 1), Some([!2; 32]));
    assert_eq!(directory.onion_key(&fp(2), EPOCH + 2), None);
    assert_eq!(directory.onion_key(&fp(2), EPOCH - 1), None);
    assert_eq!(directory.onion_key(&fp(9), EPOCH), None);
    let node = NodeAddressBytes::from_bytes(*fp(3).as_bytes());
    assert_eq!(directory.relay_at(&node), directory.relay(&fp(3)));
}

#[test]
fn epochs_are_aligned_to_unix_time() {
    let directory = directory(1);
    assert_eq!(directory.current_epoch(0), 0);
    assert_eq!(directory.current_epoch(EPOCH * SECS), EPOCH);
    assert_eq!(directory.current_epoch(EPOCH * SECS - 1), EPOCH - 1);
    assert_eq!(directory.current_epoch(u64::MAX), u64::MAX / SECS);
    assert_eq!(epoch_start(EPOCH, SECS), Some(EPOCH * SECS));
    assert_eq!(epoch_start(u64::MAX, 2), None);
    assert_eq!(epoch_start(TOML_MAX / 2 + 1, 2), None);
}

#[test]
fn refuses_an_empty_or_unreadable_file() {
    assert_eq!(
        NetworkFile::parse("epoch_secs = 3600\n"),
        Err(DirectoryError::NoRelays)
    );
    assert!(matches!(
        NetworkFile::parse(""),
        Err(DirectoryError::Toml(message)) if message.contains("epoch_secs")
    ));
    assert!(matches!(
        NetworkFile::parse("epoch_secs = "),
        Err(DirectoryError::Toml(_))
    ));
    assert_eq!(
        example_with("epoch_secs = 3600", "epoch_secs = 0"),
        Err(DirectoryError::EpochSecs(0))
    );
    assert!(matches!(
        example_with("epoch_secs = 3600", "epoch_secs = -1"),
        Err(DirectoryError::Toml(_))
    ));
}

#[test]
fn refuses_unknown_fields_at_every_level() {
    for (from, to) in [
        ("epoch_secs = 3600", "epoch_secs = 3600\nepochs = 1"),
        ("address =", "role = \"mix\"\naddress ="),
        ("epoch = 481000,", "epoch = 481000, stake = 1,"),
    ] {
        match example_with(from, to) {
            Err(DirectoryError::Toml(message)) => assert!(message.contains("unknown field")),
            other => panic!("{to}: {other:?}"),
        }
    }
}

#[test]
fn errors_name_the_relay_and_the_field() {
    let error = example_with("public_key = \"8520", "public_key = \"zz20").unwrap_err();
    assert!(matches!(
        error,
        DirectoryError::KeyHex {
            relay: RelayRef { number: 1, .. },
            key: "onion_key"
        }
    ));
    let message = error.to_string();
    assert!(message.contains("relay 1 (9f64a747"), "{message}");
    assert!(message.contains("onion_key.public_key"), "{message}");

    let error = example_with(
        "481001, valid_from = 1731603600",
        "481002, valid_from = 1731607200",
    );
    assert!(matches!(
        error,
        Err(DirectoryError::NextEpoch {
            current: 481_000,
            next: 481_002,
            ..
        })
    ));
    let error = example_with("1731603600", "1731603601").unwrap_err();
    assert!(matches!(
        error,
        DirectoryError::ValidFrom {
            key: "next_onion_key",
            found: 1_731_603_601,
            expected: 1_731_603_600,
            ..
        }
    ));
    assert!(error.to_string().contains("next_onion_key.valid_from"));
}

#[test]
fn refuses_bad_keys() {
    let short = example_with("4e6a\"", "4e\"");
    assert!(matches!(
        short,
        Err(DirectoryError::KeyHex {
            key: "onion_key",
            ..
        })
    ));
    let long = example_with("2b4f\"", "2b4f00\"");
    assert!(matches!(
        long,
        Err(DirectoryError::KeyHex {
            key: "next_onion_key",
            ..
        })
    ));
    let zero = example_with(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
        &"0".repeat(64),
    );
    assert!(matches!(
        zero,
        Err(DirectoryError::ZeroKey {
            key: "onion_key",
            ..
        })
    ));
    let same = example_with(
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    );
    assert!(matches!(same, Err(DirectoryError::KeyNotRotated { .. })));
}

#[test]
fn refuses_bad_addresses_with_the_relay_number() {
    let text = format!(
        "{EXAMPLE}{}",
        relay_toml(&relay(2, EPOCH)).replace("@", "#")
    );
    match NetworkFile::parse(&text) {
        Err(
            error @ DirectoryError::Address {
                relay: 2,
                source: AddressError::MissingAt,
            },
        ) => {
            assert!(error.to_string().starts_with("relay 2: address:"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refuses_duplicate_fingerprints_naming_both() {
    let mut twin = relay(1, EPOCH);
    twin.address.port = 9;
    let result = Directory::new(SECS, vec![relay(1, EPOCH), relay(2, EPOCH), twin]);
    assert_eq!(
        result,
        Err(DirectoryError::DuplicateRelay {
            fingerprint: fp(1),
            first: 1,
            again: 3
        })
    );
    // The same through a file.
    let text = format!(
        "epoch_secs = {SECS}\n{}{}",
        relay_toml(&relay(1, EPOCH)),
        relay_toml(&relay(1, EPOCH))
    );
    assert!(matches!(
        NetworkFile::parse(&text),
        Err(DirectoryError::DuplicateRelay {
            first: 1,
            again: 2,
            ..
        })
    ));
}

#[test]
fn refuses_directories_that_would_not_read_back() {
    assert_eq!(
        Directory::new(u64::MAX, vec![relay(1, 0)]),
        Err(DirectoryError::EpochSecs(u64::MAX))
    );
    assert_eq!(Directory::new(SECS, vec![]), Err(DirectoryError::NoRelays));
    let mut far = relay(1, EPOCH);
    far.onion_key.epoch = u64::MAX - 1;
    far.next_onion_key.epoch = u64::MAX;
    assert!(matches!(
        Directory::new(SECS, vec![far]),
        Err(DirectoryError::EpochRange {
            key: "onion_key",
            ..
        })
    ));
    let mut last = relay(1, EPOCH);
    last.onion_key.epoch = u64::MAX;
    assert!(matches!(
        Directory::new(SECS, vec![last]),
        Err(DirectoryError::NextEpoch {
            current: u64::MAX,
            ..
        })
    ));
    let mut odd_host = relay(1, EPOCH);
    odd_host.address.host = "a\"b".into();
    assert!(matches!(
        Directory::new(SECS, vec![odd_host]),
        Err(DirectoryError::Address { relay: 1, .. })
    ));
}

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
        assert_eq!(hop.onion_key, relay.onion_key.public_key);
        assert_eq!(hop.epoch, EPOCH);
        assert_eq!(hop.address, relay.address);
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
            directory.relay_at(&node.address).map(|r| &r.address),
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
        .contains("needs 4 distinct relays, but only 3"));
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
        seen.insert(directory.choose_gateway(&mut rng).unwrap().address.port);
    }
    assert_eq!(seen.len(), 4);
    let alone = self::directory(1);
    assert_eq!(alone.choose_gateway(&mut rng).unwrap(), &alone.relays()[0]);
}
