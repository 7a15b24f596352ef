#![no_main]

//! The three files of the directory: a relay's descriptor, the authority's stake ledger and the
//! signed network file. One target for all three, since they share the TOML reader and the
//! relay checks; each input goes to every parser.
//!
//! Random bytes rarely make TOML of the right shape, so the input also goes in as an edit of a
//! valid file of each kind: its first two bytes say where (a fraction of the file) and how many
//! bytes to replace, the rest is what goes there. The fuzzer then spends its time on the checks
//! behind the TOML reader.

use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use sotto_onion::directory::{
    Authorities, Descriptor, Descriptors, Directory, Ledger, NetworkFile, OnionKey, Relay, Stake,
};
use sotto_proto::{Fingerprint, RelayAddress};

fuzz_target!(|data: &[u8]| {
    let [at, cut, rest @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    check(text);
    for template in templates() {
        // The templates are ASCII, so every index is a character boundary.
        let start = usize::from(*at) * template.len() / 256;
        let end = (start + usize::from(*cut)).min(template.len());
        check(&format!("{}{text}{}", &template[..start], &template[end..]));
    }
});

fn check(text: &str) {
    if let Ok(descriptors) = Descriptors::parse(text) {
        // Accepted means checked: the same relays pass the checks again.
        assert_eq!(
            Descriptors::new(descriptors.epoch_secs, descriptors.relays.clone()),
            Ok(descriptors)
        );
    }
    if let Ok(directory) = NetworkFile::parse(text) {
        // Accepted means signed by enough of the authorities it names, over checked content,
        // and it writes back to a file that reads back the same.
        assert!(directory.is_approved());
        assert!(directory.relays().iter().all(|relay| relay.stake.weight >= 1));
        assert_eq!(NetworkFile::parse(&directory.to_toml()), Ok(directory));
    }
    let _ = Ledger::parse(text);
}

/// A valid descriptor file, stake ledger and network file.
fn templates() -> &'static [String; 3] {
    static TEMPLATES: OnceLock<[String; 3]> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let identity = |n: u8| SigningKey::from_bytes(&[n; 32]);
        let descriptors: Vec<Descriptor> = (1..=3u8)
            .map(|n| Descriptor {
                address: RelayAddress {
                    fingerprint: Fingerprint::of_key(identity(n).verifying_key().as_bytes()),
                    host: format!("10.{n}.0.1"),
                    port: 4433,
                },
                onion_key: OnionKey::for_epoch(100, 3600, [n; 32]).expect("in range"),
                next_onion_key: OnionKey::for_epoch(101, 3600, [!n; 32]).expect("in range"),
            })
            .collect();
        let relays = descriptors
            .iter()
            .enumerate()
            .map(|(index, descriptor)| Relay {
                descriptor: descriptor.clone(),
                stake: Stake {
                    operator: format!("op{index}"),
                    weight: 10,
                },
            })
            .collect();
        let ledger: String = descriptors
            .iter()
            .enumerate()
            .map(|(index, d)| {
                format!(
                    "\n[[operator]]\nname = \"op{index}\"\nstake = 10\nrelays = [\"{}\"]\n",
                    d.fingerprint()
                )
            })
            .collect();
        // Two authorities of which one signed: the fuzzer can reach both the threshold check
        // and a complete file by adding or damaging one signature entry.
        let keys = [identity(9), identity(10)];
        let authorities = Authorities::new(keys.iter().map(|k| k.verifying_key()).collect(), 1)
            .expect("valid authorities");
        let network = Directory::new(3600, relays)
            .expect("a valid directory")
            .with_authorities(authorities)
            .sign(&keys[0])
            .expect("an authority's signature")
            .to_toml();
        [
            descriptors[0]
                .to_signed_toml(3600, &identity(1))
                .expect("a valid descriptor"),
            format!("min_stake = 5\ndistinct_subnets = true\n{ledger}"),
            network,
        ]
    })
}
