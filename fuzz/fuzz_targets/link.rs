#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_proto::LinkUri;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(link) = text.parse::<LinkUri>() {
        // What parses prints to a link that parses to the same thing.
        assert_eq!(link.to_string().parse::<LinkUri>().ok(), Some(link));
    }
});
