//! Value codecs: how a record's value bytes are stored (the record header's codec byte).
//!
//! `0` stores the value as is. `1` is LZ4 block compression (lz4_flex) with the
//! uncompressed length prepended as a little-endian u32. The checksum covers the stored
//! bytes, so damage is caught before decompression.

use std::borrow::Cow;

use crate::options::Compression;
use crate::record::RecordKind;

pub const RAW: u8 = 0;
pub const LZ4: u8 = 1;
/// The value is streamed: the record holds a manifest and the bytes are in chunk records
/// (see `stream`).
pub const CHUNKED: u8 = 2;
/// The value is a collection head (`collection::head`): the key holds a hash or a set.
pub const COLLECTION: u8 = 3;

/// Values shorter than this are never compressed: LZ4 cannot save enough on them.
const MIN_COMPRESSIBLE: usize = 64;

/// The bytes to store for `value` and their codec.
pub fn encode(value: &[u8], mode: Compression) -> (Cow<'_, [u8]>, u8) {
    if mode == Compression::Off || value.len() < MIN_COMPRESSIBLE || value.len() > u32::MAX as usize {
        return (Cow::Borrowed(value), RAW);
    }
    let packed = lz4_flex::compress_prepend_size(value);
    // Auto keeps the compressed form only when it saves at least a tenth.
    if mode == Compression::Auto && packed.len() * 10 > value.len() * 9 {
        return (Cow::Borrowed(value), RAW);
    }
    (Cow::Owned(packed), LZ4)
}

/// The value a record stores, decoded.
pub fn decode(codec: u8, stored: &[u8]) -> Result<Vec<u8>, String> {
    match codec {
        RAW | COLLECTION => Ok(stored.to_vec()),
        LZ4 => {
            // LZ4 cannot expand data more than 255 times: refuse a declared length beyond
            // that before allocating it (a crafted or damaged record could claim 4 GiB).
            let declared = stored.get(..4).map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize);
            if stored.len() < 4 || declared > (stored.len() - 4).saturating_mul(255).saturating_add(16) {
                return Err(format!("LZ4 value declares {declared} bytes from {} stored bytes", stored.len()));
            }
            lz4_flex::decompress_size_prepended(stored).map_err(|e| format!("LZ4 value does not decompress: {e}"))
        }
        CHUNKED => Err("a streamed value's manifest is not a value".into()),
        other => Err(format!("unknown value codec {other} (written by a newer CrownDB?)")),
    }
}

/// Whether a record's stored value is what its kind and codec byte say (docs/format.md,
/// "Record"): as is, LZ4 that decompresses, or a streamed value's 24-byte manifest (puts
/// only); a tombstone holds nothing. For `crowndb check` and `repair`.
pub fn validate(kind: RecordKind, codec: u8, value: &[u8]) -> Result<(), String> {
    match (kind, codec) {
        (RecordKind::Delete, RAW) if value.is_empty() => Ok(()),
        (RecordKind::Delete, _) => Err(format!("tombstone with codec {codec} and a {}-byte value", value.len())),
        (_, RAW) => Ok(()),
        (_, LZ4) => decode(LZ4, value).map(|_| ()),
        (RecordKind::Put, CHUNKED) if value.len() == crate::stream::MANIFEST_LEN => Ok(()),
        (RecordKind::Put, CHUNKED) => Err(format!("streamed-value manifest of {} bytes, not {}", value.len(), crate::stream::MANIFEST_LEN)),
        (RecordKind::Put, COLLECTION) => crate::collection::head::Head::decode(value).map(|_| ()),
        (_, other) => Err(format!("unknown value codec {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_auto_skips_incompressible_values() {
        let text = b"the quick brown fox jumps over the lazy dog, again and again and again".repeat(20);
        let (stored, codec) = encode(&text, Compression::Auto);
        assert_eq!(codec, LZ4);
        assert!(stored.len() < text.len() / 3);
        assert_eq!(decode(codec, &stored).unwrap(), text);

        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert_eq!(encode(&noise, Compression::Auto).1, RAW);
        assert_eq!(encode(&noise, Compression::Lz4).1, LZ4);
        assert_eq!(encode(&text, Compression::Off).1, RAW);
        assert!(decode(9, b"x").unwrap_err().contains("unknown value codec 9"));
        // A 14-byte value claiming 4 GiB is refused before anything is allocated.
        let mut crafted = u32::MAX.to_le_bytes().to_vec();
        crafted.extend_from_slice(&[0x10, b'a', 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(decode(LZ4, &crafted).unwrap_err().contains("declares 4294967295 bytes"));
    }
}
