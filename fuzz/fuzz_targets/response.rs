#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_fuzz::frame_of;
use sotto_proto::Response;

fuzz_target!(|data: &[u8]| {
    // The body decoder on the raw input, then the frame decoder on it as a frame. Whatever
    // either accepts must encode back to the same bytes: one encoding per response.
    if let Ok(response) = Response::decode(data) {
        assert_eq!(response.encode(), data);
    }
    let frame = frame_of(data);
    if let Ok(response) = Response::open(&frame) {
        let sealed = response.seal().expect("a decoded response fits a frame");
        assert_eq!(sealed, &frame[..]);
    }
});
