//! The fuzz targets' seeds and every input kept in fuzz/regressions, run through the same
//! parsers and decoders in the ordinary test suite, so CI replays them without cargo-fuzz.
//! The fuzz targets themselves are in fuzz/fuzz_targets (see docs/reliability.md); the dump
//! reader is fuzzed there only (it lives in the CLI's binary crate).

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use crowndb::format::{decode_record, FooterEntry, Trailer, TRAILER_LEN};
use crowndb_server::{memcache, resp};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let Ok(dir) = std::fs::read_dir(fuzz.join(kind).join(target)) else { continue };
        for entry in dir.flatten() {
            out.push((entry.path(), std::fs::read(entry.path()).unwrap()));
        }
    }
    out
}

#[test]
fn memcache_parser_inputs() {
    for (path, data) in inputs("memcache_parse") {
        let Some((&mode, mut buf)) = data.split_first() else { continue };
        let limits = if mode & 1 == 0 {
            memcache::Limits::default()
        } else {
            memcache::Limits { max_key_len: 8, max_item_size: 64, max_line_len: 48, max_get_line_len: 96 }
        };
        for _ in 0..1000 {
            match memcache::parse(buf, &limits) {
                Ok(Some((_, used))) => {
                    assert!(used > 0 && used <= buf.len(), "{}", path.display());
                    buf = &buf[used..];
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
}

#[test]
fn resp_parser_inputs() {
    for (_, data) in inputs("resp_parse") {
        let Some((&mode, input)) = data.split_first() else { continue };
        let mut parser = if mode & 0x80 == 0 {
            resp::RequestParser::default()
        } else {
            resp::RequestParser::new(resp::Limits { max_bulk_len: 64, max_inline_len: 64, max_multibulk_len: 16, max_query_buffer: 256 })
        };
        let mut buf = BytesMut::new();
        'feed: for chunk in input.chunks((mode & 0x7f) as usize + 1) {
            buf.extend_from_slice(chunk);
            loop {
                match parser.decode(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
        }
    }
}

#[test]
fn record_decoder_inputs() {
    for (path, data) in inputs("record_decode") {
        let Some((&mode, rest)) = data.split_first() else { continue };
        let mut bytes = rest.to_vec();
        if mode & 1 == 1 && bytes.len() >= crowndb::format::HEADER_LEN {
            let head: [u8; crowndb::format::HEADER_LEN] = bytes[..crowndb::format::HEADER_LEN].try_into().unwrap();
            if let Some(h) = crowndb::format::RecordHeader::decode(&head) {
                let end = h.record_len().min(bytes.len() as u64) as usize;
                let crc = crc32c::crc32c(&bytes[4..end]);
                bytes[..4].copy_from_slice(&crc.to_le_bytes());
            }
        }
        if let Ok(rec) = decode_record(&bytes) {
            // Finding 5 (fixed): the LZ4 regression input must be refused, not allocated.
            let decoded = rec.decoded_value();
            if path.ends_with("lz4-declared-4GiB-oom") {
                assert!(decoded.is_err(), "an LZ4 value declaring 4 GiB decoded");
            }
        }
    }
}

#[test]
fn footer_decoder_inputs() {
    for (_, data) in inputs("footer_decode") {
        if let Some(entry) = FooterEntry::decode(&data) {
            assert_eq!(FooterEntry::decode(&entry.encode()), Some(entry));
        }
        if let Some(window) = data.get(data.len().saturating_sub(TRAILER_LEN)..) {
            if let Some(trailer) = Trailer::decode(window) {
                assert_eq!(Trailer::decode(&trailer.encode()), Some(trailer));
            }
        }
    }
}
