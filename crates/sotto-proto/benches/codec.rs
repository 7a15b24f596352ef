//! Cost of the per-frame work a relay and a client do: sealing and signing a write, opening and
//! verifying it, sealing and opening a batch of messages, and checking a frame's envelope.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use sotto_proto::{
    open_frame, Command, Id, Message, Request, Response, ResponseBody, SignedRequest, FRAME_LEN,
};

fn write_request() -> Request {
    Request {
        command: Command::Write {
            body: vec![0x5a; 1024],
        },
        nonce: [1; 16],
        timestamp: 1_700_000_000,
        target: Id::from_bytes([2; Id::LEN]),
    }
}

/// A full frame's worth of 1 KiB messages, what a reader gets after being away.
fn messages_response() -> Response {
    let count = Message::BUDGET / (1024 + 18);
    let messages = (0..count as u64)
        .map(|seq| Message {
            seq,
            written_at: 1_700_000_000 + seq,
            body: vec![0xa5; 1024],
        })
        .collect();
    Response {
        nonce: [3; 16],
        body: ResponseBody::Messages(messages),
    }
}

fn requests(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key();
    let request = write_request();
    let frame = request.seal(&key).unwrap();

    let mut group = c.benchmark_group("write_request");
    group.throughput(Throughput::Bytes(FRAME_LEN as u64));
    group.bench_function("seal_and_sign", |b| {
        b.iter(|| black_box(&request).seal(&key).unwrap())
    });
    group.bench_function("open_and_verify", |b| {
        b.iter(|| {
            let opened = SignedRequest::open(black_box(&frame)).unwrap();
            assert!(opened.verify(&public));
            opened
        })
    });
    group.finish();
}

fn responses(c: &mut Criterion) {
    let response = messages_response();
    let frame = response.seal().unwrap();

    let mut group = c.benchmark_group("messages_response");
    group.throughput(Throughput::Bytes(FRAME_LEN as u64));
    group.bench_function("seal", |b| b.iter(|| black_box(&response).seal().unwrap()));
    group.bench_function("open", |b| {
        b.iter(|| Response::open(black_box(&frame)).unwrap())
    });
    group.finish();
}

fn frames(c: &mut Criterion) {
    // A nearly empty frame: checking its all-zero padding is most of the work.
    let frame = Response {
        nonce: [4; 16],
        body: ResponseBody::Done,
    }
    .seal()
    .unwrap();

    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Bytes(FRAME_LEN as u64));
    group.bench_function("open_frame", |b| {
        b.iter(|| open_frame(black_box(&frame)).unwrap().1.len())
    });
    group.finish();
}

criterion_group!(benches, requests, responses, frames);
criterion_main!(benches);
