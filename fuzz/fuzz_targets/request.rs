#![no_main]

use std::sync::LazyLock;

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use sotto_fuzz::{body_len, frame_of};
use sotto_proto::SignedRequest;

const HEADER_LEN: usize = 4;
const SIGNATURE_LEN: usize = 64;

/// A key whose secret the fuzzer never sees, so it cannot make a signature that verifies.
static KEY: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_bytes(&[7; 32]));

fuzz_target!(|data: &[u8]| {
    let frame = frame_of(data);
    let Ok(signed) = SignedRequest::open(&frame) else {
        return;
    };
    let verifies = signed.verify(&KEY.verifying_key());
    // Re-encoding what was decoded reproduces every byte before the signature: a request has
    // one encoding, so a signature cannot be carried over to a second spelling of it.
    let resealed = signed
        .request
        .seal(&KEY)
        .expect("a decoded request fits a frame");
    let signed_end = HEADER_LEN + body_len(&frame) - SIGNATURE_LEN;
    assert_eq!(resealed[..signed_end], frame[..signed_end]);
    // Ed25519 signing is deterministic and the verifier refuses malleated signatures, so a
    // frame that verifies without being our own signature would be a forgery.
    if verifies {
        assert_eq!(resealed, &frame[..]);
    }
});
