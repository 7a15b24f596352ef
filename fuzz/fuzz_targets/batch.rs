#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_fuzz::frame_of;
use sotto_proto::batch::{
    open_answers, open_requests, push_blocks_for, seal_answers, Requests, MAX_BATCH,
};
use sotto_proto::Command;

fuzz_target!(|data: &[u8]| {
    let frame = frame_of(data);
    // Whatever opens is within the batch limits (fetches and subscribes may ride, link reads
    // may not), and its push blocks go to readers it names; answers, `MoreWaiting` among
    // them, re-encode to the same frame (one encoding each), so a host's answer cannot be
    // read two ways.
    if let Ok(Requests::Batch(requests)) = open_requests(&frame) {
        assert!(!requests.is_empty() && requests.len() <= MAX_BATCH);
        assert!(requests.iter().all(|r| r.request.command.fits_a_batch()));
        if let Some(deposit) = push_blocks_for(&frame) {
            for (index, reader) in deposit.readers {
                let named = &requests[index].request;
                assert_eq!(named.target, reader);
                assert_eq!(deposit.replace, named.command == Command::Subscribe);
            }
        }
    }
    if let Ok(answers) = open_answers(&frame) {
        let resealed = seal_answers(&answers).expect("decoded answers fit a frame");
        assert_eq!(resealed, &frame[..]);
    }
});
