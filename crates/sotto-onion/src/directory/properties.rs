use super::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A valid directory of `3..=20` relays with varied hosts, ports, epochs and keys.
fn directory() -> impl Strategy<Value = Directory> {
    (
        1..=86_400u64,
        0..=1_000_000_000u64,
        3..=20usize,
        any::<u8>(),
    )
        .prop_flat_map(|(epoch_secs, epoch, count, salt)| {
            proptest::collection::vec(relay_shape(), count).prop_map(move |shapes| {
                let relays = shapes
                    .into_iter()
                    .enumerate()
                    .map(|(index, shape)| shape.build(index, salt, epoch, epoch_secs))
                    .collect();
                Directory::new(epoch_secs, relays).unwrap()
            })
        })
}

#[derive(Debug, Clone)]
struct RelayShape {
    host: &'static str,
    port: u16,
    key_byte: u8,
}

fn relay_shape() -> impl Strategy<Value = RelayShape> {
    (
        prop::sample::select(vec!["127.0.0.1", "::1", "relay.example", "10.1.2.3"]),
        1..=u16::MAX,
        1..=254u8,
    )
        .prop_map(|(host, port, key_byte)| RelayShape {
            host,
            port,
            key_byte,
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
            address: RelayAddress {
                fingerprint: Fingerprint::of_key(&identity),
                host: self.host.into(),
                port: self.port,
            },
            onion_key: OnionKey::for_epoch(epoch, epoch_secs, current).unwrap(),
            next_onion_key: OnionKey::for_epoch(epoch + 1, epoch_secs, next).unwrap(),
        }
    }
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
        let epoch = relays[0].onion_key.epoch + u64::from(at_next_epoch);
        let result = directory.choose_path_at(epoch, &entry, &destination, mixes, &mut rng);
        if entry == destination {
            prop_assert_eq!(result, Err(DirectoryError::SameEnds(entry)));
            return Ok(());
        }
        if relays.len() < mixes + 2 {
            prop_assert_eq!(result, Err(DirectoryError::NetworkTooSmall {
                mixes,
                needed: mixes + 2,
                available: relays.len(),
            }));
            return Ok(());
        }
        let path = result.unwrap();
        prop_assert_eq!(path.mixes().len(), mixes);
        prop_assert_eq!(path.sphinx_route().len(), mixes + 1);
        prop_assert_eq!(path.entry().fingerprint, entry);
        prop_assert_eq!(path.destination().fingerprint(), &destination);
        let mut seen = vec![entry];
        for hop in path.hops() {
            prop_assert!(!seen.contains(hop.fingerprint()), "{:?} twice", hop.fingerprint());
            seen.push(*hop.fingerprint());
            prop_assert_eq!(Some(hop.onion_key), directory.onion_key(hop.fingerprint(), epoch));
        }
    }

    #[test]
    fn directories_read_back_from_their_file(directory in directory()) {
        prop_assert_eq!(NetworkFile::parse(&directory.to_toml()), Ok(directory));
    }

    #[test]
    fn parsing_any_text_never_panics(text in any::<String>()) {
        let _ = NetworkFile::parse(&text);
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
        let text = directory.to_toml();
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
