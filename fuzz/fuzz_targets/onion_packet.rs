#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_onion::packet::{open_request, OnionPacket, Peeled, ReplyBlock, PACKET_LEN};

/// A fixed onion key: the fuzzer explores what a relay does with packets not made for it.
const ONION_SECRET: [u8; 32] = [0x17; 32];

fuzz_target!(|data: &[u8]| {
    // Shorter inputs stand for a packet's leading bytes, padded to the one packet length.
    let mut wire = data.to_vec();
    if wire.len() < PACKET_LEN {
        wire.resize(PACKET_LEN, 0);
    }
    if let Ok(packet) = OnionPacket::from_wire(&wire) {
        if let Ok(processed) = packet.process(&ONION_SECRET) {
            match processed.peeled {
                Peeled::Forward { packet, .. } => assert_eq!(packet.to_wire().len(), PACKET_LEN),
                Peeled::Final { payload, .. } => {
                    let _ = open_request(&payload);
                }
            }
        }
    }
    let _ = ReplyBlock::from_bytes(data);
});
