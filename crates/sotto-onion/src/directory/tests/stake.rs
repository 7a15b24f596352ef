//! Stake: weight by stake not relay count, the operator and subnet rules, and the ledger.

use super::*;

/// Five honest operators with one relay each, and one operator with as much stake as each of
/// them spread over 50 relays.
fn sybil_network() -> Directory {
    let mut relays: Vec<Relay> = (1..=5)
        .map(|n| Relay {
            stake: Stake {
                operator: format!("honest{n}"),
                weight: 1000,
            },
            ..relay(n, EPOCH)
        })
        .collect();
    relays.extend((100..150).map(|n| Relay {
        stake: Stake {
            operator: "sybil".into(),
            weight: 20,
        },
        ..relay(n, EPOCH)
    }));
    Directory::new(SECS, relays).unwrap()
}

#[test]
fn many_relays_of_one_operator_weigh_what_its_stake_weighs() {
    let directory = sybil_network();
    let sybil = |f: &Fingerprint| directory.relay(f).unwrap().stake.operator == "sybil";
    let mut rng = rng();
    const TRIALS: usize = 10_000;
    let mut with_sybil = 0;
    for _ in 0..TRIALS {
        let path = directory.choose_path(&fp(1), &fp(2), 2, &mut rng).unwrap();
        let mixes: Vec<&Fingerprint> = path.mixes().iter().map(Hop::fingerprint).collect();
        assert!(
            !(sybil(mixes[0]) && sybil(mixes[1])),
            "two relays of one operator on a path"
        );
        with_sybil += usize::from(mixes.iter().any(|mix| sybil(mix)));
    }
    // The mixes come from 4 operators of equal stake (honest 3, 4, 5 and the sybil), two of
    // them per path: the sybil is on half the paths, as each honest operator is. Drawn by relay
    // count instead, 50 of 53 candidates, it would be on nearly all. The standard deviation is
    // 50 paths.
    assert!(with_sybil.abs_diff(TRIALS / 2) < 300, "{with_sybil}");
}

#[test]
fn gateways_and_hosts_are_drawn_by_stake_and_hosts_apart_from_the_gateway() {
    let directory = sybil_network();
    let mut rng = rng();
    let sybil_gateways = (0..6000)
        .filter(|_| directory.choose_gateway(&mut rng).unwrap().stake.operator == "sybil")
        .count();
    // One operator in six by stake (1000 of 6000 per relay-share), not 50 relays in 55.
    assert!(sybil_gateways.abs_diff(1000) < 150, "{sybil_gateways}");
    let gateway = *directory.relays()[10].fingerprint();
    for _ in 0..500 {
        let host = directory.choose_host(&gateway, &mut rng).unwrap();
        assert_ne!(host.stake.operator, "sybil", "the gateway's operator");
    }
    assert_eq!(
        directory.choose_host(&fp(9), &mut rng),
        Err(DirectoryError::UnknownRelay(fp(9)))
    );
    let alone = self::directory(1);
    assert_eq!(
        alone.choose_host(&fp(1), &mut rng),
        Err(DirectoryError::NoHost)
    );
}

#[test]
fn a_path_keeps_to_distinct_subnets_unless_the_network_says_otherwise() {
    // Relays 1..=6; 3 and 4 share 10.3.0.0/16 with different operators.
    let mut relays: Vec<Relay> = (1..=6).map(|n| relay(n, EPOCH)).collect();
    relays[3].descriptor.address.host = "10.3.77.1".into();
    let strict = Directory::new(SECS, relays.clone()).unwrap();
    let loose = Directory::with_subnet_rule(SECS, false, relays).unwrap();
    let mut rng = rng();
    let mut together = 0;
    for _ in 0..2000 {
        let path = strict.choose_path(&fp(1), &fp(2), 3, &mut rng).unwrap();
        let mixes: Vec<Fingerprint> = path.mixes().iter().map(|h| *h.fingerprint()).collect();
        assert!(!(mixes.contains(&fp(3)) && mixes.contains(&fp(4))));
        let path = loose.choose_path(&fp(1), &fp(2), 3, &mut rng).unwrap();
        let mixes: Vec<Fingerprint> = path.mixes().iter().map(|h| *h.fingerprint()).collect();
        together += usize::from(mixes.contains(&fp(3)) && mixes.contains(&fp(4)));
    }
    assert!(together > 0);
    // Four mixes need four subnets besides the ends' (10.1 and 10.2): there are three.
    assert_eq!(
        strict.choose_path(&fp(1), &fp(2), 4, &mut rng),
        Err(DirectoryError::NetworkTooSmall {
            mixes: 4,
            needed: 6,
            available: 5
        })
    );
    assert!(loose.choose_path(&fp(1), &fp(2), 4, &mut rng).is_ok());
}

