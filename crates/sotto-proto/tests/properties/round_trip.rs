//! Whatever is sealed opens to the same value, in a frame of the one fixed length.

use proptest::prelude::*;
use sotto_proto::{open_frame, Push, RelayAddress, Response, SignedRequest, FRAME_LEN};

use sotto_proto::voucher::Voucher;

use crate::strategies::{push, relay_address, request, response, signing_key, voucher};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requests_open_to_what_was_signed(
        request in request(),
        key in signing_key(),
        other in signing_key(),
    ) {
        let frame = request.seal(&key).unwrap();
        prop_assert_eq!(frame.len(), FRAME_LEN);
        let opened = SignedRequest::open(&frame).unwrap();
        prop_assert_eq!(&opened.request, &request);
        prop_assert!(opened.verify(&key.verifying_key()));
        // Seeds collide only if proptest draws the same one twice, which it may.
        prop_assert_eq!(
            opened.verify(&other.verifying_key()),
            other.verifying_key() == key.verifying_key()
        );
    }

    #[test]
    fn responses_open_to_what_was_sealed(response in response()) {
        let frame = response.seal().unwrap();
        prop_assert_eq!(frame.len(), FRAME_LEN);
        prop_assert_eq!(&Response::open(&frame).unwrap(), &response);
        // `encode` is what the frame carries, and `decode` reads it back without the frame.
        let (_, body) = open_frame(&frame).unwrap();
        prop_assert_eq!(body, &response.encode()[..]);
        prop_assert_eq!(Response::decode(body).unwrap(), response);
    }

    #[test]
    fn pushes_open_to_what_was_sealed(push in push()) {
        let frame = push.seal().unwrap();
        prop_assert_eq!(frame.len(), FRAME_LEN);
        prop_assert_eq!(Push::open(&frame).unwrap(), push);
    }

    #[test]
    fn vouchers_read_back(voucher in voucher()) {
        let bytes = voucher.to_bytes();
        prop_assert_eq!(bytes.len(), Voucher::LEN);
        prop_assert!(Voucher::from_bytes(&bytes).unwrap() == voucher);
    }

    #[test]
    fn relay_addresses_read_back(address in relay_address()) {
        let text = address.to_string();
        prop_assert_eq!(text.parse::<RelayAddress>().unwrap(), address.clone());
        // IPv6 hosts, and only they, are printed in brackets.
        prop_assert_eq!(text.contains('['), address.host.contains(':'));
    }
}
