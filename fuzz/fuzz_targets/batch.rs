#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_fuzz::frame_of;
use sotto_proto::batch::{open_answers, open_requests, seal_answers, Requests, MAX_BATCH};

fuzz_target!(|data: &[u8]| {
    let frame = frame_of(data);
    // Whatever opens is within the batch limits (fetches may ride, subscribes and link reads
    // may not); answers, `MoreWaiting` among them, re-encode to the same frame (one encoding
    // each), so a host's answer cannot be read two ways.
    if let Ok(Requests::Batch(requests)) = open_requests(&frame) {
        assert!(!requests.is_empty() && requests.len() <= MAX_BATCH);
        assert!(requests.iter().all(|r| r.request.command.fits_a_batch()));
    }
    if let Ok(answers) = open_answers(&frame) {
        let resealed = seal_answers(&answers).expect("decoded answers fit a frame");
        assert_eq!(resealed, &frame[..]);
    }
});
