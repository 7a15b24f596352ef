#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_onion::packet::REPLY_BLOCK_LEN;
use sotto_onion::request::{OnionRequest, MAX_REPLY_BLOCKS};
use sotto_proto::FRAME_LEN;

// What a host decodes at the final hop of every request: reply blocks and a frame, from bytes
// anyone can put in a packet.
fuzz_target!(|data: &[u8]| {
    let _ = OnionRequest::decode(data);
    // Valid requests are over 14 KiB; shaped inputs (the fuzzer's bytes first, padded to the
    // length their block count asks for) get past the length check to the reply blocks.
    if let [_, count, ..] = data {
        let blocks = usize::from(*count).clamp(1, MAX_REPLY_BLOCKS);
        let mut shaped = data.to_vec();
        shaped[1] = blocks as u8;
        shaped.resize(2 + blocks * REPLY_BLOCK_LEN + FRAME_LEN, 0);
        if let Ok(request) = OnionRequest::decode(&shaped) {
            assert_eq!(request.reply_blocks.len(), blocks);
            assert_eq!(request.frame.len(), FRAME_LEN);
            let encoded = request.encode().expect("a decoded request encodes again");
            assert_eq!(encoded.len(), shaped.len());
        }
    }
});
