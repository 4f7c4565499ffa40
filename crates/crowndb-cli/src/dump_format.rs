//! The dump interchange format written by `crowndb dump` and read by `crowndb load`.
//! Byte layout in docs/format.md ("Dump format"):
//!
//! ```text
//! file header  16 bytes: "CROWNDMP" | version u32 = 1 | reserved u32 = 0
//! entry        28-byte header + key + value:
//!              crc32c u32 (bytes 4 .. end of entry) | tag u8 | 3 × 0u8
//!              | key length u32 | value length u32 | flags u32 | expiry ms u64 (0 = never)
//!              tag 1: a key and its whole value
//!              tag 3: a key whose value follows in pieces; value = total length u64
//!              tag 4: the next piece of that value (no key)
//! end          an entry with tag 2, no key, a 12-byte value: key count u64
//!              | crc32c u32 of every byte of the file before the end entry
//! ```
//! All integers little-endian. A dump streams: the reader holds one entry (or one piece of
//! a large value) at a time.

use std::io::{self, Read, Write};

pub const MAGIC: &[u8; 8] = b"CROWNDMP";
pub const VERSION: u32 = 1;
pub const FILE_HEADER_LEN: usize = 16;
pub const ENTRY_HEADER_LEN: usize = 28;
const TAG_ENTRY: u8 = 1;
const TAG_END: u8 = 2;
const TAG_STREAM: u8 = 3;
const TAG_PIECE: u8 = 4;
/// Values longer than this are written as a stream of pieces of this size.
pub const PIECE_LEN: usize = 1 << 20;
/// Largest key a dump may hold (the engine's limit).
pub const MAX_KEY_LEN: u32 = u16::MAX as u32;
/// Largest value a reader accepts (a damaged length must not allocate gigabytes).
pub const MAX_VALUE_LEN: u32 = 1 << 30;

/// One key of a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpEntry {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub flags: u32,
    /// Unix milliseconds; `None` never expires.
    pub expires_at_ms: Option<u64>,
}

fn entry_header(tag: u8, key_len: u32, value_len: u32, flags: u32, expiry: u64) -> [u8; ENTRY_HEADER_LEN] {
    let mut h = [0u8; ENTRY_HEADER_LEN];
    h[4] = tag;
    h[8..12].copy_from_slice(&key_len.to_le_bytes());
    h[12..16].copy_from_slice(&value_len.to_le_bytes());
    h[16..20].copy_from_slice(&flags.to_le_bytes());
    h[20..28].copy_from_slice(&expiry.to_le_bytes());
    h
}

/// Writes a dump: the file header at creation, then entries, then `finish`.
pub struct DumpWriter<W: Write> {
    out: W,
    /// CRC-32C of every byte written so far.
    stream_crc: u32,
    entries: u64,
    bytes: u64,
}

impl<W: Write> DumpWriter<W> {
    pub fn new(out: W) -> io::Result<DumpWriter<W>> {
        let mut w = DumpWriter { out, stream_crc: 0, entries: 0, bytes: 0 };
        let mut header = [0u8; FILE_HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        w.emit(&header)?;
        Ok(w)
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream_crc = crc32c::crc32c_append(self.stream_crc, bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    fn emit_entry(&mut self, tag: u8, key: &[u8], value: &[u8], flags: u32, expiry: u64) -> io::Result<()> {
        let too_big = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{what} too large for a dump entry"));
        let key_len = u32::try_from(key.len()).ok().filter(|&n| n <= MAX_KEY_LEN).ok_or_else(|| too_big("key"))?;
        let value_len = u32::try_from(value.len()).ok().filter(|&n| n <= MAX_VALUE_LEN).ok_or_else(|| too_big("value"))?;
        let mut header = entry_header(tag, key_len, value_len, flags, expiry);
        let crc = crc32c::crc32c_append(crc32c::crc32c_append(crc32c::crc32c(&header[4..]), key), value);
        header[..4].copy_from_slice(&crc.to_le_bytes());
        self.emit(&header)?;
        self.emit(key)?;
        self.emit(value)
    }

    pub fn write(&mut self, entry: &DumpEntry) -> io::Result<()> {
        let expiry = entry.expires_at_ms.unwrap_or(0);
        if entry.value.len() <= PIECE_LEN {
            self.emit_entry(TAG_ENTRY, &entry.key, &entry.value, entry.flags, expiry)?;
        } else {
            self.emit_entry(TAG_STREAM, &entry.key, &(entry.value.len() as u64).to_le_bytes(), entry.flags, expiry)?;
            for piece in entry.value.chunks(PIECE_LEN) {
                self.emit_entry(TAG_PIECE, &[], piece, 0, 0)?;
            }
        }
        self.entries += 1;
        Ok(())
    }

    /// Writes the end entry and flushes; returns the writer, the number of entries and of bytes.
    pub fn finish(mut self) -> io::Result<(W, u64, u64)> {
        let mut tail = [0u8; 12];
        tail[..8].copy_from_slice(&self.entries.to_le_bytes());
        tail[8..].copy_from_slice(&self.stream_crc.to_le_bytes());
        self.emit_entry(TAG_END, &[], &tail, 0, 0)?;
        self.out.flush()?;
        Ok((self.out, self.entries, self.bytes))
    }
}

/// Why a dump cannot be read further.
#[derive(Debug)]
pub enum DumpError {
    Io(io::Error),
    /// The bytes at this offset are not what the format says.
    Damaged {
        offset: u64,
        reason: String,
    },
}

impl std::fmt::Display for DumpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DumpError::Io(e) => write!(f, "{e}"),
            DumpError::Damaged { offset, reason } => write!(f, "damaged dump at offset {offset}: {reason}"),
        }
    }
}

