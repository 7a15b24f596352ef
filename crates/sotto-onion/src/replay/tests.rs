use super::*;
use proptest::prelude::*;

fn tag(n: u8) -> ReplayTag {
    [n; TAG_LEN]
}

/// Appends a fresh checksum to a hand-built snapshot body, so tests reach the structural
/// checks behind the checksum.
fn sealed(mut body: Vec<u8>) -> Vec<u8> {
    let checksum = crc32(&body);
    body.extend_from_slice(&checksum.to_be_bytes());
    body
}

fn header(retired_before: u64, epochs: u32) -> Vec<u8> {
    let mut out = SNAPSHOT_MAGIC.to_vec();
    out.push(SNAPSHOT_VERSION);
    out.extend_from_slice(&retired_before.to_be_bytes());
    out.extend_from_slice(&epochs.to_be_bytes());
    out
}

/// An epoch of one first stage holding `tags`, built from the layout's description of the bit
/// positions rather than from the filter's code.
fn epoch_block(epoch: u64, tags: &[ReplayTag]) -> Vec<u8> {
    let words = (filter::FIRST_STAGE_TAGS * filter::BITS_PER_TAG / 64) as usize;
    let bits = words as u64 * 64;
    let mut stage = vec![0u64; words];
    for tag in tags {
        let first = u64::from_le_bytes(tag[0..8].try_into().unwrap());
        let step = u64::from_le_bytes(tag[8..16].try_into().unwrap()) | 1;
        for i in 0..filter::PROBES {
            let bit = first.wrapping_add(i.wrapping_mul(step)) % bits;
            stage[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }
    let mut out = epoch.to_be_bytes().to_vec();
    out.push(1);
    out.extend_from_slice(&(tags.len() as u64).to_be_bytes());
    for word in stage {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out
}

/// Distinct, uniform-looking tags (splitmix64), as real tags are.
fn random_tags(seed: u64, count: usize) -> Vec<ReplayTag> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..count)
        .map(|_| {
            let mut tag = [0u8; TAG_LEN];
            for chunk in tag.chunks_exact_mut(8) {
                chunk.copy_from_slice(&next().to_le_bytes());
            }
            tag
        })
        .collect()
}

fn sample() -> ReplayCache {
    let mut cache = ReplayCache::new();
    for (epoch, n) in [(7, 3), (7, 1), (8, 9), (8, 2), (8, 5), (10, 0)] {
        assert_eq!(cache.check_and_insert(epoch, tag(n)), Ok(()));
    }
    cache.retire_epochs_before(7);
    cache
}

#[test]
fn crc32_matches_the_standard_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn a_replayed_tag_is_refused_within_its_epoch_only() {
    let mut cache = ReplayCache::new();
    assert_eq!(cache.check_and_insert(1, tag(1)), Ok(()));
    assert_eq!(
        cache.check_and_insert(1, tag(1)),
        Err(Refused::Replayed { epoch: 1 })
    );
    assert_eq!(cache.check_and_insert(1, tag(2)), Ok(()));
    // Another key gives another tag for the same packet; scoping is by epoch.
    assert_eq!(cache.check_and_insert(2, tag(1)), Ok(()));
    assert!(cache.contains(1, &tag(1)));
    assert!(!cache.contains(3, &tag(1)));
    assert_eq!(cache.len(), 3);
    assert_eq!(cache.epochs().collect::<Vec<_>>(), vec![(1, 2), (2, 1)]);
}

#[test]
fn retired_epochs_are_forgotten_and_refused() {
    let mut cache = ReplayCache::new();
    for epoch in 1..=3 {
        assert_eq!(cache.check_and_insert(epoch, tag(epoch as u8)), Ok(()));
    }
    assert_eq!(cache.check_and_insert(2, tag(9)), Ok(()));
    assert_eq!(cache.retire_epochs_before(3), 3);
    assert_eq!(cache.epochs().collect::<Vec<_>>(), vec![(3, 1)]);
    assert_eq!(
        cache.check_and_insert(2, tag(2)),
        Err(Refused::EpochRetired {
            epoch: 2,
            retired_before: 3
        })
    );
    // Monotonic: an older bound changes nothing.
    assert_eq!(cache.retire_epochs_before(1), 0);
    assert_eq!(cache.retired_before(), 3);
    assert_eq!(cache.retire_epochs_before(u64::MAX), 1);
    assert!(cache.is_empty());
}

/// The old cache refused every fresh packet once an epoch held its cap of tags, so anyone
/// with the published onion key could close a relay. A flood far past the first stages only
/// makes the filter grow: fresh tags keep passing, and every one of them is caught when
/// replayed.
#[test]
fn a_flood_of_fresh_tags_never_closes_an_epoch() {
    let mut cache = ReplayCache::new();
    let flood = random_tags(1, 5 * filter::FIRST_STAGE_TAGS as usize);
    let refused = flood
        .iter()
        .filter(|tag| cache.check_and_insert(5, **tag).is_err())
        .count();
    // A false "seen" is allowed now and then (about 1 in 100,000 at a full stage).
    assert!(refused <= 2, "{refused} fresh tags refused");
    assert_eq!(cache.len(), (flood.len() - refused) as u64);
    assert!(
        cache.filter_bytes() > filter::stage_words(0) * 8,
        "the filter grew"
    );
    let honest = random_tags(2, 1_000);
    let refused = honest
        .iter()
        .filter(|tag| cache.check_and_insert(5, **tag).is_err())
        .count();
    assert!(
        refused <= 1,
        "{refused} honest tags refused after the flood"
    );
    for tag in flood.iter().chain(&honest).step_by(7) {
        assert_eq!(
            cache.check_and_insert(5, *tag),
            Err(Refused::Replayed { epoch: 5 })
        );
    }
}

#[test]
fn the_last_stage_takes_tags_past_its_capacity_instead_of_refusing() {
    let mut tags = TagFilter::with(&tag(0));
    for index in 0..filter::MAX_STAGES {
        tags.stages.push(filter::Stage {
            inserted: filter::stage_capacity(index),
            words: Vec::new(),
        });
    }
    tags.stages.remove(0);
    tags.stages.truncate(filter::MAX_STAGES);
    tags.stages.last_mut().unwrap().words = vec![0; 4];
    tags.insert(&tag(1));
    assert_eq!(tags.stages.len(), filter::MAX_STAGES);
    assert!(tags.contains(&tag(1)));
}

#[test]
fn live_epochs_are_limited() {
    let mut cache = ReplayCache::new();
    for epoch in 0..MAX_LIVE_EPOCHS as u64 {
        assert_eq!(cache.check_and_insert(epoch, tag(0)), Ok(()));
    }
    let next = MAX_LIVE_EPOCHS as u64;
    assert_eq!(
        cache.check_and_insert(next, tag(0)),
        Err(Refused::TooManyEpochs {
            epoch: next,
            limit: MAX_LIVE_EPOCHS
        })
    );
    cache.retire_epochs_before(1);
    assert_eq!(cache.check_and_insert(next, tag(0)), Ok(()));
    let decoded = ReplayCache::decode(&cache.encode());
    assert_eq!(decoded, Ok(cache));
}

#[test]
fn snapshot_layout_is_as_documented() {
    let mut cache = ReplayCache::new();
    assert_eq!(cache.check_and_insert(9, tag(0xbb)), Ok(()));
    assert_eq!(cache.check_and_insert(9, tag(0xaa)), Ok(()));
    assert_eq!(cache.check_and_insert(4, tag(0xcc)), Ok(()));
    cache.retire_epochs_before(2);

    let mut expected = header(2, 2);
    expected.extend(epoch_block(4, &[tag(0xcc)]));
    expected.extend(epoch_block(9, &[tag(0xbb), tag(0xaa)]));
    let expected = sealed(expected);
    assert_eq!(cache.encode(), expected);
    let stage = filter::FIRST_STAGE_TAGS * filter::BITS_PER_TAG / 8;
    assert_eq!(expected.len() as u64, 17 + 2 * (8 + 1 + 8 + stage) + 4);
}

#[test]
fn snapshot_round_trips() {
    let cache = sample();
    let bytes = cache.encode();
    let decoded = ReplayCache::decode(&bytes).expect("own snapshot decodes");
    assert_eq!(decoded, cache);
    assert_eq!(decoded.encode(), bytes);
    assert_eq!(decoded.retired_before(), 7);

    let empty = ReplayCache::new();
    assert_eq!(ReplayCache::decode(&empty.encode()), Ok(empty));

    let mut grown = ReplayCache::new();
    for tag in random_tags(3, filter::FIRST_STAGE_TAGS as usize + 5) {
        let _ = grown.check_and_insert(1, tag);
    }
    assert_eq!(ReplayCache::decode(&grown.encode()), Ok(grown));
}

#[test]
fn debug_shows_counts_not_tags() {
    let text = format!("{:?}", sample());
    assert!(text.contains("tags_per_epoch"));
    assert!(!text.contains("9, 9, 9"));
}

#[test]
fn every_truncated_snapshot_is_rejected_as_truncated() {
    let bytes = sample().encode();
    for len in 0..bytes.len() {
        match ReplayCache::decode(&bytes[..len]) {
            Err(ReplayError::Truncated { .. }) => {}
            other => panic!("prefix of {len} bytes gave {other:?}"),
        }
    }
}

#[test]
fn malformed_snapshots_say_what_is_wrong() {
    let good = sample().encode();

    let mut bad_magic = good.clone();
    bad_magic[0] = b'X';
    assert_eq!(
        ReplayCache::decode(&bad_magic),
        Err(ReplayError::BadMagic { found: *b"XRPL" })
    );

    let mut bad_version = good.clone();
    bad_version[4] = 1;
    assert_eq!(
        ReplayCache::decode(&bad_version),
        Err(ReplayError::UnsupportedVersion { found: 1 })
    );

    let mut flipped = good.clone();
    let last_tag_byte = good.len() - CHECKSUM_LEN - 1;
    flipped[last_tag_byte] ^= 0x01;
    assert!(matches!(
        ReplayCache::decode(&flipped),
        Err(ReplayError::ChecksumMismatch { .. })
    ));

    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        ReplayCache::decode(&trailing),
        Err(ReplayError::TrailingBytes { extra: 1 })
    );

    let one_stage = |epoch: u64, inserted: u64| {
        let mut block = epoch_block(epoch, &[tag(1)]);
        block[9..17].copy_from_slice(&inserted.to_be_bytes());
        block
    };
    let mut two_stages = one_stage(1, 5);
    two_stages[8] = 2;
    two_stages.extend_from_slice(&1u64.to_be_bytes());
    two_stages.extend(vec![0u8; filter::stage_words(1) * 8]);
    let mut no_stage = epoch_block(1, &[]);
    no_stage[8] = 0;
    let mut too_many_stages = epoch_block(1, &[]);
    too_many_stages[8] = filter::MAX_STAGES as u8 + 1;
    let cases: Vec<(Vec<u8>, ReplayError)> = vec![
        (
            [header(0, 1), one_stage(1, 0)].concat(),
            ReplayError::BadStageFill {
                epoch: 1,
                stage: 0,
                inserted: 0,
                expected: "1 to its capacity (the last stage)",
            },
        ),
        (
            [header(0, 1), one_stage(1, filter::FIRST_STAGE_TAGS + 1)].concat(),
            ReplayError::BadStageFill {
                epoch: 1,
                stage: 0,
                inserted: filter::FIRST_STAGE_TAGS + 1,
                expected: "1 to its capacity (the last stage)",
            },
        ),
        (
            [header(0, 1), two_stages].concat(),
            ReplayError::BadStageFill {
                epoch: 1,
                stage: 0,
                inserted: 5,
                expected: "its capacity (an earlier stage is full)",
            },
        ),
        (
            [header(0, 1), no_stage].concat(),
            ReplayError::BadStageCount {
                epoch: 1,
                count: 0,
                max: filter::MAX_STAGES,
            },
        ),
        (
            [header(0, 1), too_many_stages].concat(),
            ReplayError::BadStageCount {
                epoch: 1,
                count: filter::MAX_STAGES as u8 + 1,
                max: filter::MAX_STAGES,
            },
        ),
        (
            [header(5, 1), epoch_block(4, &[tag(1)])].concat(),
            ReplayError::RetiredEpoch {
                epoch: 4,
                retired_before: 5,
            },
        ),
        (
            [
                header(0, 2),
                epoch_block(3, &[tag(1)]),
                epoch_block(3, &[tag(2)]),
            ]
            .concat(),
            ReplayError::EpochsOutOfOrder {
                previous: 3,
                epoch: 3,
            },
        ),
        (
            header(0, u32::MAX),
            ReplayError::TooManyEpochs {
                count: u32::MAX as usize,
                limit: MAX_LIVE_EPOCHS,
            },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(ReplayCache::decode(&sealed(body)), Err(expected));
    }

    // The stage's size comes from its place, never from the input: a short stage is
    // truncation, not an allocation the input asked for.
    let mut short = [header(0, 1), epoch_block(1, &[tag(1)])].concat();
    short.truncate(short.len() - 8);
    assert!(matches!(
        ReplayCache::decode(&sealed(short)),
        Err(ReplayError::Truncated { .. })
    ));
}

#[test]
fn log_rebuilds_the_cache_and_ignores_a_torn_tail() {
    let mut original = ReplayCache::new();
    let mut log = Vec::new();
    for (epoch, n) in [(1, 1), (1, 2), (2, 1), (3, 7)] {
        assert_eq!(original.check_and_insert(epoch, tag(n)), Ok(()));
        log.extend_from_slice(&encode_entry(epoch, &tag(n)));
    }
    let clean = log.len();
    let torn_record = encode_entry(3, &tag(8));
    for torn in 1..LOG_ENTRY_LEN {
        let mut torn_log = log.clone();
        torn_log.extend_from_slice(&torn_record[..torn]);
        let mut rebuilt = ReplayCache::new();
        let summary = rebuilt
            .apply_log(&torn_log)
            .expect("torn tail is tolerated");
        assert_eq!(rebuilt, original);
        assert_eq!(
            summary,
            LogSummary {
                records: 4,
                inserted: 4,
                valid_len: clean,
                torn_tail: torn,
                ..LogSummary::default()
            }
        );
    }
    let mut rebuilt = ReplayCache::new();
    assert_eq!(rebuilt.apply_log(&log).map(|s| s.torn_tail), Ok(0));
    assert_eq!(rebuilt, original);
    assert_eq!(ReplayCache::new().apply_log(&[]), Ok(LogSummary::default()));
}

#[test]
fn garbage_in_the_log_is_rejected_and_changes_nothing() {
    let mut log = Vec::new();
    for n in 0..3 {
        log.extend_from_slice(&encode_entry(1, &tag(n)));
    }
    let start = ReplayCache::new();

    let mut bit_rot = log.clone();
    bit_rot[LOG_ENTRY_LEN + 20] ^= 0x40;
    let mut cache = start.clone();
    assert_eq!(
        cache.apply_log(&bit_rot),
        Err(ReplayError::LogChecksumMismatch {
            offset: LOG_ENTRY_LEN
        })
    );
    assert_eq!(cache, start);

    let mut bad_magic = log.clone();
    bad_magic[2 * LOG_ENTRY_LEN] = 0;
    assert_eq!(
        cache.apply_log(&bad_magic),
        Err(ReplayError::LogBadMagic {
            offset: 2 * LOG_ENTRY_LEN
        })
    );

    // Even the last complete record must be intact: only a short tail counts as torn.
    let mut bad_last = log.clone();
    let last = bad_last.len() - 1;
    bad_last[last] ^= 0xff;
    assert_eq!(
        cache.apply_log(&bad_last),
        Err(ReplayError::LogChecksumMismatch {
            offset: 2 * LOG_ENTRY_LEN
        })
    );

    // A tail that does not begin like a record is damage, not a torn append.
    let mut junk_tail = log.clone();
    junk_tail.extend_from_slice(b"SRX");
    assert_eq!(
        cache.apply_log(&junk_tail),
        Err(ReplayError::LogBadMagic {
            offset: 3 * LOG_ENTRY_LEN
        })
    );

    assert_eq!(cache, start);
}

#[test]
fn snapshot_plus_log_survives_a_crash_between_compaction_steps() {
    // Epoch 1 running; tags go to the log.
    let mut relay = ReplayCache::new();
    let mut log = Vec::new();
    for n in 0..4 {
        assert_eq!(relay.check_and_insert(1, tag(n)), Ok(()));
        log.extend_from_slice(&encode_entry(1, &tag(n)));
    }
    assert_eq!(relay.check_and_insert(2, tag(50)), Ok(()));
    log.extend_from_slice(&encode_entry(2, &tag(50)));
    // Rotation: retire epoch 1, snapshot, then crash before the log is truncated.
    relay.retire_epochs_before(2);
    let snapshot = relay.encode();

    let mut restarted = ReplayCache::decode(&snapshot).expect("snapshot decodes");
    let summary = restarted.apply_log(&log).expect("old log applies");
    assert_eq!(summary.retired, 4);
    assert_eq!(summary.already_known, 1);
    assert_eq!(summary.inserted, 0);
    assert_eq!(restarted, relay);
    assert_eq!(
        restarted.check_and_insert(2, tag(50)),
        Err(Refused::Replayed { epoch: 2 })
    );
}

/// The tag recipe from the module docs, against the real `sphinx-packet` crate: a replayed
/// packet, even a tampered one, gives the same tag, a fresh packet a different one, and a
/// tampered copy fails the MAC check that comes before the cache.
#[test]
fn sphinx_packet_replay_tag_detects_a_replayed_packet() {
    use sphinx_packet::constants::{
        DESTINATION_ADDRESS_LENGTH, IDENTIFIER_LENGTH, NODE_ADDRESS_LENGTH,
    };
    use sphinx_packet::crypto::{PrivateKey, PublicKey};
    use sphinx_packet::header::delays::Delay;
    use sphinx_packet::route::{Destination, DestinationAddressBytes, Node, NodeAddressBytes};
    use sphinx_packet::SphinxPacket;

    let onion_key = PrivateKey::from([42u8; 32]);
    let route = [Node::new(
        NodeAddressBytes::from_bytes([1u8; NODE_ADDRESS_LENGTH]),
        PublicKey::from(&onion_key),
    )];
    let destination = Destination::new(
        DestinationAddressBytes::from_bytes([2u8; DESTINATION_ADDRESS_LENGTH]),
        [3u8; IDENTIFIER_LENGTH],
    );
    let delays = [Delay::new_from_nanos(0)];
    let build = || {
        SphinxPacket::new(b"hello".to_vec(), &route, &destination, &delays)
            .expect("packet builds")
            .to_bytes()
    };
    let tag_of = |bytes: &[u8]| {
        let packet = SphinxPacket::from_bytes(bytes).expect("packet parses");
        let expanded = packet.header.compute_expanded_shared_secret(&onion_key);
        let mac_ok = packet.header.ensure_header_integrity(&expanded).is_ok();
        (*expanded.replay_tag(), mac_ok)
    };

    let first = build();
    let mut cache = ReplayCache::new();
    let (tag, mac_ok) = tag_of(&first);
    assert!(mac_ok);
    assert_eq!(cache.check_and_insert(0, tag), Ok(()));

    assert_eq!(tag_of(&first), (tag, true));
    assert_eq!(
        cache.check_and_insert(0, tag_of(&first).0),
        Err(Refused::Replayed { epoch: 0 })
    );

    let mut tampered = first.clone();
    tampered[40] ^= 1; // inside the MAC, after the 32-byte alpha
    assert_eq!(tag_of(&tampered), (tag, false));

    let (other, mac_ok) = tag_of(&build());
    assert!(mac_ok);
    assert_ne!(other, tag);
    assert_eq!(cache.check_and_insert(0, other), Ok(()));
}

fn any_cache() -> impl Strategy<Value = ReplayCache> {
    (
        0u64..4,
        proptest::collection::vec((0u64..8, any::<[u8; TAG_LEN]>()), 0..24),
    )
        .prop_map(|(retire, inserts)| {
            let mut cache = ReplayCache::new();
            for (epoch, tag) in inserts {
                let _ = cache.check_and_insert(epoch, tag);
            }
            cache.retire_epochs_before(retire);
            cache
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn snapshots_round_trip(cache in any_cache()) {
        let bytes = cache.encode();
        let decoded = ReplayCache::decode(&bytes);
        prop_assert_eq!(decoded.as_ref(), Ok(&cache));
        prop_assert_eq!(decoded.map(|c| c.encode()), Ok(bytes));
    }

    #[test]
    fn a_damaged_byte_never_decodes(cache in any_cache(), at in any::<prop::sample::Index>(), flip in 1u8..) {
        let mut bytes = cache.encode();
        let at = at.index(bytes.len());
        bytes[at] ^= flip;
        prop_assert!(ReplayCache::decode(&bytes).is_err());
    }

    #[test]
    fn logs_rebuild_what_was_inserted(
        inserts in proptest::collection::vec((0u64..4, any::<[u8; TAG_LEN]>()), 0..24),
        torn in 0usize..LOG_ENTRY_LEN,
    ) {
        let mut live = ReplayCache::new();
        let mut log = Vec::new();
        for (epoch, tag) in inserts {
            if live.check_and_insert(epoch, tag).is_ok() {
                log.extend_from_slice(&encode_entry(epoch, &tag));
            }
        }
        let clean = log.len();
        log.extend_from_slice(&encode_entry(9, &[0; TAG_LEN])[..torn]);
        let mut rebuilt = ReplayCache::new();
        let summary = rebuilt.apply_log(&log);
        prop_assert_eq!(summary.map(|s| (s.valid_len, s.torn_tail)), Ok((clean, torn)));
        prop_assert_eq!(rebuilt, live);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ReplayCache::decode(&bytes);
        let mut prefixed = SNAPSHOT_MAGIC.to_vec();
        prefixed.push(SNAPSHOT_VERSION);
        prefixed.extend_from_slice(&bytes);
        let _ = ReplayCache::decode(&prefixed);
    }

    #[test]
    fn apply_log_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut cache = ReplayCache::new();
        let before = cache.clone();
        if cache.apply_log(&bytes).is_err() {
            prop_assert_eq!(cache, before);
        }
        let mut framed = Vec::new();
        for chunk in bytes.chunks(LOG_ENTRY_LEN - LOG_ENTRY_MAGIC.len()) {
            framed.extend_from_slice(&LOG_ENTRY_MAGIC);
            framed.extend_from_slice(chunk);
        }
        let _ = ReplayCache::new().apply_log(&framed);
    }
}
