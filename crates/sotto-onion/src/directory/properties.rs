use super::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A valid directory of `3..=20` relays with varied hosts, ports, epochs, keys, operators
/// (few, so relays share them) and stakes.
fn directory() -> impl Strategy<Value = Directory> {
    (
        1..=86_400u64,
        0..=1_000_000_000u64,
        3..=20usize,
        any::<u8>(),
        any::<bool>(),
    )
        .prop_flat_map(|(epoch_secs, epoch, count, salt, distinct_subnets)| {
            proptest::collection::vec(relay_shape(), count).prop_map(move |shapes| {
                let relays = shapes
                    .into_iter()
                    .enumerate()
                    .map(|(index, mut shape)| {
                        // With the subnet rule, relays are listed by IP address only.
                        if distinct_subnets && shape.host.parse::<std::net::IpAddr>().is_err() {
                            shape.host = "198.51.100.7";
                        }
                        shape.build(index, salt, epoch, epoch_secs)
                    })
                    .collect();
                Directory::with_subnet_rule(epoch_secs, distinct_subnets, relays).unwrap()
            })
        })
}

#[derive(Debug, Clone)]
struct RelayShape {
    host: &'static str,
    port: u16,
    key_byte: u8,
    operator: u8,
    stake: u64,
}

fn relay_shape() -> impl Strategy<Value = RelayShape> {
    (
        prop::sample::select(vec![
            "127.0.0.1",
            "::1",
            "relay.example",
            "10.1.2.3",
            "10.1.9.9",
            "192.0.2.1",
            "2001:db8::1",
        ]),
        1..=u16::MAX,
        1..=254u8,
        0..12u8,
        1..=1_000_000u64,
    )
        .prop_map(|(host, port, key_byte, operator, stake)| RelayShape {
            host,
            port,
            key_byte,
            operator,
            stake,
        })
}

impl RelayShape {
    /// Fingerprints come from the index, so they are distinct; keys from `key_byte`, so
    /// they are never zero and current differs from next.
    fn build(self, index: usize, salt: u8, epoch: u64, epoch_secs: u64) -> Relay {
        let mut identity = [salt; 32];
        identity[..8].copy_from_slice(&(index as u64).to_le_bytes());
        let mut current = [self.key_byte; 32];
        current[0] = index as u8;
        let mut next = [!self.key_byte; 32];
        next[0] = index as u8;
        Relay {
            descriptor: Descriptor {
                address: RelayAddress {
                    fingerprint: Fingerprint::of_key(&identity),
                    host: self.host.into(),
                    port: self.port,
                },
                onion_key: OnionKey::for_epoch(epoch, epoch_secs, current).unwrap(),
                next_onion_key: OnionKey::for_epoch(epoch + 1, epoch_secs, next).unwrap(),
            },
            stake: Stake {
                operator: format!("op{}", self.operator),
                weight: self.stake,
            },
        }
    }
}

fn signed(directory: Directory) -> Directory {
    let key = SigningKey::from_bytes(&[42; 32]);
    directory
        .with_authorities(Authorities::single(key.verifying_key()))
        .sign(&key)
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn paths_are_distinct_complete_and_avoid_their_ends(
        directory in directory(),
        ends in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
        mixes in 1..=MAX_MIXES,
        seed in any::<u64>(),
        at_next_epoch in any::<bool>(),
    ) {
        let relays = directory.relays();
        let entry = *ends.0.get(relays).fingerprint();
        let destination = *ends.1.get(relays).fingerprint();
        let mut rng = StdRng::seed_from_u64(seed);
        let epoch = relays[0].descriptor.onion_key.epoch + u64::from(at_next_epoch);
        let result = directory.choose_path_at(epoch, &entry, &destination, mixes, &mut rng);
        if entry == destination {
            prop_assert_eq!(result, Err(DirectoryError::SameEnds(entry)));
            return Ok(());
        }
        let rule = directory.distinct_subnets();
        let (entry_relay, destination_relay) =
            (directory.relay(&entry).unwrap(), directory.relay(&destination).unwrap());
        if stake::related(entry_relay, destination_relay, rule) {
            prop_assert_eq!(result, Err(DirectoryError::RelatedEnds(entry, destination)));
            return Ok(());
        }
        let path = match result {
            Ok(path) => path,
            Err(DirectoryError::NetworkTooSmall { .. }) => {
                // Only when the relays do not hold enough unrelated ones.
                let unrelated = relays.len() >= mixes + 2
                    && relays.iter().enumerate().all(|(i, a)| {
                        relays[i + 1..].iter().all(|b| !stake::related(a, b, rule))
                    });
                prop_assert!(!unrelated, "enough unrelated relays, yet too small");
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert_eq!(path.mixes().len(), mixes);
        prop_assert_eq!(path.sphinx_route().len(), mixes + 1);
        prop_assert_eq!(path.entry().fingerprint, entry);
        prop_assert_eq!(path.destination().fingerprint(), &destination);
        let ends = [directory.relay(&entry).unwrap(), directory.relay(&destination).unwrap()];
        let mut seen: Vec<&Relay> = Vec::new();
        for hop in path.mixes() {
            let mix = directory.relay(hop.fingerprint()).unwrap();
            for other in ends.iter().chain(seen.iter()) {
                prop_assert!(!stake::related(mix, other, rule), "{:?} beside {:?}", mix, other);
            }
            seen.push(mix);
        }
        for hop in path.hops() {
            prop_assert_eq!(Some(hop.onion_key), directory.onion_key(hop.fingerprint(), epoch));
        }
    }

    #[test]
    fn directories_read_back_from_their_file(directory in directory()) {
        prop_assert_eq!(
            NetworkFile::parse(&signed(directory.clone()).to_toml()),
            Ok(signed(directory))
        );
    }

    #[test]
    fn parsing_any_text_never_panics(text in any::<String>()) {
        let _ = NetworkFile::parse(&text);
        let _ = Descriptors::parse(&text);
        let _ = Ledger::parse(&text);
    }

    /// Random text rarely gets past the TOML parser; damage to a valid file does, and
    /// reaches the checks behind it.
    #[test]
    fn parsing_a_damaged_file_never_panics(
        directory in directory(),
        at in any::<prop::sample::Index>(),
        cut in 0..40usize,
        insert in "[0-9a-f\"=\\[\\]{}, .\n-]{0,12}",
    ) {
        let text = signed(directory).to_toml();
        let start = at.index(text.len());
        let end = (start + cut).min(text.len());
        if let (Some(head), Some(tail)) = (text.get(..start), text.get(end..)) {
            if let Ok(parsed) = NetworkFile::parse(&format!("{head}{insert}{tail}")) {
                // Whatever is accepted is a directory that writes back the same.
                prop_assert_eq!(NetworkFile::parse(&parsed.to_toml()), Ok(parsed));
            }
        }
    }
}
