#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use sotto_client::files::media::{image_preview, voice_preview};
use sotto_proto::conversation::Content;

// An offer with a preview (Content kinds 6 and 7) as a peer sends it, and the readers that
// make previews from files a person picks (images, WAV, Ogg). None may panic; a decoded offer
// encodes back to the same bytes.
fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            let mut offer = vec![6 + (which / 3) % 2];
            offer.extend_from_slice(rest);
            if let Ok(content) = Content::decode(&offer) {
                assert_eq!(content.encode().expect("a decoded offer encodes"), offer);
            }
        }
        1 => {
            let _ = image_preview(Cursor::new(rest));
        }
        _ => {
            let _ = voice_preview(Cursor::new(rest));
        }
    }
});
