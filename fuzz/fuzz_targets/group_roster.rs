#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_proto::group::Roster;

// A group's roster comes from other members' commits: bad bytes get an error, and what decodes
// encodes back to the very same bytes (every member must derive the same context).
fuzz_target!(|data: &[u8]| {
    if let Ok(roster) = Roster::decode(data) {
        assert_eq!(roster.encode().expect("a decoded roster encodes"), data);
    }
});
