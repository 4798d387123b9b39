//! A ticket's QR code as a PNG: mail clients block SVG images (they can carry scripts), so the
//! receipt's inline images are PNG.
//!
//! The `qrcode` crate gives the module matrix; it is drawn here, black on white with the
//! standard quiet zone of four modules, as a 1-bit greyscale PNG (a few hundred bytes), with the
//! small `png` crate rather than a whole image library.
//!
//! Encoding is the costly part of an e-mail (the standard's choice among eight masks, scored one
//! by one: a few milliseconds of CPU per ticket), so the sender keeps the PNGs it made in a
//! bounded [`QrCache`]: a receipt retried through an SMTP outage is drawn once, not at every
//! attempt.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

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
    // A 1-bit image deflates to almost nothing at any level; a higher one only costs CPU.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

/// The PNGs by payload, and the payloads in the order they were drawn.
type Drawn = (HashMap<String, Arc<[u8]>>, VecDeque<String>);

/// The PNGs of the last `capacity` payloads, oldest forgotten first.
pub struct QrCache {
    capacity: usize,
    inner: Mutex<Drawn>,
}

impl std::fmt::Debug for QrCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl QrCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// The PNG of `payload`, drawn now or earlier.
    pub fn png(&self, payload: &str) -> Result<Arc<[u8]>, QrError> {
        if let Some(hit) = self.lock().0.get(payload) {
            return Ok(hit.clone());
        }
        // Drawn outside the lock: two sends may draw the same code once each, never wait.
        let image: Arc<[u8]> = png(payload)?.into();
        let mut guard = self.lock();
        let (map, order) = &mut *guard;
        if self.capacity > 0 && map.insert(payload.to_owned(), image.clone()).is_none() {
            order.push_back(payload.to_owned());
            while order.len() > self.capacity {
                if let Some(oldest) = order.pop_front() {
                    map.remove(&oldest);
                }
            }
        }
        Ok(image)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Drawn> {
        // A panic while holding it leaves a consistent map: keep using it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
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

    #[test]
    fn the_cache_draws_a_payload_once_and_forgets_the_oldest_beyond_its_capacity() {
        let cache = QrCache::new(2);
        let first = cache.png("a").unwrap();
        assert!(Arc::ptr_eq(&first, &cache.png("a").unwrap()));
        cache.png("b").unwrap();
        cache.png("c").unwrap();
        assert!(!Arc::ptr_eq(&first, &cache.png("a").unwrap()));
        assert_eq!(cache.lock().0.len(), 2);
    }
}
