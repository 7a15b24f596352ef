use super::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

const SIZES: [usize; 5] = [MIN_FRAGMENT_LEN, 64, 100, 1_000, 16_000];
const MAX_AGE_MS: u64 = 60_000;

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

fn room(fragment_len: usize) -> usize {
    fragment_len - FRAGMENT_HEADER_LEN
}

/// A message whose bytes differ from their neighbours, so a chunk in the wrong place shows.
fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Lengths on and around every interesting boundary for fragments of `fragment_len`.
fn interesting_lens(fragment_len: usize) -> Vec<usize> {
    let room = room(fragment_len);
    let max = MAX_FRAGMENTS * room;
    vec![0, 1, room - 1, room, room + 1, 3 * room, max - 1, max]
}

/// A fragment with any header at all, for the checks `split` never trips.
fn craft(fragment_len: usize, id: u8, index: u16, count: u16, chunk: &[u8]) -> Vec<u8> {
    let mut fragment = vec![id; MESSAGE_ID_LEN];
    fragment.extend_from_slice(&index.to_be_bytes());
    fragment.extend_from_slice(&count.to_be_bytes());
    fragment.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
    fragment.extend_from_slice(chunk);
    fragment.resize(fragment_len, 0);
    fragment
}

fn reassembler(fragment_len: usize, max_partial: usize) -> Reassembler {
    Reassembler::new(fragment_len, max_partial, MAX_AGE_MS).unwrap()
}

#[test]
fn every_fragment_has_the_fragment_length() {
    let mut rng = rng();
    for fragment_len in SIZES {
        for len in interesting_lens(fragment_len) {
            let fragments = split(&message(len), fragment_len, &mut rng).unwrap();
            assert_eq!(fragments.len(), len.div_ceil(room(fragment_len)).max(1));
            assert!(fragments.iter().all(|f| f.len() == fragment_len));
        }
    }
}

#[test]
fn header_says_id_index_count_and_chunk_length() {
    let fragment_len = 64;
    let message = message(100);
    let fragments = split(&message, fragment_len, &mut rng()).unwrap();
    assert_eq!(fragments.len(), 3);
    for (index, fragment) in fragments.iter().enumerate() {
        assert_eq!(fragment[..16], fragments[0][..16], "one id per message");
        assert_eq!(fragment[16..18], (index as u16).to_be_bytes());
        assert_eq!(fragment[18..20], 3u16.to_be_bytes());
        let len = usize::from(u16::from_be_bytes([fragment[20], fragment[21]]));
        assert_eq!(len, if index < 2 { 42 } else { 16 });
        let chunk = &fragment[22..22 + len];
        assert_eq!(chunk, &message[index * 42..index * 42 + len]);
        assert!(fragment[22 + len..].iter().all(|&b| b == 0));
    }
}

#[test]
fn message_ids_are_fresh() {
    let mut rng = rng();
    let a = split(b"same", 64, &mut rng).unwrap();
    let b = split(b"same", 64, &mut rng).unwrap();
    assert_ne!(a[0][..MESSAGE_ID_LEN], b[0][..MESSAGE_ID_LEN]);
}

#[test]
fn empty_message_is_one_empty_fragment() {
    let fragments = split(&[], 64, &mut rng()).unwrap();
    assert_eq!(fragments.len(), 1);
    assert_eq!(fragments[0][16..22], [0, 0, 0, 1, 0, 0]);
    assert!(fragments[0][22..].iter().all(|&b| b == 0));
    assert_eq!(
        reassembler(64, 1).insert(&fragments[0], 0),
        Ok(Some(Vec::new()))
    );
}

#[test]
fn too_long_a_message_is_refused_with_sizes() {
    for fragment_len in SIZES {
        let max_len = max_message_len(fragment_len).unwrap();
        assert_eq!(max_len, MAX_FRAGMENTS * room(fragment_len));
        assert_eq!(
            split(&message(max_len + 1), fragment_len, &mut rng()),
            Err(FragmentError::TooLong {
                len: max_len + 1,
                fragments: MAX_FRAGMENTS + 1,
                fragment_len,
                max_fragments: MAX_FRAGMENTS,
                max_len,
            })
        );
    }
    let error = split(&message(5_000), 64, &mut rng()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "message of 5000 bytes needs 120 fragments of 64 bytes; \
         at most 64 fragments (2688 bytes) are allowed"
    );
}

