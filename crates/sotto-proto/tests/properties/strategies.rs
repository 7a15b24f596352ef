//! Generators for every wire value. Keys come from 32-byte seeds so a failing case is
//! reproducible from proptest's seed alone.

use std::net::{Ipv4Addr, Ipv6Addr};

use ed25519_dalek::{SigningKey, VerifyingKey};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use sotto_proto::voucher::{Voucher, BLIND_LEN, MAX_ISSUE, MAX_PAID_LINK_DATA_LEN};
use sotto_proto::{
    Command, ErrorCode, Fingerprint, FrameKind, Id, MailboxKind, Message, Push, RelayAddress,
    Request, Response, ResponseBody, MAX_CHUNK_LEN, MAX_LINK_DATA_LEN, MAX_MESSAGE_LEN,
};

/// The documented target of commands that create their object.
pub const NO_TARGET: Id = Id::from_bytes([0; Id::LEN]);

pub fn signing_key() -> impl Strategy<Value = SigningKey> {
    any::<[u8; 32]>().prop_map(|seed| SigningKey::from_bytes(&seed))
}

pub fn verifying_key() -> impl Strategy<Value = VerifyingKey> {
    signing_key().prop_map(|key| key.verifying_key())
}

pub fn id() -> impl Strategy<Value = Id> {
    any::<[u8; Id::LEN]>().prop_map(Id::from_bytes)
}

/// Mostly short blobs (cheap in debug builds), sometimes any length up to `max`, sometimes
/// exactly `max` so the limit itself is always exercised.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => vec(any::<u8>(), 0..=64.min(max)),
        2 => vec(any::<u8>(), 0..=max),
        1 => vec(any::<u8>(), max),
    ]
}

/// Any well-formed voucher (the codec does not check the signature; the host does).
pub fn voucher() -> impl Strategy<Value = Voucher> {
    (any::<u32>(), any::<[u8; 32]>(), vec(any::<u8>(), BLIND_LEN)).prop_map(
        |(epoch, nonce, signature)| Voucher {
            epoch,
            nonce,
            signature: signature.try_into().unwrap_or([0; BLIND_LEN]),
        },
    )
}

fn blinded() -> impl Strategy<Value = [u8; BLIND_LEN]> {
    vec(any::<u8>(), BLIND_LEN).prop_map(|bytes| bytes.try_into().unwrap_or([0; BLIND_LEN]))
}

pub fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (
            select(MailboxKind::ALL.to_vec()),
            any::<u32>(),
            any::<u16>(),
            verifying_key(),
            verifying_key(),
            proptest::option::of(voucher()),
        )
            .prop_map(|(kind, ttl_secs, quota, writer_key, reader_key, voucher)| {
                Command::Create {
                    kind,
                    ttl_secs,
                    quota,
                    writer_key,
                    reader_key,
                    voucher,
                }
            }),
        bytes(MAX_MESSAGE_LEN).prop_map(|body| Command::Write { body }),
        Just(Command::Subscribe),
        Just(Command::Fetch),
        any::<u64>().prop_map(|seq| Command::Ack { seq }),
        verifying_key().prop_map(|reader_key| Command::AddReader { reader_key }),
        id().prop_map(|read_id| Command::RemoveReader { read_id }),
        Just(Command::Delete),
        (any::<u32>(), verifying_key(), bytes(MAX_LINK_DATA_LEN)).prop_map(
            |(ttl_secs, owner_key, data)| Command::PutLink {
                ttl_secs,
                owner_key,
                data,
                voucher: None,
            }
        ),
        (
            any::<u32>(),
            verifying_key(),
            bytes(MAX_PAID_LINK_DATA_LEN),
            voucher()
        )
            .prop_map(|(ttl_secs, owner_key, data, voucher)| Command::PutLink {
                ttl_secs,
                owner_key,
                data,
                voucher: Some(voucher),
            }),
        (verifying_key(), any::<u32>(), vec(blinded(), 1..=MAX_ISSUE)).prop_map(
            |(device_key, epoch, blinded)| Command::Issue {
                device_key,
                epoch,
                blinded,
            }
        ),
        Just(Command::GetLink),
        Just(Command::DeleteLink),
        Just(Command::AckWrite),
        (
            any::<u32>(),
            any::<u16>(),
            any::<u32>(),
            verifying_key(),
            verifying_key(),
        )
            .prop_map(|(ttl_secs, recipients, chunks, writer_key, reader_key)| {
                Command::CreateFile {
                    ttl_secs,
                    recipients,
                    chunks,
                    writer_key,
                    reader_key,
                }
            }),
        (any::<u32>(), bytes(MAX_CHUNK_LEN))
            .prop_map(|(index, data)| Command::PutChunk { index, data }),
        any::<u32>().prop_map(|index| Command::GetChunk { index }),
        any::<[u8; 16]>().prop_map(|receipt| Command::FileDone { receipt }),
        Just(Command::DeleteFile),
    ]
}

