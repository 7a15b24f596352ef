#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use sotto_proto::RelayAddress;

/// Scheme and a valid fingerprint, which the fuzzer would take long to guess: prefixed to the
/// input, they let it work on the host and port, where the parsing decisions are.
const PREFIX: &str =
    "sotto-relay://0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef@";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text);
    check(&format!("{PREFIX}{text}"));
});

fn check(text: &str) {
    let Ok(address) = RelayAddress::from_str(text) else {
        return;
    };
    // An accepted address prints as one that reads back the same, and that printed form is a
    // fixed point (input may differ from it only in hex case and surrounding whitespace).
    let printed = address.to_string();
    let reread = RelayAddress::from_str(&printed).expect("a printed address parses");
    assert_eq!(reread, address);
    assert_eq!(reread.to_string(), printed);
}
