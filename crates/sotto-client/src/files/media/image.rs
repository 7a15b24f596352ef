//! An image's preview: its size and a JPEG thumbnail of at most `MAX_THUMBNAIL_LEN` bytes.

use std::io::{BufRead, Seek};

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageReader, Limits};
use sotto_proto::file_offer::{Media, MAX_THUMBNAIL_LEN};

use super::MediaError;

/// Longest side of the thumbnails tried, largest first: the first that fits is sent.
const SIDES: [u32; 4] = [128, 96, 64, 40];
/// JPEG qualities tried at each side.
const QUALITIES: [u8; 2] = [55, 30];
/// Largest image decoded: a hostile file cannot make the device allocate more.
const MAX_SIDE: u32 = 16_384;
const MAX_DECODE_BYTES: u64 = 128 << 20;

/// Decodes a JPEG, PNG, WebP or GIF (told by its first bytes, not its name) and makes its
/// thumbnail.
pub fn image_preview(reader: impl BufRead + Seek) -> Result<Media, MediaError> {
    let mut reader = ImageReader::new(reader).with_guessed_format()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode()?;
    let (width, height) = (image.width(), image.height());
    let mut small = image;
    for side in SIDES {
        // Each smaller thumbnail is made from the last one: the full image is resized once.
        small = small.thumbnail(side, side);
        if let Some(thumbnail) = fitting_jpeg(&small)? {
            return Ok(Media::Image {
                width,
                height,
                thumbnail,
            });
        }
    }
    Err(MediaError::Unsupported(
        "no thumbnail of this image fits in a message",
    ))
}

/// The first JPEG of `image` at the qualities tried that fits in an offer.
fn fitting_jpeg(image: &DynamicImage) -> Result<Option<Vec<u8>>, MediaError> {
    let rgb = image.to_rgb8();
    for quality in QUALITIES {
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, quality).encode_image(&rgb)?;
        if jpeg.len() <= MAX_THUMBNAIL_LEN {
            return Ok(Some(jpeg));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{ImageFormat, Rgb, RgbImage};

    use super::*;

    /// A noisy picture: the hardest kind to make small.
    fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| {
            let v = (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)).wrapping_mul(2_654_435_761);
            Rgb([(v >> 24) as u8, (v >> 16) as u8, (v >> 8) as u8])
        });
        let mut bytes = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(image)
            .write_to(&mut bytes, format)
            .unwrap();
        bytes.into_inner()
    }

    #[test]
    fn images_of_each_format_get_a_thumbnail_that_fits() {
        for format in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Gif,
            ImageFormat::WebP,
        ] {
            let bytes = picture(1200, 800, format);
            let Media::Image {
                width,
                height,
                thumbnail,
            } = image_preview(Cursor::new(bytes)).unwrap()
            else {
                panic!("an image's preview is an image's");
            };
            assert_eq!((width, height), (1200, 800), "{format:?}");
            assert!(thumbnail.len() <= MAX_THUMBNAIL_LEN, "{format:?}");
            let small = image::load_from_memory(&thumbnail).unwrap();
            assert!(small.width() <= 128 && small.height() <= 128);
            assert!(small.width() > small.height(), "keeps its aspect");
        }
    }

    #[test]
    fn what_is_not_an_image_is_refused() {
        assert!(image_preview(Cursor::new(b"not an image at all".to_vec())).is_err());
        let mut png = picture(64, 64, ImageFormat::Png);
        png.truncate(png.len() / 2);
        assert!(image_preview(Cursor::new(png)).is_err());
    }

    #[test]
    fn an_image_too_large_to_decode_is_refused() {
        // A PNG header claiming 100,000 × 100,000 pixels: refused before any allocation.
        let mut bytes = picture(8, 8, ImageFormat::Png);
        bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(image_preview(Cursor::new(bytes)).is_err());
    }
}
