//! Property tests of fragmentation: in whatever order and however often fragments arrive, a
//! message comes back exactly once and exactly as sent; no damaged fragment makes the reassembler
//! panic, and a rejected one leaves no trace; and however many messages are in flight, the
//! reassembler's memory stays within its bounds.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use sotto_onion::fragment::{
    max_message_len, split, Reassembler, FRAGMENT_HEADER_LEN, MAX_FRAGMENTS, MIN_FRAGMENT_LEN,
};

const MAX_AGE_MS: u64 = 60_000;

/// Fragment lengths worth testing: the smallest, small and odd ones where a message spans many
/// fragments, and the 16 000 bytes of real packets.
fn fragment_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(MIN_FRAGMENT_LEN),
        Just(64),
        MIN_FRAGMENT_LEN..=300,
        Just(16_000),
    ]
}

/// A message length that fits fragments of `fragment_len`: anywhere up to the largest, or on and
/// around a fragment boundary, where off-by-one mistakes live.
fn message_len(fragment_len: usize) -> impl Strategy<Value = usize> {
    let room = fragment_len - FRAGMENT_HEADER_LEN;
    let max = max_message_len(fragment_len).unwrap();
    prop_oneof![
        0..=max,
        (1..=MAX_FRAGMENTS, 0..=2usize)
            .prop_map(move |(n, d)| (n * room + d).saturating_sub(1).min(max)),
    ]
}

/// Message bytes drawn from a seed: generating a megabyte byte by byte through proptest is slow.
fn message_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

/// A fragment length and a message that fits it.
fn sized_message() -> impl Strategy<Value = (usize, Vec<u8>)> {
    fragment_len().prop_flat_map(|fragment_len| {
        (message_len(fragment_len), any::<u64>())
            .prop_map(move |(len, seed)| (fragment_len, message_bytes(len, seed)))
    })
}

/// All of `fragments`, plus `duplicates` extra copies of random ones, in a random order.
fn delivery_order(fragments: &[Vec<u8>], duplicates: usize, rng: &mut StdRng) -> Vec<Vec<u8>> {
    let mut order = fragments.to_vec();
    for _ in 0..duplicates {
        let copy = fragments[rng.gen_range(0..fragments.len())].clone();
        order.push(copy);
    }
    order.shuffle(rng);
    order
}

/// One way to damage a fragment.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(Index),
    Extend(Vec<u8>),
    /// XOR a non-zero mask into one byte of the header.
    Header(Index, u8),
    /// XOR a non-zero mask into any byte.
    Anywhere(Index, u8),
    /// Overwrite the chunk length.
    ChunkLen(u16),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<Index>().prop_map(Damage::Truncate),
        vec(any::<u8>(), 1..8).prop_map(Damage::Extend),
        (any::<Index>(), 1..=u8::MAX).prop_map(|(at, mask)| Damage::Header(at, mask)),
        (any::<Index>(), 1..=u8::MAX).prop_map(|(at, mask)| Damage::Anywhere(at, mask)),
        any::<u16>().prop_map(Damage::ChunkLen),
    ]
}

fn apply(damage: &Damage, mut fragment: Vec<u8>) -> Vec<u8> {
    match damage {
        Damage::Truncate(at) => fragment.truncate(at.index(fragment.len())),
        Damage::Extend(junk) => fragment.extend_from_slice(junk),
        Damage::Header(at, mask) => fragment[at.index(FRAGMENT_HEADER_LEN)] ^= mask,
        Damage::Anywhere(at, mask) => {
            let at = at.index(fragment.len());
            fragment[at] ^= mask;
        }
        Damage::ChunkLen(len) => fragment[20..22].copy_from_slice(&len.to_be_bytes()),
    }
    fragment
}

/// A fragment with an arbitrary header and zero padding, so it gets past the length and padding
/// checks and reaches the reassembler's state more often than random bytes would.
fn crafted(fragment_len: usize) -> impl Strategy<Value = Vec<u8>> {
    (0..4u8, 0..70u16, 0..70u16, any::<Index>()).prop_map(move |(id, index, count, len)| {
        let room = fragment_len - FRAGMENT_HEADER_LEN;
        let len = len.index(room + 1);
        let mut fragment = vec![id; 16];
        fragment.extend_from_slice(&index.to_be_bytes());
        fragment.extend_from_slice(&count.to_be_bytes());
        fragment.extend_from_slice(&(len as u16).to_be_bytes());
        fragment.resize(FRAGMENT_HEADER_LEN + len, 0xA5);
        fragment.resize(fragment_len, 0);
        fragment
    })
}

/// What reaches a reassembler in the memory test: a fragment of one of the genuine messages,
/// or a crafted one; and how much time passes before it.
#[derive(Debug, Clone)]
enum Arrival {
    Genuine(Index, Index),
    Crafted(Vec<u8>),
}