/// What [`DumpReader::next_item`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpItem {
    /// A key with its whole value.
    Entry(DumpEntry),
    /// A key whose value (`len` bytes, `value` left empty) follows as [`DumpItem::Piece`]s.
    Stream { entry: DumpEntry, len: u64 },
    /// The next piece of the value announced by the last `Stream`.
    Piece(Vec<u8>),
}

/// Reads a dump item by item, verifying each checksum, that pieces add up to their value's
/// length, and the end entry's count and whole-stream checksum (a dump cut short, or with
/// entries lost, fails).
pub struct DumpReader<R: Read> {
    input: R,
    offset: u64,
    stream_crc: u32,
    entries: u64,
    /// Bytes still expected in pieces of the current streamed value.
    pending: u64,
    done: bool,
}

impl<R: Read> DumpReader<R> {
    pub fn new(mut input: R) -> Result<DumpReader<R>, DumpError> {
        let mut header = [0u8; FILE_HEADER_LEN];
        read_full(&mut input, &mut header, 0, "file header")?;
        if &header[..8] != MAGIC {
            return Err(DumpError::Damaged { offset: 0, reason: "not a CrownDB dump (magic is not CROWNDMP)".into() });
        }
        let version = u32::from_le_bytes(header[8..12].try_into().unwrap());
        if version != VERSION {
            return Err(DumpError::Damaged {
                offset: 8,
                reason: format!("dump format version {version}; this build reads version {VERSION}"),
            });
        }
        Ok(DumpReader { input, offset: FILE_HEADER_LEN as u64, stream_crc: crc32c::crc32c(&header), entries: 0, pending: 0, done: false })
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next key with its whole value, pieces gathered in memory (for tests and small
    /// dumps); `Ok(None)` after a verified end entry.
    #[cfg(test)]
    pub fn next_entry(&mut self) -> Result<Option<DumpEntry>, DumpError> {
        match self.next_item()? {
            None => Ok(None),
            Some(DumpItem::Entry(e)) => Ok(Some(e)),
            Some(DumpItem::Stream { mut entry, len }) => {
                while entry.value.len() < len as usize {
                    match self.next_item()? {
                        Some(DumpItem::Piece(p)) => entry.value.extend_from_slice(&p),
                        _ => unreachable!("the reader checks that pieces follow"),
                    }
                }
                Ok(Some(entry))
            }
            Some(DumpItem::Piece(_)) => unreachable!("pieces follow a stream entry"),
        }
    }

    /// The next item; `Ok(None)` after a verified end entry.
    pub fn next_item(&mut self) -> Result<Option<DumpItem>, DumpError> {
        if self.done {
            return Ok(None);
        }
        let at = self.offset;
        let damaged = |reason: String| DumpError::Damaged { offset: at, reason };
        let mut header = [0u8; ENTRY_HEADER_LEN];
        read_full(&mut self.input, &mut header, at, "entry header (the dump is cut short: no end entry)")?;
        let field = |r: std::ops::Range<usize>| {
            u64::from_le_bytes({
                let mut b = [0u8; 8];
                b[..r.len()].copy_from_slice(&header[r]);
                b
            })
        };
        let (stored_crc, tag) = (field(0..4) as u32, header[4]);
        let (key_len, value_len, flags, expiry) = (field(8..12) as u32, field(12..16) as u32, field(16..20) as u32, field(20..28));
        if !(TAG_ENTRY..=TAG_PIECE).contains(&tag) {
            return Err(damaged(format!("unknown entry tag {tag}")));
        }
        if (self.pending > 0) != (tag == TAG_PIECE) {
            let why =
                if self.pending > 0 { format!("{} bytes of a value are missing", self.pending) } else { "a piece of no value".into() };
            return Err(damaged(why));
        }
        if key_len > MAX_KEY_LEN || value_len > MAX_VALUE_LEN {
            return Err(damaged(format!("impossible lengths (key {key_len}, value {value_len})")));
        }
        let mut key = vec![0u8; key_len as usize];
        let mut value = vec![0u8; value_len as usize];
        read_full(&mut self.input, &mut key, at, "key (the dump is cut short)")?;
        read_full(&mut self.input, &mut value, at, "value (the dump is cut short)")?;
        let crc = crc32c::crc32c_append(crc32c::crc32c_append(crc32c::crc32c(&header[4..]), &key), &value);
        if crc != stored_crc {
            return Err(damaged(format!("entry checksum mismatch (stored {stored_crc:#010x}, computed {crc:#010x})")));
        }
        let before = self.stream_crc;
        for part in [&header[..], &key, &value] {
            self.stream_crc = crc32c::crc32c_append(self.stream_crc, part);
        }
        self.offset += (ENTRY_HEADER_LEN + key.len() + value.len()) as u64;
        if tag == TAG_PIECE {
            if !key.is_empty() || value.is_empty() || value.len() as u64 > self.pending {
                return Err(damaged(format!("a piece of {} bytes where {} remain", value.len(), self.pending)));
            }
            self.pending -= value.len() as u64;
            return Ok(Some(DumpItem::Piece(value)));
        }
        if tag == TAG_END {
            if value.len() != 12 || !key.is_empty() {
                return Err(damaged("end entry of the wrong size".into()));
            }
            let count = u64::from_le_bytes(value[..8].try_into().unwrap());
            let whole = u32::from_le_bytes(value[8..].try_into().unwrap());
            if count != self.entries {
                return Err(damaged(format!("the end entry counts {count} entries, {} were read", self.entries)));
            }
            if whole != before {
                return Err(damaged(format!("whole-dump checksum mismatch (stored {whole:#010x}, computed {before:#010x})")));
            }
            let mut probe = [0u8; 1];
            if self.input.read(&mut probe).map_err(DumpError::Io)? != 0 {
                return Err(DumpError::Damaged { offset: self.offset, reason: "bytes after the end entry".into() });
            }
            self.done = true;
            return Ok(None);
        }
        self.entries += 1;
        let expires_at_ms = (expiry != 0).then_some(expiry);
        if tag == TAG_STREAM {
            let len = value.as_slice().try_into().map(u64::from_le_bytes).map_err(|_| damaged("stream entry without a length".into()))?;
            if len == 0 {
                return Err(damaged("stream entry of an empty value".into()));
            }
            self.pending = len;
            return Ok(Some(DumpItem::Stream { entry: DumpEntry { key, value: Vec::new(), flags, expires_at_ms }, len }));
        }
        Ok(Some(DumpItem::Entry(DumpEntry { key, value, flags, expires_at_ms })))
    }
}

fn read_full(input: &mut impl Read, buf: &mut [u8], offset: u64, what: &str) -> Result<(), DumpError> {
    input.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => DumpError::Damaged { offset, reason: format!("end of input inside the {what}") },
        _ => DumpError::Io(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<DumpEntry> {
        vec![
            DumpEntry { key: b"a".to_vec(), value: b"1".to_vec(), flags: 7, expires_at_ms: Some(99) },
            DumpEntry { key: vec![0, 255, 10], value: vec![], flags: 0, expires_at_ms: None },
        ]
    }

    fn encode(entries: &[DumpEntry]) -> Vec<u8> {
        let mut w = DumpWriter::new(Vec::new()).unwrap();
        for e in entries {
            w.write(e).unwrap();
        }
        w.finish().unwrap().0
    }

    fn decode(bytes: &[u8]) -> Result<Vec<DumpEntry>, DumpError> {
        let mut r = DumpReader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(e) = r.next_entry()? {
            out.push(e);
        }
        Ok(out)
    }

    #[test]
    fn round_trip() {
        assert_eq!(decode(&encode(&sample())).unwrap(), sample());
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
    }

    #[test]
    fn every_flipped_byte_and_every_cut_is_detected() {
        let bytes = encode(&sample());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x41;
            assert!(decode(&bad).is_err(), "flip at {i} went unnoticed");
            assert!(decode(&bytes[..i]).is_err(), "cut at {i} went unnoticed");
        }
    }

    #[test]
    fn large_values_go_in_pieces() {
        let big =
            DumpEntry { key: b"big".to_vec(), value: (0..PIECE_LEN * 2 + 5).map(|i| i as u8).collect(), flags: 3, expires_at_ms: None };
        let entries = vec![sample()[0].clone(), big, sample()[1].clone()];
        let bytes = encode(&entries);
        assert_eq!(decode(&bytes).unwrap(), entries);
        // A piece lost in the middle is found.
        let piece_at = FILE_HEADER_LEN + (ENTRY_HEADER_LEN + 2) + (ENTRY_HEADER_LEN + 3 + 8);
        assert_eq!(bytes[piece_at + 4], TAG_PIECE);
        let mut cut = bytes[..piece_at].to_vec();
        cut.extend_from_slice(&bytes[piece_at + ENTRY_HEADER_LEN + PIECE_LEN..]);
        assert!(decode(&cut).is_err());
    }

    #[test]
    fn a_dropped_entry_is_detected() {
        let bytes = encode(&sample());
        let first_len = ENTRY_HEADER_LEN + 2;
        let mut bad = bytes[..FILE_HEADER_LEN].to_vec();
        bad.extend_from_slice(&bytes[FILE_HEADER_LEN + first_len..]);
        assert!(decode(&bad).is_err());
    }
}
