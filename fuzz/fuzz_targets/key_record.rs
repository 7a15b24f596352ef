#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_client::Record;

fuzz_target!(|data: &[u8]| {
    // A home's `store.unlock` is refused or read as a record that writes back to itself.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(record) = Record::parse(text) {
        assert_eq!(Record::parse(&record.to_text()).ok(), Some(record));
    }
});
