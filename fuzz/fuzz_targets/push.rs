#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_fuzz::frame_of;
use sotto_proto::Push;

fuzz_target!(|data: &[u8]| {
    let frame = frame_of(data);
    if let Ok(push) = Push::open(&frame) {
        // One encoding per push: sealing what was opened gives back the very same bytes.
        let sealed = push.seal().expect("a decoded push fits a frame");
        assert_eq!(sealed, &frame[..]);
    }
});
