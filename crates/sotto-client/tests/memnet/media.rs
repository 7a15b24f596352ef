//! Images and voice messages on the in-memory network: the offer carries a thumbnail or a
//! waveform, and what the person's settings allow is fetched without being asked.

use std::path::Path;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use sotto_client::store::{DownloadSettings, FileState};
use sotto_client::FileToSend;
use sotto_proto::conversation::MessageId;
use sotto_proto::file_offer::{FileKind, Media, MAX_THUMBNAIL_LEN};

use crate::faults::Faults;
use crate::network::MemoryNetwork;
use crate::people::{connected, Person};

fn write_png(path: &Path, width: u32, height: u32) {
    let image = RgbImage::from_fn(width, height, |x, y| {
        let v = (x * 31 + y * 17).wrapping_mul(2_654_435_761);
        Rgb([(v >> 24) as u8, (v >> 16) as u8, x as u8])
    });
    DynamicImage::ImageRgb8(image)
        .save_with_format(path, ImageFormat::Png)
        .unwrap();
}

fn write_wav(path: &Path, seconds: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for frame in 0..8_000 * seconds {
        writer
            .write_sample(((frame as f32 / 3.0).sin() * 20_000.0) as i16)
            .unwrap();
    }
    writer.finalize().unwrap();
}

async fn send(person: &mut Person, path: &Path, kind: FileKind) -> MessageId {
    let file = FileToSend {
        path,
        kind,
        caption: "",
        limit: sotto_client::DEFAULT_MAX_FILE_SIZE,
    };
    person
        .device
        .send_file("Bob", file, &mut |_, _| true)
        .await
        .unwrap()
}

fn media_of(person: &Person, id: &MessageId) -> Option<Media> {
    let messages = person.device.records().messages("Alice").unwrap();
    let message = messages
        .iter()
        .find(|m| m.id == *id)
        .expect("the offer came");
    message.file.as_ref().expect("a file message").media.clone()
}

#[tokio::test(start_paused = true)]
async fn an_image_comes_with_its_thumbnail_and_a_voice_message_with_its_length() {
    let network = MemoryNetwork::new(5, 43, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    let photo = alice.path("photo.png");
    write_png(&photo, 900, 600);
    let note = alice.path("note.wav");
    write_wav(&note, 2);
    let photo_id = send(&mut alice, &photo, FileKind::Image).await;
    let note_id = send(&mut alice, &note, FileKind::Voice).await;
    bob.sync().await;

    let Some(Media::Image {
        width,
        height,
        thumbnail,
    }) = media_of(&bob, &photo_id)
    else {
        panic!("the image came without its preview");
    };
    assert_eq!((width, height), (900, 600));
    assert!(thumbnail.len() <= MAX_THUMBNAIL_LEN);
    let small = image::load_from_memory_with_format(&thumbnail, ImageFormat::Jpeg).unwrap();
    let ratio = small.width() as f32 / small.height() as f32;
    assert!(
        small.width() <= 128 && (ratio - 1.5).abs() < 0.05,
        "keeps its aspect"
    );

    let Some(Media::Voice {
        duration_ms,
        waveform,
    }) = media_of(&bob, &note_id)
    else {
        panic!("the voice message came without its preview");
    };
    assert_eq!(duration_ms, 2_000);
    assert!(!waveform.is_empty() && waveform.iter().all(|level| *level > 200));
    // The list of files shows the same.
    let files = bob.device.records().files().unwrap();
    assert!(files.iter().all(|file| file.media.is_some()));
}

#[tokio::test(start_paused = true)]
async fn images_under_the_limit_are_fetched_by_themselves_and_the_rest_wait() {
    let network = MemoryNetwork::new(5, 47, Faults::default());
    let (mut alice, mut bob) = connected(&network).await;
    let small = alice.path("small.png");
    write_png(&small, 200, 200);
    let large = alice.path("large.png");
    write_png(&large, 800, 800);
    let other = alice.path("notes.png");
    write_png(&other, 20, 20);
    let small_id = send(&mut alice, &small, FileKind::Image).await;
    let large_id = send(&mut alice, &large, FileKind::Image).await;
    // Small, but sent as a plain file: plain files always wait.
    let other_id = send(&mut alice, &other, FileKind::File).await;
    bob.sync().await;

    // No folder set: nothing is fetched.
    assert!(bob.device.auto_download().await.unwrap().is_empty());
    let downloads = bob.path("downloads");
    let settings = DownloadSettings {
        auto_download_max: std::fs::metadata(&small).unwrap().len(),
        download_dir: Some(downloads.clone()),
    };
    bob.device.set_download_settings(&settings).unwrap();
    let fetched = bob.device.auto_download().await.unwrap();
    assert_eq!(fetched.len(), 1, "only the small image");
    let (id, result) = &fetched[0];
    assert_eq!(*id, small_id);
    let path = result.as_ref().unwrap();
    assert_eq!(*path, downloads.join("small.png"));
    assert_eq!(std::fs::read(path).unwrap(), std::fs::read(&small).unwrap());

    let state = |id: &MessageId| {
        let files = bob.device.records().files().unwrap();
        files.iter().find(|file| file.id == *id).unwrap().state
    };
    assert_eq!(state(&small_id), FileState::Done);
    assert_eq!(state(&large_id), FileState::Offered);
    assert_eq!(state(&other_id), FileState::Offered);
    // Each is fetched once.
    assert!(bob.device.auto_download().await.unwrap().is_empty());
    let decoded = image::load_from_memory(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(decoded.width(), 200);
}
