//! The record: the unit of the log. Byte layout in docs/format.md ("Record").
//!
//! ```text
//! offset size field
//!      0    4 crc32c of bytes 4 .. end of record (rest of header, key, value)
//!      4    1 kind (1 put, 2 delete, 3 batch envelope, 4 chunk of a streamed value)
//!      5    1 codec of the value (0 = stored as is)
//!      6    2 key length
//!      8    4 value length (bytes stored on disk)
//!     12    4 client flags
//!     16    8 sequence number
//!     24    8 expiry deadline, Unix ms (0 = never)
//!     32    . key, then value
//! ```
//! All integers little-endian. Records are not aligned: one follows the other.

/// Size of the fixed record header.
pub const HEADER_LEN: usize = 32;

/// What a record says about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// The key has this value.
    Put = 1,
    /// The key was deleted (a tombstone; no value).
    Delete = 2,
    /// An atomic batch: the "value" is a run of complete Put/Delete records, and the
    /// envelope's checksum covers them all, so the batch is applied whole or not at all.
    Batch = 3,
    /// One chunk of a streamed value. Its key is the stream's chunk key (see `stream`),
    /// in a namespace of its own: user lookups never match a chunk.
    Chunk = 4,
    /// One page of a collection (members of a large hash or set). Its key is the page key
    /// (`collection::head::page_key`: epoch and bucket), in a namespace of its own.
    Page = 5,
}

impl RecordKind {
    pub fn from_byte(b: u8) -> Option<RecordKind> {
        match b {
            1 => Some(RecordKind::Put),
            2 => Some(RecordKind::Delete),
            3 => Some(RecordKind::Batch),
            4 => Some(RecordKind::Chunk),
            5 => Some(RecordKind::Page),
            _ => None,
        }
    }

    /// Records that hold data while current (counted as live bytes): puts, chunks, pages.
    pub fn holds_data(self) -> bool {
        matches!(self, RecordKind::Put | RecordKind::Chunk | RecordKind::Page)
    }
}

/// The decoded fixed header of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub crc: u32,
    pub kind: RecordKind,
    pub codec: u8,
    pub key_len: u16,
    pub value_len: u32,
    pub flags: u32,
    pub seq: u64,
    pub expires_at_ms: u64,
}

impl RecordHeader {
    /// Total bytes of the record: header, key and value.
    pub fn record_len(&self) -> u64 {
        HEADER_LEN as u64 + self.key_len as u64 + self.value_len as u64
    }

    /// Decodes a header; `None` if the kind byte is not a known kind (which includes the
    /// zeroed, never-written tail of a segment).
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Option<RecordHeader> {
        let kind = RecordKind::from_byte(bytes[4])?;
        Some(RecordHeader {
            crc: u32::from_le_bytes(bytes[0..4].try_into().unwrap()),
            kind,
            codec: bytes[5],
            key_len: u16::from_le_bytes(bytes[6..8].try_into().unwrap()),
            value_len: u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
            flags: u32::from_le_bytes(bytes[12..16].try_into().unwrap()),
            seq: u64::from_le_bytes(bytes[16..24].try_into().unwrap()),
            expires_at_ms: u64::from_le_bytes(bytes[24..32].try_into().unwrap()),
        })
    }
}

/// Fields of a record to be written (everything but the checksum and lengths).
#[derive(Debug, Clone, Copy)]
pub struct RecordMeta {
    pub kind: RecordKind,
    /// How the value bytes are stored (see `codec`).
    pub codec: u8,
    pub flags: u32,
    pub seq: u64,
    pub expires_at_ms: u64,
}

/// Bytes a record with this key and value occupies.
pub fn encoded_len(key_len: usize, value_len: usize) -> usize {
    HEADER_LEN + key_len + value_len
}

