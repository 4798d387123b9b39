//! gzip for a page that is mostly the same for every visitor.
//!
//! The event page of a 2 000-seat event is about 170 KB of seat rows, which change only when a
//! seat does, around a few KB that belong to the visitor (their name, the form's token and
//! key). Compressing the whole page for every request cost more CPU than everything else the
//! page does (docs/performance.md, "storefront: the event page under an on-sale"). So the
//! shared part is compressed once ([`Shared`]) and each answer compresses only the visitor's
//! head and tail, then joins the three into one gzip stream ([`join`]).
//!
//! This is sound because DEFLATE (RFC 1951) is a sequence of blocks and its back-references
//! reach only bytes already decoded: a part compressed on its own refers to nothing before it,
//! and ended with a sync flush (an empty stored block, so it stops on a byte boundary with no
//! block marked final) it can be followed by any other. The gzip trailer (RFC 1952) needs the
//! CRC-32 of the whole, which `crc32fast` combines from the parts' own.

use axum::http::{HeaderMap, header};
use crc32fast::Hasher;
use flate2::{Compress, Compression, FlushCompress, Status};

/// gzip's fixed header: magic, DEFLATE, no flags, no time, no extra flags, unknown system.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A part of many answers, kept as it is and compressed once.
pub struct Shared {
    raw: String,
    /// DEFLATE blocks ending with a sync flush; `None` when compressing failed (the pages then
    /// go out uncompressed).
    deflated: Option<Vec<u8>>,
    crc: Hasher,
}

impl Shared {
    pub fn new(raw: String) -> Self {
        // Compressed once per seat-map version: the default level's smaller output is worth it.
        let deflated = deflate(raw.as_bytes(), Compression::default(), FlushCompress::Sync);
        let mut crc = Hasher::new();
        crc.update(raw.as_bytes());
        Self { raw, deflated, crc }
    }

    pub fn raw(&self) -> &str {
        &self.raw
    }
}

/// `head`, `shared` and `tail` as one gzip stream; `None` when compressing failed.
pub fn join(head: &str, shared: &Shared, tail: &str) -> Option<Vec<u8>> {
    let shared_deflated = shared.deflated.as_deref()?;
    let head_deflated = deflate(head.as_bytes(), Compression::fast(), FlushCompress::Sync)?;
    let tail_deflated = deflate(tail.as_bytes(), Compression::fast(), FlushCompress::Finish)?;
    let mut crc = Hasher::new();
    crc.update(head.as_bytes());
    crc.combine(&shared.crc);
    let mut tail_crc = Hasher::new();
    tail_crc.update(tail.as_bytes());
    crc.combine(&tail_crc);
    // ISIZE, the uncompressed length (modulo 2^32 in RFC 1952; a page is never that long).
    let size = u32::try_from(head.len() + shared.raw.len() + tail.len()).ok()?;

    let mut out = Vec::with_capacity(
        HEADER.len() + head_deflated.len() + shared_deflated.len() + tail_deflated.len() + 8,
    );
    out.extend_from_slice(&HEADER);
    out.extend_from_slice(&head_deflated);
    out.extend_from_slice(shared_deflated);
    out.extend_from_slice(&tail_deflated);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    Some(out)
}

/// `data` as raw DEFLATE blocks, compressed on its own, ended by `flush`: `Sync` for a part
/// that others follow, `Finish` for the last.
fn deflate(data: &[u8], level: Compression, flush: FlushCompress) -> Option<Vec<u8>> {
    let mut deflater = Compress::new(level, false);
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    loop {
        let consumed = usize::try_from(deflater.total_in()).ok()?;
        let status = match deflater.compress_vec(&data[consumed..], &mut out, flush) {
            Ok(status) => status,
            Err(e) => {
                tracing::error!(error = %e, "deflate failed");
                return None;
            }
        };
        let all_in = usize::try_from(deflater.total_in()).ok()? == data.len();
        // Done when the stream ended (Finish), or when everything went in and the flush left
        // room to spare in `out` (Sync: nothing more is pending).
        if status == Status::StreamEnd
            || (flush == FlushCompress::Sync && all_in && out.len() < out.capacity())
        {
            return Some(out);
        }
        out.reserve(out.capacity().max(64));
    }
}

/// Whether the request's `Accept-Encoding` takes gzip: named with a weight above 0, or not
/// named and `*` is.
pub fn accepted(headers: &HeaderMap) -> bool {
    let codings: Vec<(&str, bool)> = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let weight = parts
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .map_or(Some(1.0), |q| q.parse::<f32>().ok());
            (name, weight.is_some_and(|q| q > 0.0))
        })
        .collect();
    let wanted = |name: &str| {
        codings
            .iter()
            .find(|(coding, _)| coding.eq_ignore_ascii_case(name))
            .map(|&(_, wanted)| wanted)
    };
    wanted("gzip").or_else(|| wanted("*")).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use axum::http::HeaderValue;
    use flate2::read::GzDecoder;

    use super::*;

    fn gunzip(bytes: &[u8]) -> String {
        let mut text = String::new();
        GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn the_joined_parts_decode_to_the_whole_page() {
        // Repetitive like the seat rows, so the shared part has long back-references of its own.
        let rows: String = (0..5_000)
            .map(|i| format!("<input type=checkbox name=seat value={i} id=s{i}>"))
            .collect::<Vec<_>>()
            .concat();
        let shared = Shared::new(rows.clone());
        let head = "<!doctype html><title>Concert</title><input name=csrf value=abc>";
        let tail = "<button>Hold</button></html>";
        let page = join(head, &shared, tail).unwrap();
        assert_eq!(gunzip(&page), format!("{head}{rows}{tail}"));
        // Compressed, and far smaller than the rows.
        assert!(page.len() < rows.len() / 5, "{} bytes", page.len());
        // The same shared part serves another visitor's page.
        let other = join("<p>another visitor</p>", &shared, "").unwrap();
        assert_eq!(gunzip(&other), format!("<p>another visitor</p>{rows}"));
    }

    #[test]
    fn empty_parts_join_too() {
        assert_eq!(
            gunzip(&join("", &Shared::new(String::new()), "").unwrap()),
            ""
        );
        assert_eq!(
            gunzip(&join("", &Shared::new("x".into()), "").unwrap()),
            "x"
        );
    }

    #[test]
    fn gzip_is_taken_only_when_the_browser_accepts_it() {
        let accepts = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            accepted(&headers)
        };
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip;q=0, *"));
        assert!(!accepts("br, identity"));
        assert!(!accepted(&HeaderMap::new()));
    }
}