pub fn request() -> impl Strategy<Value = Request> {
    (command(), any::<[u8; 16]>(), any::<u64>(), id()).prop_map(
        |(command, nonce, timestamp, target)| {
            let creates = command.creates();
            Request {
                command,
                nonce,
                timestamp,
                target: if creates { NO_TARGET } else { target },
            }
        },
    )
}

pub fn message(max_body: usize) -> impl Strategy<Value = Message> {
    (any::<u64>(), any::<u64>(), bytes(max_body)).prop_map(|(seq, written_at, body)| Message {
        seq,
        written_at,
        body,
    })
}

pub fn response_body() -> impl Strategy<Value = ResponseBody> {
    prop_oneof![
        (id(), id()).prop_map(|(write_id, read_id)| ResponseBody::Created { write_id, read_id }),
        any::<u64>().prop_map(|seq| ResponseBody::Written { seq }),
        // Up to 8 messages of 1 KiB, or one of the largest size: both fit a frame.
        vec(message(1024), 0..=8).prop_map(ResponseBody::Messages),
        vec(message(MAX_MESSAGE_LEN), 0..=1).prop_map(ResponseBody::Messages),
        vec(message(1024), 0..=8).prop_map(ResponseBody::MoreWaiting),
        Just(ResponseBody::Skipped),
        Just(ResponseBody::Done),
        id().prop_map(|read_id| ResponseBody::ReaderAdded { read_id }),
        id().prop_map(|link_id| ResponseBody::LinkStored { link_id }),
        bytes(MAX_LINK_DATA_LEN).prop_map(ResponseBody::LinkData),
        select(ErrorCode::ALL.to_vec()).prop_map(ResponseBody::Error),
        vec(blinded(), 1..=MAX_ISSUE).prop_map(ResponseBody::Issued),
        any::<u32>().prop_map(|retry_after_ms| ResponseBody::Busy { retry_after_ms }),
        (any::<u32>(), bytes(MAX_CHUNK_LEN))
            .prop_map(|(index, data)| ResponseBody::Chunk { index, data }),
    ]
}

/// A response that carries neither messages nor link data.
pub fn short_response() -> impl Strategy<Value = Response> {
    let body = prop_oneof![
        (id(), id()).prop_map(|(write_id, read_id)| ResponseBody::Created { write_id, read_id }),
        any::<u64>().prop_map(|seq| ResponseBody::Written { seq }),
        Just(ResponseBody::Done),
        Just(ResponseBody::Skipped),
        id().prop_map(|read_id| ResponseBody::ReaderAdded { read_id }),
        select(ErrorCode::ALL.to_vec()).prop_map(ResponseBody::Error),
    ];
    (any::<[u8; 16]>(), body).prop_map(|(nonce, body)| Response { nonce, body })
}

pub fn response() -> impl Strategy<Value = Response> {
    (any::<[u8; 16]>(), response_body()).prop_map(|(nonce, body)| Response { nonce, body })
}

pub fn push() -> impl Strategy<Value = Push> {
    (id(), message(MAX_MESSAGE_LEN)).prop_map(|(read_id, message)| Push { read_id, message })
}

pub fn frame_kind() -> impl Strategy<Value = FrameKind> {
    select(vec![
        FrameKind::Request,
        FrameKind::Response,
        FrameKind::Push,
        FrameKind::Batch,
        FrameKind::BatchAnswer,
    ])
}

/// Hosts as a relay or a user would write them: IPv4, IPv6 (printed in brackets) and DNS names.
pub fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|ip| Ipv4Addr::from(ip).to_string()),
        any::<[u8; 16]>().prop_map(|ip| Ipv6Addr::from(ip).to_string()),
        "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?){0,3}",
    ]
}

pub fn relay_address() -> impl Strategy<Value = RelayAddress> {
    (any::<[u8; 32]>(), host(), 1..=u16::MAX).prop_map(|(key, host, port)| RelayAddress {
        fingerprint: Fingerprint::of_key(&key),
        host,
        port,
    })
}