#[test]
fn unusable_fragment_lengths_are_refused() {
    for fragment_len in [0, FRAGMENT_HEADER_LEN, MAX_FRAGMENT_LEN + 1, usize::MAX] {
        let expected = FragmentError::FragmentLen {
            fragment_len,
            min: MIN_FRAGMENT_LEN,
            max: MAX_FRAGMENT_LEN,
        };
        assert_eq!(split(b"x", fragment_len, &mut rng()), Err(expected.clone()));
        assert_eq!(max_message_len(fragment_len), Err(expected.clone()));
        assert_eq!(Reassembler::new(fragment_len, 1, 0).unwrap_err(), expected);
    }
    let largest = split(&message(70_000), MAX_FRAGMENT_LEN, &mut rng()).unwrap();
    assert_eq!(largest.len(), 2);
    assert_eq!(
        Reassembler::new(64, 0, 0).unwrap_err(),
        FragmentError::NoRoom
    );
}

#[test]
fn fragments_in_reverse_order_with_duplicates_reassemble() {
    let mut rng = rng();
    for fragment_len in SIZES {
        for len in interesting_lens(fragment_len) {
            let message = message(len);
            let fragments = split(&message, fragment_len, &mut rng).unwrap();
            let mut reassembler = reassembler(fragment_len, 1);
            let (first, rest) = fragments.split_first().unwrap();
            for fragment in rest.iter().rev() {
                assert_eq!(reassembler.insert(fragment, 1), Ok(None));
                assert_eq!(reassembler.insert(fragment, 2), Ok(None), "duplicate");
            }
            assert_eq!(reassembler.insert(first, 3), Ok(Some(message)));
            assert_eq!(reassembler.partial_count(), 0);
            assert_eq!(reassembler.buffered_bytes(), 0);
        }
    }
}

#[test]
fn shuffled_fragments_of_interleaved_messages_reassemble() {
    let mut rng = rng();
    let messages: Vec<Vec<u8>> = [0, 10, 42, 43, 500, 2_688].map(message).into();
    let mut fragments: Vec<Vec<u8>> = messages
        .iter()
        .flat_map(|m| split(m, 64, &mut rng).unwrap())
        .collect();
    fragments.shuffle(&mut rng);
    let mut reassembler = reassembler(64, messages.len());
    let mut delivered: Vec<Vec<u8>> = fragments
        .iter()
        .filter_map(|f| reassembler.insert(f, 0).unwrap())
        .collect();
    delivered.sort_by_key(Vec::len);
    assert_eq!(delivered, messages);
}

#[test]
fn a_late_duplicate_is_not_delivered_again_nor_starts_a_partial() {
    let mut rng = rng();
    let mut reassembler = reassembler(64, 1);
    for len in [10, 100] {
        let fragments = split(&message(len), 64, &mut rng).unwrap();
        let delivered: Vec<_> = fragments
            .iter()
            .filter_map(|f| reassembler.insert(f, 0).unwrap())
            .collect();
        assert_eq!(delivered, [message(len)]);
        for fragment in &fragments {
            assert_eq!(reassembler.insert(fragment, MAX_AGE_MS), Ok(None));
        }
        assert_eq!(reassembler.partial_count(), 0);
    }
    assert_eq!(reassembler.remembered_count(), 2);
}

