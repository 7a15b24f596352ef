//! A voice message's preview: its length and a waveform of at most `WAVEFORM_LEN` levels.
//! WAV is decoded (hound) and its levels are sample peaks. Ogg (Opus or Vorbis) is read as a
//! container only (the ogg crate): its length comes from the last granule position, and its
//! levels from the sizes of its audio packets, which a variable-bitrate codec makes larger
//! for loud sound than for quiet. Decoding Opus would take libopus (C): no pure-Rust decoder
//! is kept well enough to depend on.

use std::io::{Read, Seek, SeekFrom};

use ogg::PacketReader;
use sotto_proto::file_offer::{Media, WAVEFORM_LEN};

use super::MediaError;

/// Opus granule positions count samples at 48 kHz, whatever the input rate was.
const OPUS_RATE: u64 = 48_000;

/// Reads a WAV or an Ogg (Opus or Vorbis) file, told by its first bytes.
pub fn voice_preview(mut reader: impl Read + Seek) -> Result<Media, MediaError> {
    let mut magic = [0u8; 4];
    reader.read_exact(&mut magic)?;
    reader.seek(SeekFrom::Start(0))?;
    match &magic {
        b"RIFF" => wav_preview(reader),
        b"OggS" => ogg_preview(reader),
        _ => Err(MediaError::Unsupported(
            "a voice message this device can measure is WAV or Ogg (Opus or Vorbis)",
        )),
    }
}

fn wav_preview(reader: impl Read) -> Result<Media, MediaError> {
    let mut wav = hound::WavReader::new(reader)?;
    let spec = wav.spec();
    if spec.sample_rate == 0 || spec.channels == 0 {
        return Err(MediaError::Unsupported("a WAV file without a sample rate"));
    }
    let duration_ms = u64::from(wav.duration()) * 1000 / u64::from(spec.sample_rate);
    let mut steps = Steps::default();
    let channels = usize::from(spec.channels);
    // A sample's level: its distance from silence as a fraction of full scale.
    let mut push = |index: usize, level: f32| {
        if index.is_multiple_of(channels) {
            steps.next();
        }
        steps.hear(level);
    };
    match spec.sample_format {
        hound::SampleFormat::Float => {
            for (index, sample) in wav.samples::<f32>().enumerate() {
                push(index, sample?.abs());
            }
        }
        hound::SampleFormat::Int => {
            let full = (1u64 << spec.bits_per_sample.saturating_sub(1).min(31)) as f32;
            for (index, sample) in wav.samples::<i32>().enumerate() {
                push(index, sample?.unsigned_abs() as f32 / full);
            }
        }
    }
    Ok(Media::Voice {
        duration_ms: u32::try_from(duration_ms).unwrap_or(u32::MAX),
        waveform: steps.waveform(),
    })
}

/// The codec of an Ogg stream, from its first packet.
enum Codec {
    /// Samples to drop at the start.
    Opus {
        pre_skip: u64,
    },
    Vorbis {
        rate: u64,
    },
}

impl Codec {
    fn of(head: &[u8]) -> Result<(Self, usize), MediaError> {
        let le16 = |at: usize| {
            head.get(at..at + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
        };
        let le32 = |at: usize| {
            head.get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        if head.starts_with(b"OpusHead") {
            let pre_skip = le16(10).ok_or(MediaError::Unsupported("a short Opus header"))?;
            // OpusHead, then OpusTags.
            return Ok((
                Self::Opus {
                    pre_skip: u64::from(pre_skip),
                },
                2,
            ));
        }
        if head.starts_with(b"\x01vorbis") {
            let rate = le32(12).filter(|rate| *rate > 0);
            let rate = rate.ok_or(MediaError::Unsupported("a Vorbis header without a rate"))?;
            // Identification, comment and setup headers.
            return Ok((
                Self::Vorbis {
                    rate: u64::from(rate),
                },
                3,
            ));
        }
        Err(MediaError::Unsupported(
            "an Ogg stream that is neither Opus nor Vorbis",
        ))
    }

    fn duration_ms(&self, granule: u64) -> u64 {
        match *self {
            Self::Opus { pre_skip } => granule.saturating_sub(pre_skip) * 1000 / OPUS_RATE,
            Self::Vorbis { rate } => granule.saturating_mul(1000) / rate,
        }
    }
}

fn ogg_preview(reader: impl Read + Seek) -> Result<Media, MediaError> {
    let mut packets = PacketReader::new(reader);
    let head = packets
        .read_packet()?
        .ok_or(MediaError::Unsupported("an Ogg file without packets"))?;
    let serial = head.stream_serial();
    let (codec, headers) = Codec::of(&head.data)?;
    let (mut seen, mut granule) = (1, 0);
    let mut steps = Steps::default();
    while let Some(packet) = packets.read_packet()? {
        // Only the first logical stream is the voice; a page whose packets all continue on
        // the next page has no position (all ones).
        if packet.stream_serial() != serial {
            continue;
        }
        if packet.absgp_page() != u64::MAX {
            granule = packet.absgp_page();
        }
        seen += 1;
        if seen > headers {
            steps.next();
            steps.hear(packet.data.len() as f32);
        }
    }
    Ok(Media::Voice {
        duration_ms: u32::try_from(codec.duration_ms(granule)).unwrap_or(u32::MAX),
        waveform: steps.waveform(),
    })
}

/// The loudest level in each of at most 2 × `WAVEFORM_LEN` equal steps of a sound of
/// unknown length: when the steps are full, neighbours merge and each step spans twice as
/// much, so memory stays the same however long the sound is.
struct Steps {
    peaks: Vec<f32>,
    /// Moments (frames or packets) per step.
    span: u64,
    /// Moments heard so far.
    moments: u64,
}

impl Default for Steps {
    fn default() -> Self {
        Self {
            peaks: Vec::with_capacity(2 * WAVEFORM_LEN),
            span: 1,
            moments: 0,
        }
    }
}

impl Steps {
    /// A new moment starts.
    fn next(&mut self) {
        if self.moments.is_multiple_of(self.span) {
            // Full steps hold 2 × WAVEFORM_LEN × span moments: still a whole step after.
            if self.peaks.len() == 2 * WAVEFORM_LEN {
                self.merge();
            }
            self.peaks.push(0.0);
        }
        self.moments += 1;
    }

    /// A level within the current moment.
    fn hear(&mut self, level: f32) {
        if let Some(peak) = self.peaks.last_mut() {
            *peak = peak.max(level);
        }
    }

    fn merge(&mut self) {
        self.peaks = self
            .peaks
            .chunks(2)
            .map(|pair| pair.iter().copied().fold(0.0, f32::max))
            .collect();
        self.span *= 2;
    }

    /// At most `WAVEFORM_LEN` levels, 255 for the loudest step.
    fn waveform(mut self) -> Vec<u8> {
        if self.peaks.len() > WAVEFORM_LEN {
            self.merge();
        }
        let loudest = self.peaks.iter().copied().fold(0.0, f32::max);
        if loudest <= 0.0 || !loudest.is_finite() {
            return vec![0; self.peaks.len()];
        }
        self.peaks
            .iter()
            .map(|peak| (peak / loudest * 255.0).round().clamp(0.0, 255.0) as u8)
            .collect()
    }
}

#[cfg(test)]
mod tests;
