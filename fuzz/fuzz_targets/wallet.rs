#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_client::wallet::Entry;

fuzz_target!(|data: &[u8]| {
    // A wallet entry read from the store is refused or read exactly: one encoding per entry.
    if let Ok(entry) = Entry::decode(data) {
        assert_eq!(entry.encode(), data);
    }
});