fn arrivals(fragment_len: usize) -> impl Strategy<Value = Vec<(Arrival, u64)>> {
    let arrival = prop_oneof![
        3 => (any::<Index>(), any::<Index>()).prop_map(|(m, f)| Arrival::Genuine(m, f)),
        1 => crafted(fragment_len).prop_map(Arrival::Crafted),
    ];
    vec((arrival, 0..=MAX_AGE_MS / 4), 1..200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fragments_in_any_order_with_duplicates_reassemble_exactly_once(
        (fragment_len, message) in sized_message(),
        duplicates in 0..8usize,
        seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let fragments = split(&message, fragment_len, &mut rng).unwrap();
        prop_assert!(fragments.len() <= MAX_FRAGMENTS);
        prop_assert!(fragments.iter().all(|f| f.len() == fragment_len));
        let mut reassembler = Reassembler::new(fragment_len, 1, MAX_AGE_MS).unwrap();
        let mut delivered = Vec::new();
        for (now_ms, fragment) in delivery_order(&fragments, duplicates, &mut rng).iter().enumerate() {
            if let Some(whole) = reassembler.insert(fragment, now_ms as u64).unwrap() {
                delivered.push(whole);
            }
        }
        prop_assert_eq!(delivered, vec![message]);
        prop_assert_eq!(reassembler.partial_count(), 0);
        prop_assert_eq!(reassembler.buffered_bytes(), 0);
    }

    #[test]
    fn interleaved_messages_each_reassemble(
        fragment_len in fragment_len(),
        lens in vec(0..3_000usize, 1..5),
        seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let max = max_message_len(fragment_len).unwrap();
        let messages: Vec<Vec<u8>> = lens
            .iter()
            .map(|&len| message_bytes(len.min(max), rng.gen()))
            .collect();
        let fragments: Vec<Vec<u8>> = messages
            .iter()
            .flat_map(|m| split(m, fragment_len, &mut rng).unwrap())
            .collect();
        let mut reassembler = Reassembler::new(fragment_len, messages.len(), MAX_AGE_MS).unwrap();
        let mut delivered: Vec<Vec<u8>> = delivery_order(&fragments, 4, &mut rng)
            .iter()
            .filter_map(|f| reassembler.insert(f, 0).unwrap())
            .collect();
        let mut expected = messages;
        expected.sort();
        delivered.sort();
        prop_assert_eq!(delivered, expected);
    }

    #[test]
    fn damaged_fragments_never_panic_and_leave_no_trace_when_rejected(
        (fragment_len, message) in sized_message(),
        damages in vec((any::<Index>(), damage()), 1..8),
        seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let fragments = split(&message, fragment_len, &mut rng).unwrap();
        let mut reassembler = Reassembler::new(fragment_len, 2, MAX_AGE_MS).unwrap();
        let mut any_accepted = false;
        for (which, damage) in &damages {
            let damaged = apply(damage, which.get(&fragments).clone());
            any_accepted |= reassembler.insert(&damaged, 0).is_ok();
        }
        // An accepted damaged fragment may clash with the genuine ones (say, a different
        // count); only when every damaged one was rejected must the genuine ones reassemble.
        let results: Vec<_> = fragments.iter().map(|f| reassembler.insert(f, 0)).collect();
        if !any_accepted {
            let delivered: Vec<Vec<u8>> = results.into_iter().filter_map(|r| r.unwrap()).collect();
            prop_assert_eq!(delivered, vec![message]);
        }
    }

    #[test]
    fn random_bytes_never_panic(
        fragment_len in fragment_len(),
        junk in vec(any::<u8>(), 0..400),
        crafted in vec(crafted(64), 0..16),
    ) {
        let mut reassembler = Reassembler::new(fragment_len, 1, MAX_AGE_MS).unwrap();
        let _ = reassembler.insert(&junk, 0);
        let mut reassembler = Reassembler::new(64, 2, MAX_AGE_MS).unwrap();
        for fragment in &crafted {
            let _ = reassembler.insert(fragment, 0);
        }
    }

    #[test]
    fn memory_stays_bounded_however_many_messages_are_in_flight(
        (fragment_len, arrivals) in prop_oneof![Just(64usize), MIN_FRAGMENT_LEN..=200]
            .prop_flat_map(|fragment_len| (Just(fragment_len), arrivals(fragment_len))),
        max_partial in 1..4usize,
        message_count in 1..12usize,
        seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let room = fragment_len - FRAGMENT_HEADER_LEN;
        let max = max_message_len(fragment_len).unwrap();
        let messages: Vec<Vec<Vec<u8>>> = (0..message_count)
            .map(|_| {
                let len = rng.gen_range(0..=max / 4);
                split(&message_bytes(len, rng.gen()), fragment_len, &mut rng).unwrap()
            })
            .collect();
        let mut reassembler = Reassembler::new(fragment_len, max_partial, MAX_AGE_MS).unwrap();
        let mut now_ms = 0;
        for (arrival, elapsed) in arrivals {
            now_ms += elapsed;
            let fragment = match arrival {
                Arrival::Genuine(m, f) => f.get(m.get::<Vec<_>>(&messages)).clone(),
                Arrival::Crafted(bytes) => bytes,
            };
            let _ = reassembler.insert(&fragment, now_ms);
            prop_assert!(reassembler.partial_count() <= max_partial);
            prop_assert!(reassembler.buffered_bytes() <= max_partial * MAX_FRAGMENTS * room);
            prop_assert!(reassembler.remembered_count() <= max_partial * MAX_FRAGMENTS);
        }
        reassembler.expire(now_ms + MAX_AGE_MS + 1);
        prop_assert_eq!(reassembler.partial_count(), 0);
        prop_assert_eq!(reassembler.remembered_count(), 0);
        prop_assert_eq!(reassembler.buffered_bytes(), 0);
    }
}
