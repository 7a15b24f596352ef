//! The directory's costs at the size of a real network: 1,000 relays of 300 operators with
//! uneven stakes, on 250 /16 subnets.
//!
//! - `choose_path_1000_relays`: a request path (two mixes), drawn by stake with the operator
//!   and subnet rules. A client draws two paths per attempt (the request's and its reply
//!   block's), so this is on every request's way.
//! - `parse_network_file_1000_relays`: reading and checking a signed network file, signature
//!   included; clients do it at start and every minute.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_onion::directory::{
    Authorities, Descriptor, Directory, NetworkFile, OnionKey, Relay, Stake, DEFAULT_MIXES,
};
use sotto_proto::{Fingerprint, RelayAddress};

const RELAYS: usize = 1000;
const EPOCH_SECS: u64 = 86_400;

fn network() -> Directory {
    let relays = (0..RELAYS)
        .map(|n| {
            let [a, b] = (n as u16).to_be_bytes();
            let mut identity = [7u8; 32];
            identity[..8].copy_from_slice(&(n as u64).to_le_bytes());
            // Distinct per relay, never zero, current unlike next.
            let key = |tag: u8| {
                let mut key = [tag; 32];
                key[..2].copy_from_slice(&[a, b]);
                key
            };
            Relay {
                descriptor: Descriptor {
                    address: RelayAddress {
                        fingerprint: Fingerprint::of_key(&identity),
                        host: format!("10.{}.{a}.{b}", n % 500 / 2),
                        port: 4433,
                    },
                    onion_key: OnionKey::for_epoch(20_000, EPOCH_SECS, key(1)).unwrap(),
                    next_onion_key: OnionKey::for_epoch(20_001, EPOCH_SECS, key(2)).unwrap(),
                },
                stake: Stake {
                    operator: format!("op{}", n % 300),
                    weight: 1 + (n as u64 * 7919) % 25_000,
                },
            }
        })
        .collect();
    Directory::new(EPOCH_SECS, relays).unwrap()
}

fn directory(c: &mut Criterion) {
    let directory = network();
    let relays = directory.relays();
    let (gateway, host) = (*relays[0].fingerprint(), *relays[RELAYS - 1].fingerprint());
    let mut rng = StdRng::seed_from_u64(1);
    c.bench_function("choose_path_1000_relays", |b| {
        b.iter(|| {
            black_box(
                directory
                    .choose_path(&gateway, &host, DEFAULT_MIXES, &mut rng)
                    .unwrap(),
            )
        })
    });
    let key = SigningKey::from_bytes(&[3; 32]);
    let text = directory
        .clone()
        .with_authorities(Authorities::single(key.verifying_key()))
        .sign(&key)
        .unwrap()
        .to_toml();
    c.bench_function("parse_network_file_1000_relays", |b| {
        b.iter(|| black_box(NetworkFile::parse(black_box(&text)).unwrap()))
    });
}

criterion_group!(benches, directory);
criterion_main!(benches);
