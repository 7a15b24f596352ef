use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_proto::AddressError;

const SECS: u64 = 3600;
const EPOCH: u64 = 481_000;

/// Relay `n`'s identity key.
fn identity(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn fp(n: u8) -> Fingerprint {
    Fingerprint::of_key(identity(n).verifying_key().as_bytes())
}

/// The authority of these tests.
fn authority() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

/// Relay `n`'s self-description: keys `[n; 32]` and `[!n; 32]`, never zero and never equal,
/// on a subnet of its own (10.n.0.1).
fn descriptor(n: u8, epoch: u64) -> Descriptor {
    Descriptor {
        address: RelayAddress {
            fingerprint: fp(n),
            host: format!("10.{n}.0.1"),
            port: 4000 + u16::from(n),
        },
        onion_key: OnionKey::for_epoch(epoch, SECS, [n; 32]).unwrap(),
        next_onion_key: OnionKey::for_epoch(epoch + 1, SECS, [!n; 32]).unwrap(),
    }
}

/// Relay `n` (from 1), run by operator `op<n>` with a stake of 1.
fn relay(n: u8, epoch: u64) -> Relay {
    Relay {
        descriptor: descriptor(n, epoch),
        stake: Stake {
            operator: format!("op{n}"),
            weight: 1,
        },
    }
}

fn directory(count: u8) -> Directory {
    Directory::new(SECS, (1..=count).map(|n| relay(n, EPOCH)).collect()).unwrap()
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

/// A descriptor file as the `descriptor` module documents it, signed by relay 200.
fn example() -> String {
    let key = |hex_key: &str| {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_key, &mut bytes).unwrap();
        bytes
    };
    let relay = Descriptor {
        address: RelayAddress {
            fingerprint: fp(200),
            host: "127.0.0.1".into(),
            port: 4433,
        },
        onion_key: OnionKey::for_epoch(
            481_000,
            SECS,
            key("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
        )
        .unwrap(),
        next_onion_key: OnionKey::for_epoch(
            481_001,
            SECS,
            key("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"),
        )
        .unwrap(),
    };
    relay.to_signed_toml(SECS, &identity(200)).unwrap()
}

/// The example file with `from` replaced by `to` in it, parsed.
fn example_with(from: &str, to: &str) -> Result<Descriptors, DirectoryError> {
    let example = example();
    assert!(example.contains(from), "{from} is not in the example");
    Descriptors::parse(&example.replace(from, to))
}

/// Relay `n`'s `[[relay]]` table of a descriptor file, signed.
fn signed_table(n: u8) -> String {
    let file = descriptor(n, EPOCH)
        .to_signed_toml(SECS, &identity(n))
        .unwrap();
    file[file.find("\n[[relay]]").unwrap()..].to_owned()
}

/// `text` with its signature lines taken out: a descriptor's `signature = ...`, a network
/// file's `{ authority = ..., signature = ... },` entries.
fn without_signature(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("signature =") && !l.trim_start().starts_with("{ authority"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn the_documented_example_parses() {
    let descriptors = Descriptors::parse(&example()).unwrap();
    assert_eq!(descriptors.epoch_secs, 3600);
    let relay = &descriptors.relays[0];
    assert_eq!(relay.address.host, "127.0.0.1");
    assert_eq!(relay.address.port, 4433);
    assert_eq!(relay.onion_key.epoch, 481_000);
    assert_eq!(relay.next_onion_key.valid_from, 1_731_603_600);
    assert_eq!(relay.onion_key.public_key[0], 0x85);
    assert!(example().starts_with(descriptor::DESCRIPTOR_HEADER));
}

#[test]
fn a_descriptor_is_the_relays_own_word() {
    let relay = descriptor(1, EPOCH);
    let text = relay.to_signed_toml(SECS, &identity(1)).unwrap();
    assert_eq!(
        Descriptors::parse(&text),
        Ok(Descriptors {
            epoch_secs: SECS,
            relays: vec![relay.clone()]
        })
    );
    // Changed on its way: another port, another key, another epoch length.
    for (from, to) in [
        (":4001\"", ":4002\""),
        ("public_key = \"0101", "public_key = \"0201"),
        ("epoch_secs = 3600", "epoch_secs = 1800"),
    ] {
        assert!(text.contains(from), "{from}");
        let changed = text.replacen(from, to, 1);
        match Descriptors::parse(&changed) {
            // A changed epoch length breaks valid_from before the signature is looked at.
            Err(DirectoryError::DescriptorSignature { .. } | DirectoryError::ValidFrom { .. }) => {}
            other => panic!("{to}: {other:?}"),
        }
    }
    // Signed by a key that is not the relay's, or claiming another relay's identity.
    assert!(matches!(
        relay.to_signed_toml(SECS, &identity(2)),
        Err(DirectoryError::IdentityMismatch { .. })
    ));
    let theirs = descriptor(2, EPOCH)
        .to_signed_toml(SECS, &identity(2))
        .unwrap();
    let line = |text: &str, field: &str| {
        text.lines()
            .find(|l| l.starts_with(field))
            .unwrap()
            .to_owned()
    };
    let swapped = text.replace(&line(&text, "identity"), &line(&theirs, "identity"));
    assert!(matches!(
        Descriptors::parse(&swapped),
        Err(DirectoryError::IdentityMismatch { .. })
    ));
    let forged = text.replace(&line(&text, "signature"), &line(&theirs, "signature"));
    let error = Descriptors::parse(&forged).unwrap_err();
    assert!(matches!(error, DirectoryError::DescriptorSignature { .. }));
    assert!(error.to_string().contains("relay 1 ("), "{error}");
    let unsigned = without_signature(&text);
    assert!(matches!(
        Descriptors::parse(&unsigned),
        Err(DirectoryError::Toml(message)) if message.contains("signature")
    ));
}

/// `directory` with the tests' authority as its only one, signed.
fn signed(directory: Directory) -> Directory {
    directory
        .with_authorities(Authorities::single(authority().verifying_key()))
        .sign(&authority())
        .unwrap()
}

/// The value of the first `field = "..."` in `text`.
fn quoted_value<'a>(text: &'a str, field: &str) -> &'a str {
    let start = text.find(&format!("{field} = \"")).unwrap() + field.len() + 4;
    &text[start..start + text[start..].find('"').unwrap()]
}

#[test]
fn written_files_read_back_signed_and_keep_the_order() {
    let mut relays: Vec<Relay> = (1..=5).map(|n| relay(n, EPOCH)).collect();
    relays[2].descriptor.address.host = "::1".into();
    relays[3].descriptor.address.host = "relay-4.example".into();
    relays[4].stake.weight = 25_000;
    relays.reverse();
    // Host names only without the subnet rule (it cannot place them).
    let directory = Directory::with_subnet_rule(SECS, false, relays).unwrap();
    assert_eq!(directory.authorities(), None);
    assert!(!directory.is_approved());
    let text = signed(directory.clone()).to_toml();
    assert!(text.starts_with(file::FILE_HEADER));
    let read = NetworkFile::parse(&text).unwrap();
    assert_eq!(read.signers(), [authority().verifying_key()]);
    assert_eq!(read, signed(directory));
}

#[test]
fn a_changed_or_unsigned_network_file_is_refused() {
    let text = signed(directory(4)).to_toml();
    assert!(NetworkFile::parse(&text).is_ok());
    // Any signed fact changed: a stake, an operator, an address, a key, the subnet rule.
    for (from, to) in [
        ("stake = 1\n", "stake = 2\n"),
        ("operator = \"op3\"", "operator = \"op1\""),
        ("@10.2.0.1:4002", "@10.2.0.1:4099"),
        ("public_key = \"0101", "public_key = \"0201"),
        ("distinct_subnets = true", "distinct_subnets = false"),
    ] {
        assert!(text.contains(from), "{from}");
        match NetworkFile::parse(&text.replacen(from, to, 1)) {
            Err(error @ DirectoryError::BadSignature { .. }) => {
                assert!(error.to_string().contains("changed after"), "{error}")
            }
            other => panic!("{to}: {other:?}"),
        }
    }
    // Comments and layout are not signed.
    let relaid = text.replace("\n[[relay]]", "\n# a comment\n[[relay]]");
    assert!(NetworkFile::parse(&relaid).is_ok());
    // Another key's signature under this authority's name.
    let seven = SigningKey::from_bytes(&[7; 32]);
    let forged = directory(4)
        .with_authorities(Authorities::single(seven.verifying_key()))
        .sign(&seven)
        .unwrap()
        .to_toml();
    let ours = quoted_value(&text, "signature");
    let theirs = quoted_value(&forged, "signature");
    assert!(matches!(
        NetworkFile::parse(&text.replace(ours, theirs)),
        Err(DirectoryError::BadSignature { .. })
    ));
    // A signature by a key the file does not list.
    let stranger = text.replace(
        &format!("{{ authority = \"{}", quoted_value(&text, "authority")),
        &format!(
            "{{ authority = \"{}",
            hex::encode(seven.verifying_key().as_bytes())
        ),
    );
    assert!(matches!(
        NetworkFile::parse(&stranger),
        Err(DirectoryError::NotAnAuthority { .. })
    ));
    let unsigned = without_signature(&text);
    assert_eq!(
        NetworkFile::parse(&unsigned),
        Err(DirectoryError::TooFewSignatures {
            signed: 0,
            needed: 1
        })
    );
    assert_eq!(
        NetworkFile::parse(&text.replace(ours, "00")),
        Err(DirectoryError::SignatureHex)
    );
    let listed = text.lines().find(|l| l.starts_with("authorities")).unwrap();
    assert_eq!(
        NetworkFile::parse(&text.replace(listed, "authorities = [\"zz\"]")),
        Err(DirectoryError::AuthorityHex)
    );
}

#[test]
fn a_file_of_several_authorities_needs_their_threshold() {
    let keys: Vec<SigningKey> = (1..=3)
        .map(|n| SigningKey::from_bytes(&[n + 60; 32]))
        .collect();
    let public: Vec<VerifyingKey> = keys.iter().map(SigningKey::verifying_key).collect();
    let two_of_three = Authorities::new(public.clone(), 2).unwrap();
    let first = directory(4)
        .with_authorities(two_of_three.clone())
        .sign(&keys[0])
        .unwrap();
    assert!(!first.is_approved());
    let text = first.to_toml();
    let error = NetworkFile::parse(&text).unwrap_err();
    assert_eq!(
        error,
        DirectoryError::TooFewSignatures {
            signed: 1,
            needed: 2
        }
    );
    assert!(error.to_string().contains("1 of the 2"), "{error}");
    // Another authority reads it unfinished, adds its signature: now it is a network file.
    let read = NetworkFile::parse_unfinished(&text).unwrap();
    assert_eq!(read, first);
    let both = read.sign(&keys[2]).unwrap();
    assert!(both.is_approved());
    let parsed = NetworkFile::parse(&both.to_toml()).unwrap();
    assert_eq!(parsed.signers(), [public[0], public[2]]);
    assert_eq!(parsed.authorities(), Some(&two_of_three));
    // Signing again renews, not doubles; a key not listed cannot sign.
    assert_eq!(parsed.clone().sign(&keys[0]).unwrap().signers().len(), 2);
    assert!(matches!(
        parsed.sign(&SigningKey::from_bytes(&[9; 32])),
        Err(DirectoryError::NotAnAuthority { .. })
    ));
    let entry = both.to_toml();
    let line = entry
        .lines()
        .find(|l| l.trim_start().starts_with("{ authority"))
        .unwrap();
    let twice = entry.replacen(line, &format!("{line}\n{line}"), 1);
    assert!(matches!(
        NetworkFile::parse(&twice),
        Err(DirectoryError::SignedTwice { .. })
    ));
    assert!(matches!(
        Directory::new(SECS, vec![relay(1, EPOCH)])
            .unwrap()
            .sign(&keys[0]),
        Err(DirectoryError::NoAuthorities)
    ));
}

#[test]
fn the_content_is_checked_before_the_signature() {
    let text = signed(directory(3)).to_toml();
    assert!(matches!(
        NetworkFile::parse(&text.replacen("stake = 1\n", "stake = 0\n", 1)),
        Err(DirectoryError::NoStake {
            relay: RelayRef { number: 1, .. }
        })
    ));
    let error = NetworkFile::parse(&text.replacen("\"op2\"", "\"op 2\"", 1)).unwrap_err();
    assert!(
        error.to_string().contains("relay 2 (") && error.to_string().contains("operator"),
        "{error}"
    );
    assert!(matches!(
        NetworkFile::parse(&text.replacen("stake = 1\n", "stake = 9223372036854775807\n", 1)),
        Err(DirectoryError::StakeTotal)
    ));
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
        Descriptors::parse("epoch_secs = 3600\n"),
        Err(DirectoryError::NoRelays)
    );
    assert!(matches!(
        Descriptors::parse(""),
        Err(DirectoryError::Toml(message)) if message.contains("epoch_secs")
    ));
    assert!(matches!(
        NetworkFile::parse(""),
        Err(DirectoryError::Toml(message)) if message.contains("epoch_secs")
    ));
    assert!(matches!(
        Descriptors::parse("epoch_secs = "),
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
    assert!(
        message.contains(&format!("relay 1 ({})", fp(200))),
        "{message}"
    );
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
    let text = format!("{}{}", example(), signed_table(2).replace("@", "#"));
    match Descriptors::parse(&text) {
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
    twin.descriptor.address.port = 9;
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
        signed_table(1),
        signed_table(1)
    );
    assert!(matches!(
        Descriptors::parse(&text),
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
    far.descriptor.onion_key.epoch = u64::MAX - 1;
    far.descriptor.next_onion_key.epoch = u64::MAX;
    assert!(matches!(
        Directory::new(SECS, vec![far]),
        Err(DirectoryError::EpochRange {
            key: "onion_key",
            ..
        })
    ));
    let mut last = relay(1, EPOCH);
    last.descriptor.onion_key.epoch = u64::MAX;
    assert!(matches!(
        Directory::new(SECS, vec![last]),
        Err(DirectoryError::NextEpoch {
            current: u64::MAX,
            ..
        })
    ));
    let mut odd_host = relay(1, EPOCH);
    odd_host.descriptor.address.host = "a\"b".into();
    assert!(matches!(
        Directory::new(SECS, vec![odd_host]),
        Err(DirectoryError::Address { relay: 1, .. })
    ));
}

mod issuer;
mod paths;
mod stake;