/// Writes a complete record into `out` (exactly `encoded_len` bytes long).
pub fn encode_into(out: &mut [u8], meta: RecordMeta, key: &[u8], value: &[u8]) {
    debug_assert_eq!(out.len(), encoded_len(key.len(), value.len()));
    out[4] = meta.kind as u8;
    out[5] = meta.codec;
    out[6..8].copy_from_slice(&(key.len() as u16).to_le_bytes());
    out[8..12].copy_from_slice(&(value.len() as u32).to_le_bytes());
    out[12..16].copy_from_slice(&meta.flags.to_le_bytes());
    out[16..24].copy_from_slice(&meta.seq.to_le_bytes());
    out[24..32].copy_from_slice(&meta.expires_at_ms.to_le_bytes());
    out[HEADER_LEN..HEADER_LEN + key.len()].copy_from_slice(key);
    out[HEADER_LEN + key.len()..].copy_from_slice(value);
    seal_checksum(out);
}

/// Computes and stores the checksum of a fully written record.
pub fn seal_checksum(record: &mut [u8]) {
    let crc = crc32c::crc32c(&record[4..]);
    record[0..4].copy_from_slice(&crc.to_le_bytes());
}

/// Why bytes at some offset are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// Fewer bytes remain than the header or the declared lengths need.
    Truncated,
    /// The kind byte is unknown (a zeroed tail reads this way).
    BadKind(u8),
    /// The checksum does not match the bytes.
    Checksum { stored: u32, computed: u32 },
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Truncated => write!(f, "record extends past the end of the data"),
            RecordError::BadKind(b) => write!(f, "unknown record kind {b}"),
            RecordError::Checksum { stored, computed } => {
                write!(f, "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")
            }
        }
    }
}

/// A record decoded from bytes, borrowing its key and (stored) value.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    pub header: RecordHeader,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl RecordRef<'_> {
    /// The value, decoded from its stored form.
    pub fn decoded_value(&self) -> Result<Vec<u8>, String> {
        crate::codec::decode(self.header.codec, self.value)
    }
}

/// Decodes and verifies the record at the start of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<RecordRef<'_>, RecordError> {
    let head: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or(RecordError::Truncated)?;
    let header = RecordHeader::decode(head).ok_or(RecordError::BadKind(head[4]))?;
    let total = header.record_len();
    if total > bytes.len() as u64 {
        return Err(RecordError::Truncated);
    }
    let record = &bytes[..total as usize];
    let computed = crc32c::crc32c(&record[4..]);
    if computed != header.crc {
        return Err(RecordError::Checksum { stored: header.crc, computed });
    }
    let key_end = HEADER_LEN + header.key_len as usize;
    Ok(RecordRef { header, key: &record[HEADER_LEN..key_end], value: &record[key_end..] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(kind: RecordKind) -> RecordMeta {
        RecordMeta { kind, codec: 0, flags: 7, seq: 42, expires_at_ms: 99 }
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let mut buf = vec![0; encoded_len(3, 5)];
        encode_into(&mut buf, meta(RecordKind::Put), b"key", b"value");
        let rec = decode(&buf).unwrap();
        assert_eq!(rec.key, b"key");
        assert_eq!(rec.value, b"value");
        assert_eq!(rec.header.kind, RecordKind::Put);
        assert_eq!((rec.header.flags, rec.header.seq, rec.header.expires_at_ms), (7, 42, 99));
        assert_eq!(rec.header.record_len(), buf.len() as u64);
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        let mut buf = vec![0; encoded_len(3, 5)];
        encode_into(&mut buf, meta(RecordKind::Put), b"key", b"value");
        for i in 0..buf.len() * 8 {
            let mut bad = buf.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(decode(&bad).is_err(), "flip of bit {i} went unnoticed");
        }
    }

    #[test]
    fn zeroes_and_short_input_are_not_records() {
        assert_eq!(decode(&[0; 64]).unwrap_err(), RecordError::BadKind(0));
        assert_eq!(decode(&[1; 10]).unwrap_err(), RecordError::Truncated);
        let mut buf = vec![0; encoded_len(3, 5)];
        encode_into(&mut buf, meta(RecordKind::Delete), b"key", b"value");
        assert_eq!(decode(&buf[..buf.len() - 1]).unwrap_err(), RecordError::Truncated);
    }
}
