//! Damaged and random input: every decoder answers with an error rather than a panic, never
//! takes a damaged request for a signed one, and accepts each value in exactly one encoding.

use ed25519_dalek::SigningKey;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use sotto_proto::batch::{open_answers, open_requests};
use sotto_proto::{
    open_frame, seal_frame, FrameKind, Push, RelayAddress, Response, SignedRequest, FRAME_BODY_MAX,
    FRAME_LEN,
};

use crate::strategies::{frame_kind, push, request, response, signing_key};

/// A sealed frame of any kind.
fn any_frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (request(), signing_key()).prop_map(|(request, key)| request.seal(&key).unwrap()),
        response().prop_map(|response| response.seal().unwrap()),
        push().prop_map(|push| push.seal().unwrap()),
    ]
}

/// Feeds `frame` to every frame decoder; they must not panic, and what a response or push
/// decoder accepts must seal back to the very same bytes (one encoding per value).
fn decode_everything(frame: &[u8]) -> Result<(), TestCaseError> {
    let _ = open_frame(frame);
    let _ = SignedRequest::open(frame);
    if let Ok(response) = Response::open(frame) {
        prop_assert_eq!(response.seal().unwrap(), frame);
    }
    if let Ok(push) = Push::open(frame) {
        prop_assert_eq!(push.seal().unwrap(), frame);
    }
    if let Ok((_, body)) = open_frame(frame) {
        if let Ok(response) = Response::decode(body) {
            prop_assert_eq!(&response.encode()[..], body);
        }
    }
    Ok(())
}

/// A position to damage: half the time inside header and body, where damage is interesting,
/// otherwise anywhere including the padding.
fn position(frame: &[u8], index: &Index, in_use: bool) -> usize {
    let used = 4 + usize::from(u16::from_be_bytes([frame[2], frame[3]]));
    index.index(if in_use { used } else { FRAME_LEN })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn truncated_frames_are_rejected(frame in any_frame(), cut in any::<Index>()) {
        let short = &frame[..cut.index(FRAME_LEN)];
        prop_assert!(open_frame(short).is_err());
        prop_assert!(SignedRequest::open(short).is_err());
        prop_assert!(Response::open(short).is_err());
        prop_assert!(Push::open(short).is_err());
    }

    /// A shorter body re-framed properly is still not a message: every field is length-checked.
    #[test]
    fn truncated_bodies_are_rejected(frame in any_frame(), cut in any::<Index>()) {
        let (kind, body) = open_frame(&frame).unwrap();
        prop_assume!(!body.is_empty());
        let short = &body[..cut.index(body.len())];
        let reframed = seal_frame(kind, short).unwrap();
        match kind {
            FrameKind::Request => prop_assert!(SignedRequest::open(&reframed).is_err()),
            FrameKind::Response => {
                prop_assert!(Response::open(&reframed).is_err());
                prop_assert!(Response::decode(short).is_err());
            }
            FrameKind::Push => prop_assert!(Push::open(&reframed).is_err()),
            FrameKind::Batch => prop_assert!(open_requests(&reframed).is_err()),
            FrameKind::BatchAnswer => prop_assert!(open_answers(&reframed).is_err()),
        }
    }

    #[test]
    fn a_damaged_request_is_never_the_signed_one(
        request in request(),
        seed in any::<[u8; 32]>(),
        index in any::<Index>(),
        in_use in any::<bool>(),
        mask in 1..=u8::MAX,
    ) {
        let key = SigningKey::from_bytes(&seed);
        let mut frame = request.seal(&key).unwrap();
        let at = position(&frame, &index, in_use);
        frame[at] ^= mask;
        if let Ok(opened) = SignedRequest::open(&frame) {
            prop_assert!(
                opened.request != request || !opened.verify(&key.verifying_key()),
                "byte {} ^ {:#04x} still opens to the signed request", at, mask
            );
        }
    }

    #[test]
    fn a_damaged_response_or_push_is_another_value_or_nothing(
        frame in prop_oneof![
            response().prop_map(|response| response.seal().unwrap()),
            push().prop_map(|push| push.seal().unwrap()),
        ],
        index in any::<Index>(),
        in_use in any::<bool>(),
        mask in 1..=u8::MAX,
    ) {
        let mut damaged = frame.clone();
        damaged[position(&frame, &index, in_use)] ^= mask;
        // Decoding to the original value would mean two encodings of one value.
        if let Ok(response) = Response::open(&damaged) {
            prop_assert_ne!(Ok(response), Response::open(&frame));
        }
        if let Ok(push) = Push::open(&damaged) {
            prop_assert_ne!(Ok(push), Push::open(&frame));
        }
        decode_everything(&damaged)?;
    }

    #[test]
    fn random_frames_never_panic(frame in vec(any::<u8>(), FRAME_LEN)) {
        decode_everything(&frame)?;
    }

    /// Random bytes rarely get past the envelope, so also wrap random bodies in a valid one,
    /// starting with a plausible command or response kind to reach the argument decoders.
    #[test]
    fn random_bodies_never_panic(
        kind in frame_kind(),
        code in 0..=12u8,
        rest in prop_oneof![
            3 => vec(any::<u8>(), 0..256),
            1 => vec(any::<u8>(), 0..FRAME_BODY_MAX),
        ],
    ) {
        let mut body = vec![code];
        body.extend_from_slice(&rest[..rest.len().min(FRAME_BODY_MAX - 1)]);
        decode_everything(&seal_frame(kind, &body).unwrap())?;
        let _ = Response::decode(&body);
    }

    /// Whatever text is accepted as an address prints as an address that reads back the same.
    #[test]
    fn accepted_addresses_read_back(
        host_port in prop_oneof![
            // Shaped like host:port, with the brackets and signs parsers get wrong.
            "\\[{0,2}[a-f0-9:.]{0,6}\\]{0,2}:[+0]?[0-9]{0,5}",
            "[\\[\\]:a-f0-9@ ./+%-]{0,16}",
        ],
        junk in any::<String>(),
    ) {
        let key = [7; 32];
        let fingerprint = sotto_proto::Fingerprint::of_key(&key);
        for text in [format!("sotto-relay://{fingerprint}@{host_port}"), junk] {
            if let Ok(address) = text.parse::<RelayAddress>() {
                prop_assert_eq!(address.to_string().parse::<RelayAddress>(), Ok(address));
            }
        }
    }
}
