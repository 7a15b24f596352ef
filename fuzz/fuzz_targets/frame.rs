#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_fuzz::frame_of;
use sotto_proto::{open_frame, seal_frame};

fuzz_target!(|data: &[u8]| {
    let frame = frame_of(data);
    if let Ok((kind, body)) = open_frame(&frame) {
        // One encoding per frame: sealing what was opened gives back the very same bytes.
        let sealed = seal_frame(kind, body).expect("an opened body fits a frame");
        assert_eq!(sealed, &frame[..]);
    }
});
