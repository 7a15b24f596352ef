use std::io::Cursor;

use ogg::writing::PacketWriteEndInfo;
use ogg::PacketWriter;

use super::*;

fn wav(rate: u32, seconds: f32, level: impl Fn(f32) -> f32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec).unwrap();
    let frames = (rate as f32 * seconds) as u32;
    for frame in 0..frames {
        let t = frame as f32 / rate as f32;
        let sample = (level(t) * 32_000.0 * (t * 2_000.0).sin()) as i16;
        writer.write_sample(sample).unwrap();
        writer.write_sample(sample).unwrap();
    }
    writer.finalize().unwrap();
    bytes.into_inner()
}

fn voice(bytes: Vec<u8>) -> (u32, Vec<u8>) {
    match voice_preview(Cursor::new(bytes)).unwrap() {
        Media::Voice {
            duration_ms,
            waveform,
        } => (duration_ms, waveform),
        Media::Image { .. } => panic!("a voice preview is a voice's"),
    }
}

#[test]
fn a_wav_file_has_its_length_and_gets_louder_where_it_does() {
    let (duration_ms, waveform) = voice(wav(8_000, 3.0, |t| if t < 1.5 { 0.1 } else { 1.0 }));
    assert_eq!(duration_ms, 3_000);
    assert!((WAVEFORM_LEN / 2..=WAVEFORM_LEN).contains(&waveform.len()));
    let half = waveform.len() / 2;
    assert!(
        waveform[..half - 1].iter().all(|level| *level < 60),
        "{waveform:?}"
    );
    assert!(
        waveform[half + 1..].iter().all(|level| *level > 200),
        "{waveform:?}"
    );
}

#[test]
fn a_short_or_silent_wav_file_has_a_flat_waveform() {
    let (duration_ms, waveform) = voice(wav(8_000, 0.002, |_| 0.0));
    assert_eq!(duration_ms, 2);
    assert_eq!(waveform, vec![0; 16]);
    let (duration_ms, waveform) = voice(wav(8_000, 0.0, |_| 1.0));
    assert_eq!((duration_ms, waveform), (0, vec![]));
}

/// An Ogg Opus stream of `packets` 20 ms packets whose sizes rise along the recording.
fn opus(packets: u64, pre_skip: u16) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut writer = PacketWriter::new(&mut bytes);
    let mut head = b"OpusHead\x01\x01".to_vec();
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&[0, 0, 0]);
    let serial = 7;
    writer
        .write_packet(head, serial, PacketWriteEndInfo::EndPage, 0)
        .unwrap();
    writer
        .write_packet(b"OpusTags".to_vec(), serial, PacketWriteEndInfo::EndPage, 0)
        .unwrap();
    for packet in 1..=packets {
        let size = 10 + (packet * 100 / packets) as usize;
        let end = if packet == packets {
            PacketWriteEndInfo::EndStream
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        let granule = u64::from(pre_skip) + packet * 960;
        writer
            .write_packet(vec![0xfc; size], serial, end, granule)
            .unwrap();
    }
    bytes
}

#[test]
fn an_ogg_opus_file_has_its_length_and_a_waveform_from_its_packets() {
    // 10 minutes: far more packets than steps, so the steps merge many times.
    let (duration_ms, waveform) = voice(opus(30_000, 312));
    assert_eq!(duration_ms, 600_000);
    assert!((WAVEFORM_LEN / 2..=WAVEFORM_LEN).contains(&waveform.len()));
    assert!(
        waveform.windows(2).all(|pair| pair[0] <= pair[1]),
        "{waveform:?}"
    );
    assert_eq!(waveform.last(), Some(&255));
}

#[test]
fn other_files_are_not_voice_messages() {
    assert!(voice_preview(Cursor::new(b"ID3\x04 an mp3".to_vec())).is_err());
    assert!(voice_preview(Cursor::new(b"Og".to_vec())).is_err());
    let mut not_opus = opus(10, 0);
    not_opus[28..36].copy_from_slice(b"NotOpus!");
    assert!(voice_preview(Cursor::new(not_opus)).is_err());
    let mut cut = wav(8_000, 1.0, |_| 1.0);
    cut.truncate(30);
    assert!(voice_preview(Cursor::new(cut)).is_err());
}
