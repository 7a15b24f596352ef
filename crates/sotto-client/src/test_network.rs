//! A directory for unit tests that need one but no relays.

use sotto_onion::directory::{Descriptor, Directory, OnionKey, Relay, Stake};
use sotto_proto::{Fingerprint, RelayAddress};

/// `count` relays numbered from 1 by their fingerprints' bytes, each its own operator with a
/// stake of 1 on a subnet of its own (10.n.0.1), with keys for epochs 0 and 1.
pub(crate) fn network(count: u8) -> Directory {
    let relays = (1..=count)
        .map(|n| Relay {
            descriptor: Descriptor {
                address: RelayAddress {
                    fingerprint: Fingerprint::from_bytes([n; 32]),
                    host: format!("10.{n}.0.1"),
                    port: 40_000 + u16::from(n),
                },
                onion_key: OnionKey::for_epoch(0, 86_400, [n; 32]).expect("in range"),
                next_onion_key: OnionKey::for_epoch(1, 86_400, [n + 100; 32]).expect("in range"),
            },
            stake: Stake {
                operator: format!("op{n}"),
                weight: 1,
            },
        })
        .collect();
    Directory::new(86_400, relays).expect("a valid directory")
}