#[test]
fn a_mix_never_shares_an_operator_with_either_end() {
    let mut relays: Vec<Relay> = (1..=6).map(|n| relay(n, EPOCH)).collect();
    relays[2].stake.operator = "op1".into();
    relays[3].stake.operator = "op2".into();
    let directory = Directory::new(SECS, relays).unwrap();
    let mut rng = rng();
    for _ in 0..500 {
        let path = directory.choose_path(&fp(1), &fp(2), 2, &mut rng).unwrap();
        for hop in path.mixes() {
            assert!(![fp(3), fp(4)].contains(hop.fingerprint()));
        }
    }
}

const LEDGER: &str = r#"
min_stake = 100

[[operator]]
name = "north"
stake = 1001
relays = ["RELAY1", "RELAY2"]

[[operator]]
name = "south"
stake = 500
relays = ["RELAY3"]
"#;

/// The ledger with relays 1 and 3 named by fingerprint, relay 2 by its address.
fn ledger_text() -> String {
    (1..=3).fold(LEDGER.to_owned(), |text, n| {
        let name = match n {
            2 => descriptor(n, EPOCH).address.to_string(),
            _ => fp(n).to_string(),
        };
        text.replace(&format!("RELAY{n}"), &name)
    })
}

#[test]
fn a_ledger_admits_staked_relays_with_their_share_of_the_stake() {
    let ledger = Ledger::parse(&ledger_text()).unwrap();
    assert_eq!(ledger.operators().len(), 2);
    let descriptors =
        Descriptors::new(SECS, (1..=4).map(|n| descriptor(n, EPOCH)).collect()).unwrap();
    let admission = ledger.admit(descriptors).unwrap();
    assert_eq!(admission.unstaked, vec![fp(4)]);
    assert!(admission.absent.is_empty());
    let stakes: Vec<(&str, u64)> = admission
        .directory
        .relays()
        .iter()
        .map(|r| (r.stake.operator.as_str(), r.stake.weight))
        .collect();
    assert_eq!(stakes, [("north", 501), ("north", 500), ("south", 500)]);
    assert!(admission.directory.distinct_subnets());

    // With one of north's relays down, the other carries all of north's stake.
    let descriptors =
        Descriptors::new(SECS, vec![descriptor(2, EPOCH), descriptor(3, EPOCH)]).unwrap();
    let admission = ledger.admit(descriptors).unwrap();
    assert_eq!(admission.absent, vec![fp(1)]);
    assert_eq!(admission.directory.relays()[0].stake.weight, 1001);
}

#[test]
fn a_ledger_is_refused_with_what_is_wrong() {
    let text = ledger_text();
    let refused = |from: &str, to: &str| {
        assert!(text.contains(from), "{from}");
        Ledger::parse(&text.replacen(from, to, 1)).unwrap_err()
    };
    assert!(matches!(
        refused("stake = 500", "stake = 99"),
        LedgerError::BelowMinimum {
            number: 2,
            stake: 99,
            min: 100,
            ..
        }
    ));
    assert!(matches!(
        refused("\"south\"", "\"north\""),
        LedgerError::DuplicateName {
            first: 1,
            again: 2,
            ..
        }
    ));
    assert!(matches!(
        refused("\"south\"", "\"so uth\""),
        LedgerError::Name { number: 2, .. }
    ));
    let shared = refused(&fp(3).to_string(), &fp(1).to_string());
    assert_eq!(
        shared,
        LedgerError::SharedRelay {
            fingerprint: fp(1),
            first: 1,
            again: 2
        }
    );
    assert!(shared.to_string().contains("one operator"));
    assert!(matches!(
        refused(&descriptor(2, EPOCH).address.to_string(), "beef"),
        LedgerError::Fingerprint {
            number: 1,
            entry: 2,
            ..
        }
    ));
    assert!(matches!(
        refused("min_stake = 100", "min_stake = 100\nmax_stake = 1"),
        LedgerError::Toml(message) if message.contains("unknown field")
    ));
    assert_eq!(
        Ledger::parse("min_stake = 1\n"),
        Err(LedgerError::NoOperators)
    );
    let thin = Ledger::new(
        1,
        true,
        vec![Operator {
            name: "thin".into(),
            stake: 1,
            relays: vec![fp(1), fp(2)],
        }],
    );
    assert!(matches!(
        thin,
        Err(LedgerError::StakeTooThin { relays: 2, .. })
    ));
}