#[test]
fn completed_ids_are_forgotten_after_the_age_limit() {
    let fragments = split(&message(100), 64, &mut rng()).unwrap();
    let mut reassembler = reassembler(64, 1);
    for fragment in &fragments {
        reassembler.insert(fragment, 0).unwrap();
    }
    assert_eq!(reassembler.remembered_count(), 1);
    assert_eq!(reassembler.expire(MAX_AGE_MS + 1), 0);
    assert_eq!(reassembler.remembered_count(), 0);
    assert_eq!(reassembler.insert(&fragments[0], MAX_AGE_MS + 1), Ok(None));
    assert_eq!(reassembler.partial_count(), 1, "a new partial message");
}

#[test]
fn remembered_ids_are_bounded() {
    let mut rng = rng();
    let mut reassembler = reassembler(64, 1);
    for _ in 0..3 * MAX_FRAGMENTS {
        let fragment = split(b"hi", 64, &mut rng).unwrap().remove(0);
        assert!(reassembler.insert(&fragment, 0).unwrap().is_some());
    }
    assert_eq!(reassembler.remembered_count(), MAX_FRAGMENTS);
}

#[test]
fn when_full_the_oldest_partial_message_is_evicted() {
    let mut rng = rng();
    let [a, b, c] = [1, 2, 3].map(|n| split(&message(n * 50), 64, &mut rng).unwrap());
    let mut reassembler = reassembler(64, 2);
    assert_eq!(reassembler.insert(&a[0], 10), Ok(None));
    assert_eq!(reassembler.insert(&b[0], 11), Ok(None));
    assert_eq!(reassembler.insert(&c[0], 12), Ok(None));
    assert_eq!(reassembler.partial_count(), 2);
    for (fragments, len) in [(&b, 100), (&c, 150)] {
        let delivered: Vec<_> = fragments[1..]
            .iter()
            .filter_map(|f| reassembler.insert(f, 13).unwrap())
            .collect();
        assert_eq!(delivered, [message(len)]);
    }
    assert_eq!(reassembler.insert(&a[1], 14), Ok(None), "a lost its start");
    assert_eq!(reassembler.partial_count(), 1);
}

#[test]
fn memory_stays_bounded_under_a_flood_of_largest_messages() {
    let fragment_len = 16_000;
    let max_partial = 3;
    let mut reassembler = reassembler(fragment_len, max_partial);
    let max_len = max_message_len(fragment_len).unwrap();
    for id in 0..10 {
        let last = craft(fragment_len, id, 63, 64, b"the end");
        assert_eq!(reassembler.insert(&last, u64::from(id)), Ok(None));
        assert!(reassembler.partial_count() <= max_partial);
        assert!(reassembler.buffered_bytes() <= max_partial * max_len);
    }
}

#[test]
fn partial_messages_expire() {
    let mut rng = rng();
    let old = split(&message(100), 64, &mut rng).unwrap();
    let new = split(&message(100), 64, &mut rng).unwrap();
    let mut reassembler = reassembler(64, 4);
    reassembler.insert(&old[0], 1_000).unwrap();
    reassembler.insert(&new[0], 2_000).unwrap();
    assert_eq!(reassembler.expire(1_000 + MAX_AGE_MS), 0, "not older yet");
    assert_eq!(reassembler.expire(1_001 + MAX_AGE_MS), 1);
    assert_eq!(reassembler.partial_count(), 1);
    // Insert forgets expired partials too: `new` restarts from scratch here.
    assert_eq!(reassembler.insert(&new[1], 2_001 + MAX_AGE_MS), Ok(None));
    assert_eq!(reassembler.insert(&new[2], 2_001 + MAX_AGE_MS), Ok(None));
    assert_eq!(
        reassembler.insert(&new[0], 2_001 + MAX_AGE_MS),
        Ok(Some(message(100)))
    );
}

#[test]
fn time_stepping_backwards_is_harmless() {
    let fragments = split(&message(100), 64, &mut rng()).unwrap();
    let mut reassembler = reassembler(64, 1);
    reassembler.insert(&fragments[0], u64::MAX).unwrap();
    reassembler.insert(&fragments[1], 0).unwrap();
    assert_eq!(reassembler.expire(0), 0);
    assert_eq!(reassembler.insert(&fragments[2], 5), Ok(Some(message(100))));
}

