#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_proto::conversation::{Answer, Content, Invitation};

// The first byte picks the decoder; the rest is its input. Each encoding is canonical: what
// decodes encodes back to the very same bytes.
fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let again = match which % 3 {
        0 => Content::decode(bytes).map(|c| c.encode().expect("a decoded content encodes")),
        1 => Invitation::decode(bytes).map(|i| i.encode().expect("a decoded invitation encodes")),
        _ => Answer::decode(bytes).map(|a| a.encode().expect("a decoded answer encodes")),
    };
    if let Ok(again) = again {
        assert_eq!(again, bytes);
    }
});
