//! Whatever is sealed opens to the same value, in a frame of the one fixed length.

use proptest::collection::vec;
use proptest::prelude::*;
use sotto_proto::batch::{
    message_room, open_answers, open_requests, push_blocks_for, seal_answers, seal_batch,
    PushDeposit, Requests, MAX_BATCH,
};
use sotto_proto::{
    open_frame, Command, Id, Push, RelayAddress, Response, ResponseBody, SignedRequest, FRAME_LEN,
};

use sotto_proto::voucher::Voucher;

use crate::strategies::{
    message, push, relay_address, request, response, short_response, signing_key, voucher,
};

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
    fn batches_of_fetches_and_short_commands_open_to_what_was_signed(
        requests in vec(request(), 1..=MAX_BATCH),
        key in signing_key(),
    ) {
        let requests: Vec<_> = requests
            .into_iter()
            .filter(|r| r.command.fits_a_batch() && !matches!(r.command, Command::Write { .. } | Command::PutLink { .. } | Command::PutChunk { .. }))
            .map(|r| (r, &key))
            .collect();
        prop_assume!(!requests.is_empty());
        let frame = seal_batch(&requests).unwrap();
        prop_assert_eq!(frame.len(), FRAME_LEN);
        let Requests::Batch(opened) = open_requests(&frame).unwrap() else {
            panic!("a batch opens as a batch");
        };
        for (signed, (request, _)) in opened.iter().zip(&requests) {
            prop_assert_eq!(&signed.request, request);
            prop_assert!(signed.verify(&key.verifying_key()));
        }
    }

    /// Client and host read a frame's push blocks the same way: every subscribe of a batch
    /// shares them, else the first acknowledgement takes them.
    #[test]
    fn push_blocks_go_to_every_subscribe_or_else_the_first_acknowledgement(
        requests in vec(request(), 1..=MAX_BATCH),
        key in signing_key(),
    ) {
        let requests: Vec<_> = requests
            .into_iter()
            .filter(|r| r.command.fits_a_batch() && !matches!(r.command, Command::Write { .. } | Command::PutLink { .. } | Command::PutChunk { .. }))
            .map(|r| (r, &key))
            .collect();
        prop_assume!(requests.len() > 1);
        let frame = seal_batch(&requests).unwrap();
        let subscribes: Vec<(usize, Id)> = requests
            .iter()
            .enumerate()
            .filter(|(_, (r, _))| r.command == Command::Subscribe)
            .map(|(i, (r, _))| (i, r.target))
            .collect();
        let first_ack = requests
            .iter()
            .position(|(r, _)| matches!(r.command, Command::Ack { .. } | Command::AckWrite))
            .map(|i| vec![(i, requests[i].0.target)]);
        let expected = if subscribes.is_empty() {
            first_ack.map(|readers| PushDeposit { readers, replace: false })
        } else {
            Some(PushDeposit { readers: subscribes, replace: true })
        };
        prop_assert_eq!(push_blocks_for(&frame), expected);
    }

    /// A host fills each fetch's answer from the room the batch leaves (`message_room`): any
    /// mix of short answers and fetches within it fits one frame and reads back.
    #[test]
    fn batch_answers_within_the_message_room_open_to_what_was_sealed(
        short in vec(short_response(), 0..MAX_BATCH),
        fetched in vec((vec(message(600), 0..=30), any::<bool>(), any::<[u8; 16]>()), 1..=4),
    ) {
        let parts = (short.len() + fetched.len()).min(MAX_BATCH);
        let mut room = message_room(parts);
        let mut answers: Vec<Response> = Vec::new();
        for (messages, more, nonce) in fetched {
            let mut kept = Vec::new();
            for message in messages {
                if message.encoded_len() > room {
                    break;
                }
                room -= message.encoded_len();
                kept.push(message);
            }
            let body = if more { ResponseBody::MoreWaiting(kept) } else { ResponseBody::Messages(kept) };
            answers.push(Response { nonce, body });
        }
        answers.extend(short);
        answers.truncate(parts);
        let frame = seal_answers(&answers).unwrap();
        prop_assert_eq!(open_answers(&frame).unwrap(), answers);
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
