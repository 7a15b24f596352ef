//! What an offer shows of a file before it is fetched ([`Media`]): an image's size and a
//! thumbnail small enough for the message, a voice message's length and waveform. Made from
//! readers, so tests give them bytes; `preview` opens the file.

mod image;
mod voice;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use sotto_proto::file_offer::{FileKind, Media};
use thiserror::Error;

pub use self::image::image_preview;
pub use voice::voice_preview;

/// Why a file has no preview; it is sent all the same, as a file of its kind without one.
#[derive(Debug, Error)]
pub enum MediaError {
    #[error("cannot read the file: {0}")]
    Read(#[from] std::io::Error),
    #[error("not an image this device can read: {0}")]
    Image(#[from] ::image::ImageError),
    #[error("not a WAV file this device can read: {0}")]
    Wav(#[from] hound::Error),
    #[error("not an Ogg file this device can read: {0}")]
    Ogg(#[from] ogg::OggReadError),
    #[error("{0}")]
    Unsupported(&'static str),
}

/// The preview of the file at `path` as a file of `kind`; `None` for a plain file.
pub fn preview(path: &Path, kind: FileKind) -> Result<Option<Media>, MediaError> {
    let reader = || File::open(path).map(BufReader::new);
    match kind {
        FileKind::File => Ok(None),
        FileKind::Image => image_preview(reader()?).map(Some),
        FileKind::Voice => voice_preview(reader()?).map(Some),
    }
}
