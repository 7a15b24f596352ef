//! The link as a QR code: in the terminal, as a PNG for `--qr-png`, and as SVG for the web app.

use std::path::Path;

use anyhow::Context;
use qrcode::render::unicode::Dense1x2;
use qrcode::{Color, QrCode};

/// Pixels per module and modules of quiet zone around the code in the PNG.
const SCALE: usize = 8;
const QUIET: usize = 4;

fn code(link: &str) -> anyhow::Result<QrCode> {
    QrCode::new(link.as_bytes()).context("the link does not fit a QR code")
}

pub fn terminal(link: &str) -> anyhow::Result<String> {
    Ok(code(link)?
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .build())
}

/// The QR code as an SVG image, for the web app.
pub fn svg(link: &str) -> anyhow::Result<String> {
    Ok(code(link)?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .build())
}

pub fn write_png(link: &str, file: &Path) -> anyhow::Result<()> {
    let code = code(link)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (x, y) = (index % modules + QUIET, index / modules + QUIET);
        for row in y * SCALE..(y + 1) * SCALE {
            pixels[row * side + x * SCALE..row * side + (x + 1) * SCALE].fill(0);
        }
    }
    let out =
        std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?;
    let side = u32::try_from(side).context("QR image too large")?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(out), side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&pixels))
        .with_context(|| format!("writing {}", file.display()))
}