#[test]
fn malformed_fragments_are_rejected_with_the_reason() {
    let room = room(64);
    let full = message(room);
    let cases = [
        (
            craft(64, 1, 0, 1, b"abc")[..63].to_vec(),
            FragmentError::WrongLength {
                got: 63,
                expected: 64,
            },
        ),
        (
            [craft(64, 1, 0, 1, b"abc"), vec![0]].concat(),
            FragmentError::WrongLength {
                got: 65,
                expected: 64,
            },
        ),
        (
            craft(64, 1, 0, 0, b"abc"),
            FragmentError::BadCount { count: 0, max: 64 },
        ),
        (
            craft(64, 1, 0, 65, &full),
            FragmentError::BadCount { count: 65, max: 64 },
        ),
        (
            craft(64, 1, 2, 2, b"abc"),
            FragmentError::IndexOutOfRange { index: 2, count: 2 },
        ),
        (
            craft(64, 1, 0, 2, &full[..room - 1]),
            FragmentError::ShortChunk {
                index: 0,
                count: 2,
                len: room - 1,
                room,
            },
        ),
        (
            craft(64, 1, 1, 2, b""),
            FragmentError::EmptyLastChunk { count: 2 },
        ),
    ];
    let mut reassembler = reassembler(64, 1);
    for (fragment, error) in cases {
        assert_eq!(reassembler.insert(&fragment, 0), Err(error));
    }
    assert_eq!(reassembler.partial_count(), 0);
}

#[test]
fn chunk_length_beyond_the_room_is_rejected() {
    let mut fragment = craft(64, 1, 0, 1, b"abc");
    fragment[20..22].copy_from_slice(&43u16.to_be_bytes());
    assert_eq!(
        reassembler(64, 1).insert(&fragment, 0),
        Err(FragmentError::ChunkTooLong { len: 43, room: 42 })
    );
}

#[test]
fn non_zero_padding_is_rejected() {
    let mut fragment = split(b"abc", 64, &mut rng()).unwrap().remove(0);
    fragment[63] = 1;
    let error = reassembler(64, 1).insert(&fragment, 0).unwrap_err();
    assert_eq!(error, FragmentError::Padding);
    assert_eq!(error.to_string(), "fragment padding is not all zero");
}

#[test]
fn a_count_that_disagrees_with_earlier_fragments_is_rejected() {
    let room = room(64);
    let mut reassembler = reassembler(64, 1);
    let chunk = message(room);
    assert_eq!(reassembler.insert(&craft(64, 9, 0, 3, &chunk), 0), Ok(None));
    let error = reassembler
        .insert(&craft(64, 9, 1, 4, &chunk), 0)
        .unwrap_err();
    assert_eq!(
        error,
        FragmentError::CountMismatch {
            index: 1,
            count: 4,
            expected: 3
        }
    );
    assert_eq!(
        error.to_string(),
        "fragment 1 says its message has 4 fragments; earlier fragments of the message said 3"
    );
    assert_eq!(reassembler.partial_count(), 1, "the partial message stays");
}

#[test]
fn a_rejected_fragment_evicts_nothing() {
    let mut reassembler = reassembler(64, 1);
    let chunk = message(room(64));
    reassembler.insert(&craft(64, 1, 0, 2, &chunk), 0).unwrap();
    let bad = craft(64, 2, 0, 2, &chunk[1..]);
    assert!(reassembler.insert(&bad, 0).is_err());
    assert_eq!(
        reassembler.insert(&craft(64, 1, 1, 2, b"end"), 0),
        Ok(Some([&chunk[..], b"end"].concat()))
    );
}

#[test]
fn debug_shows_no_content() {
    let mut reassembler = reassembler(64, 1);
    reassembler
        .insert(&craft(64, 1, 0, 2, &[b's'; 42]), 0)
        .unwrap();
    let shown = format!("{reassembler:?}");
    assert!(shown.contains("partial_count: 1"), "{shown}");
    assert!(!shown.contains("115"), "{shown}");
}
