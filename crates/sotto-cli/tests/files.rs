//! A file between two `sotto` processes over real relays on 127.0.0.1: sent with `send
//! --file`, offered in `read --json` as a file object, fetched with `download` after the
//! receiver was killed midway, listed by `files`; and the errors a person meets, said.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use sotto_testnet::person::CliPerson as Person;
use sotto_testnet::TestLocalnet;

fn person(net: &TestLocalnet, name: &str) -> Person {
    Person::new(Path::new(env!("CARGO_BIN_EXE_sotto")), net, name)
}

fn make_file(path: &Path, size: usize) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    file.write_all(&bytes).unwrap();
}

/// The chunks done of the one file `person` has, as `sotto files --json` says.
fn chunks_done(person: &Person) -> u64 {
    let files = person.ok(&["files"]);
    files[0]["chunks_done"].as_u64().unwrap()
}

#[test]
fn a_file_goes_from_one_sotto_to_another_and_resumes_after_the_receiver_is_killed() {
    let net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    let alice = person(&net, "Alice");
    let bob = person(&net, "Bob");
    let invite = alice.ok(&["invite", "--no-qr"]);
    let link = invite[0]["link"].as_str().unwrap().to_string();
    bob.ok(&["connect", &link]);
    alice.ok(&["contacts"]);

    let source = net.root().join("report.bin");
    make_file(&source, 6 * 1024 * 1024 + 99);
    let source_arg = source.to_str().unwrap();
    let missing = alice.fails(&["send", "Bob", "--file", "/nonexistent/x.bin"]);
    assert!(
        missing.contains("cannot read /nonexistent/x.bin"),
        "{missing}"
    );
    let over = alice.fails(&[
        "send",
        "Bob",
        "--file",
        source_arg,
        "--max-file-size",
        "1000",
    ]);
    assert!(over.contains("over the limit of 1000 bytes"), "{over}");

    let sent = alice.ok(&["send", "Bob", "the report", "--file", source_arg]);
    let id = sent.last().unwrap()["id"].as_str().unwrap().to_string();

    let read = bob.ok(&["read", "--wait", "30"]);
    let offer = read
        .iter()
        .find(|e| e["event"] == "message" && e["id"] == id.as_str())
        .expect("the offer is read");
    assert_eq!(offer["text"], "the report");
    assert_eq!(offer["file"]["name"], "report.bin");
    assert_eq!(offer["file"]["size"], 6 * 1024 * 1024 + 99);
    assert_eq!(offer["file"]["kind"], "file");

    // The receiver is killed once it has stored progress, then run again.
    let out = net.root().join("received.bin");
    let out_arg = out.to_str().unwrap();
    let mut download = bob
        .command(&["download", &id, "--out", out_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut killed_at = None;
    while Instant::now() < deadline {
        if download.try_wait().unwrap().is_some() {
            break;
        }
        // `files` reads the store beside the running download only once it stopped; the
        // partial file growing is what a person would see.
        let part = std::fs::metadata(net.root().join("received.bin.part")).map(|m| m.len());
        if part.is_ok() {
            std::thread::sleep(Duration::from_millis(500));
            download.kill().unwrap();
            killed_at = Some(());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = download.wait();
    let done_before = chunks_done(&bob);
    let finished = bob.ok(&["download", &id, "--out", out_arg]);
    assert_eq!(finished[0]["event"], "downloaded");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&source).unwrap()
    );
    let files = bob.ok(&["files"]);
    assert_eq!(files[0]["state"], "done");
    assert_eq!(files[0]["file"]["name"], "report.bin");
    if killed_at.is_some() {
        eprintln!("killed with {done_before} chunks stored; resumed from there");
    }

    // Every recipient has it: its hosts deleted it, and saying so is a clear error.
    let again = bob.fails(&[
        "download",
        &id,
        "--out",
        net.root().join("again.bin").to_str().unwrap(),
    ]);
    assert!(again.contains("gone from its hosts"), "{again}");
    let unknown = bob.fails(&["download", "00000000", "--out", out_arg]);
    assert!(unknown.contains("no file with id"), "{unknown}");
}

#[test]
fn an_upload_killed_midway_goes_on_when_the_same_send_runs_again_and_is_offered_once() {
    let net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    let alice = person(&net, "Alice");
    let bob = person(&net, "Bob");
    let invite = alice.ok(&["invite", "--no-qr"]);
    let link = invite[0]["link"].as_str().unwrap().to_string();
    bob.ok(&["connect", &link]);
    alice.ok(&["contacts"]);

    let source = net.root().join("big.bin");
    make_file(&source, 12 * 1024 * 1024);
    let source_arg = source.to_str().unwrap();
    let mut send = alice
        .command(&["send", "Bob", "--file", source_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    send.kill().unwrap();
    let _ = send.wait();
    let before = alice.ok(&["files"]);
    let state = before.first().map(|file| file["state"].as_str().unwrap());
    eprintln!("the sender was killed with its upload {state:?}");

    let again = alice.ok(&["send", "Bob", "--file", source_arg]);
    if state == Some("uploading") {
        // The upload that was cut short is this send: it goes on, under its id.
        assert_eq!(again.last().unwrap()["id"], before[0]["id"], "{again:?}");
        assert!(before[0]["chunks_done"].as_u64().unwrap() < before[0]["chunks"].as_u64().unwrap());
    }
    let read = bob.ok(&["read", "--wait", "30"]);
    let offers: Vec<&Value> = read.iter().filter(|e| e["file"].is_object()).collect();
    assert_eq!(
        offers.len(),
        1,
        "the file was offered {} times",
        offers.len()
    );
    let id = offers[0]["id"].as_str().unwrap();
    let out = net.root().join("got.bin");
    bob.ok(&["download", id, "--out", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&source).unwrap()
    );
}

/// A 16-bit mono WAV file of `seconds` of a loud tone.
fn make_wav(path: &Path, seconds: u32) {
    let rate = 8_000u32;
    let samples: Vec<u8> = (0..rate * seconds)
        .flat_map(|i| (((i as f32 / 3.0).sin() * 20_000.0) as i16).to_le_bytes())
        .collect();
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    wav.extend_from_slice(&samples);
    std::fs::write(path, wav).unwrap();
}

fn make_png(path: &Path, width: u32, height: u32) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let pixels: Vec<u8> = (0..width * height * 3).map(|i| (i % 251) as u8).collect();
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
}

#[test]
fn an_image_and_a_voice_message_come_with_their_previews_and_the_image_is_fetched_by_itself() {
    use base64::prelude::{Engine, BASE64_STANDARD};

    let net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    let alice = person(&net, "Alice");
    let bob = person(&net, "Bob");
    let invite = alice.ok(&["invite", "--no-qr"]);
    let link = invite[0]["link"].as_str().unwrap().to_string();
    bob.ok(&["connect", &link]);
    alice.ok(&["contacts"]);
    let downloads = net.root().join("bob-downloads");
    let settings = bob.ok(&["settings", "--download-dir", downloads.to_str().unwrap()]);
    assert_eq!(settings[0]["auto_download_max"], 8 * 1024 * 1024);

    let photo = net.root().join("photo.png");
    make_png(&photo, 640, 480);
    let note = net.root().join("note.bin");
    make_wav(&note, 1);
    let photo_id = alice.ok(&["send", "Bob", "--file", photo.to_str().unwrap()]);
    let photo_id = photo_id.last().unwrap()["id"].as_str().unwrap().to_string();
    // Sent as a voice message whatever its name says.
    let note_id = alice.ok(&["send", "Bob", "--voice", note.to_str().unwrap()]);
    let note_id = note_id.last().unwrap()["id"].as_str().unwrap().to_string();

    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.extend(bob.ok(&["read", "--wait", "30"]));
        let has = |id: &str| {
            seen.iter()
                .any(|e| e["event"] == "message" && e["id"] == id)
        };
        if has(&photo_id) && has(&note_id) {
            break;
        }
    }
    let message = |id: &str| {
        seen.iter()
            .find(|e| e["event"] == "message" && e["id"] == id)
            .unwrap_or_else(|| panic!("message {id} not read: {seen:?}"))
            .clone()
    };
    let image = message(&photo_id);
    assert_eq!(image["file"]["kind"], "image");
    assert_eq!(
        (
            image["file"]["width"].clone(),
            image["file"]["height"].clone()
        ),
        (640.into(), 480.into())
    );
    let thumbnail = BASE64_STANDARD
        .decode(image["file"]["thumbnail"].as_str().unwrap())
        .unwrap();
    assert!(thumbnail.starts_with(&[0xff, 0xd8]) && thumbnail.len() <= 3072);
    let voice = message(&note_id);
    assert_eq!(voice["file"]["kind"], "voice");
    assert_eq!(voice["file"]["duration_ms"], 1000);
    assert!(!voice["file"]["waveform"].as_array().unwrap().is_empty());

    // The image was fetched into the download folder by itself; so was the voice message.
    let downloaded: Vec<&Value> = seen.iter().filter(|e| e["event"] == "downloaded").collect();
    assert_eq!(downloaded.len(), 2, "{seen:?}");
    assert_eq!(
        std::fs::read(downloads.join("photo.png")).unwrap(),
        std::fs::read(&photo).unwrap()
    );
    let files = bob.ok(&["files"]);
    assert!(
        files.iter().all(|file| file["state"] == "done"),
        "{files:?}"
    );

    // Taken back by its sender: gone for a late reader, and cancelled in the sender's list.
    let cancelled = alice.ok(&["files", "cancel", &note_id[..8]]);
    assert_eq!(cancelled[0]["event"], "cancelled");
    let listed = alice.ok(&["files"]);
    let note_state = listed.iter().find(|f| f["id"] == note_id.as_str()).unwrap();
    assert_eq!(note_state["state"], "cancelled");
}
