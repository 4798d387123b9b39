//! A ticket's QR code as a PNG: mail clients block SVG images (they can carry scripts), so the
//! receipt's inline images are PNG.
//!
//! The `qrcode` crate gives the module matrix; it is drawn here, black on white with the
//! standard quiet zone of four modules, as a 1-bit greyscale PNG (a few hundred bytes), with the
//! small `png` crate rather than a whole image library.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module: a code of 300 characters (version 13, 69 modules) is 385 px wide.
const SCALE: usize = 5;
/// The quiet zone the standard asks for, in modules.
const QUIET: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the payload does not fit in a QR code: {0}")]
    Code(#[from] qrcode::types::QrError),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

/// The PNG of `payload`'s QR code (error correction M, as the SVG of order-service).
pub fn png(payload: &str) -> Result<Vec<u8>, QrError> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    // 1 bit per pixel, rows padded to whole bytes; 1 is white, 0 black.
    let row_bytes = side.div_ceil(8);
    let mut pixels = vec![0xFFu8; row_bytes * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (index % modules, index / modules);
        for y in (my + QUIET) * SCALE..(my + QUIET + 1) * SCALE {
            for x in (mx + QUIET) * SCALE..(mx + QUIET + 1) * SCALE {
                pixels[y * row_bytes + x / 8] &= !(0x80 >> (x % 8));
            }
        }
    }
    let side = u32::try_from(side).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(1024);
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_payload_becomes_a_small_black_and_white_png() {
        let payload = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhYmMifQ.c2lnbmF0dXJl".repeat(5);
        let image = png(&payload).unwrap();
        assert_eq!(&image[..8], b"\x89PNG\r\n\x1a\n");
        assert!(image.len() < 8 * 1024, "{} bytes", image.len());
        let decoder = png::Decoder::new(std::io::Cursor::new(image));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(info.width, info.height);
        assert_eq!(info.width as usize % SCALE, 0);
        assert_eq!(info.bit_depth, png::BitDepth::One);
    }
}