#[test]
fn authorities_named_in_the_ledger_check_a_file_against_their_own_copy() {
    let keys: Vec<VerifyingKey> = (1..=3u8)
        .map(|n| SigningKey::from_bytes(&[n + 80; 32]).verifying_key())
        .collect();
    let listed: Vec<String> = keys
        .iter()
        .map(|key| format!("\"{}\"", hex::encode(key.as_bytes())))
        .collect();
    let text = format!("authorities = [{}]\n{}", listed.join(", "), ledger_text());
    let ledger = Ledger::parse(&text).unwrap();
    assert_eq!(ledger.authorities().unwrap().threshold(), 2, "a majority");
    let descriptors =
        Descriptors::new(SECS, (1..=3).map(|n| descriptor(n, EPOCH)).collect()).unwrap();
    let directory = ledger.admit(descriptors).unwrap().directory;
    assert_eq!(directory.authorities(), ledger.authorities());
    assert_eq!(ledger.confirms(&directory), Ok(()));

    // A file whose stakes, relays or authorities are not what this ledger gives is refused.
    let mut relays = directory.relays().to_vec();
    relays[0].stake.weight += 1;
    let inflated = Directory::new(SECS, relays)
        .unwrap()
        .with_authorities(ledger.authorities().unwrap().clone());
    let error = ledger.confirms(&inflated).unwrap_err();
    assert!(
        error.to_string().contains("with stake 502 in the file"),
        "{error}"
    );
    let strangers = Directory::new(SECS, vec![relay(9, EPOCH)]).unwrap();
    assert!(matches!(
        ledger.confirms(&strangers),
        Err(LedgerError::Disagrees(_))
    ));
    let alone = directory.with_authorities(Authorities::single(keys[0]));
    assert!(ledger
        .confirms(&alone)
        .unwrap_err()
        .to_string()
        .contains("authorities"));

    assert_eq!(
        Ledger::parse(&format!("threshold = 2\n{}", ledger_text())),
        Err(LedgerError::ThresholdAlone)
    );
    assert!(matches!(
        Ledger::parse(&format!(
            "authorities = [{}]\nthreshold = 4\n{}",
            listed.join(", "),
            ledger_text()
        )),
        Err(LedgerError::Authorities(DirectoryError::Threshold { .. }))
    ));
}

/// A gateway and a host of one operator (or one /16) would link a client's address to its
/// mailbox by timing: no path joins them, and an entry can be drawn apart from both.
#[test]
fn a_paths_ends_never_share_an_operator_or_subnet() {
    let mut relays: Vec<Relay> = (1..=6).map(|n| relay(n, EPOCH)).collect();
    relays[1].stake.operator = "op1".into();
    relays[2].descriptor.address.host = "10.1.200.9".into();
    let directory = Directory::new(SECS, relays).unwrap();
    let mut rng = rng();
    for other in [fp(2), fp(3)] {
        assert_eq!(
            directory.choose_path(&fp(1), &other, 2, &mut rng),
            Err(DirectoryError::RelatedEnds(fp(1), other))
        );
        assert!(directory.choose_path(&other, &fp(1), 2, &mut rng).is_err());
    }
    assert!(directory.choose_path(&fp(1), &fp(4), 2, &mut rng).is_ok());
    for _ in 0..50 {
        let entry = *directory
            .choose_apart(&[fp(1), fp(2)], &mut rng)
            .unwrap()
            .fingerprint();
        assert!(![fp(1), fp(2), fp(3)].contains(&entry), "{entry}");
    }
}

/// A host name would be a subnet of its own and slip past the /16 rule: a directory with the
/// rule refuses it, naming the relay; one without the rule takes it.
#[test]
fn with_the_subnet_rule_relays_are_listed_by_ip_address() {
    let mut relays: Vec<Relay> = (1..=3).map(|n| relay(n, EPOCH)).collect();
    relays[1].descriptor.address.host = "relay.example".into();
    let error = Directory::new(SECS, relays.clone()).unwrap_err();
    assert!(matches!(
        &error,
        DirectoryError::UnplacedHost { host, .. } if host == "relay.example"
    ));
    assert!(error.to_string().contains("relay 2"), "{error}");
    assert!(Directory::with_subnet_rule(SECS, false, relays).is_ok());
}
