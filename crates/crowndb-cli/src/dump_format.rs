//! The dump interchange format written by `crowndb dump` and read by `crowndb load`.
//! Byte layout in docs/format.md ("Dump format"):
//!
//! ```text
//! file header  16 bytes: "CROWNDMP" | version u32 = 2 | reserved u32 = 0
//! entry        28-byte header + key + value:
//!              crc32c u32 (bytes 4 .. end of entry) | tag u8 | 3 × 0u8
//!              | key length u32 | value length u32 | flags u32 | expiry ms u64 (0 = never)
//!              tag 1: a key and its whole value
//!              tag 3: a key whose value follows in pieces; value = total length u64
//!              tag 4: the next piece of that value (no key)
//!              tag 5: a collection key (version 2); value = type u8 (1 hash, 2 set)
//!              tag 6: members of that collection (no key); value = count u32, then per
//!                     member: length u32 | bytes [| value length u32 | value bytes: hashes]
//!              tag 7: the end of that collection (no key); value = members in its tag 6s, u64
//! end          an entry with tag 2, no key, a 12-byte value: key count u64
//!              | crc32c u32 of every byte of the file before the end entry
//! ```
//! All integers little-endian. A dump streams: the reader holds one entry (or one piece of
//! a large value, or one run of members of a collection) at a time. Version 1 dumps (no
//! collections) are still read.

use std::io::{self, Read, Write};

use crowndb::CollectionType;

pub const MAGIC: &[u8; 8] = b"CROWNDMP";
/// The version this build writes.
pub const VERSION: u32 = 2;
/// The oldest version it reads (version 1: no collection entries).
pub const OLDEST_VERSION: u32 = 1;
pub const FILE_HEADER_LEN: usize = 16;
pub const ENTRY_HEADER_LEN: usize = 28;
const TAG_ENTRY: u8 = 1;
const TAG_END: u8 = 2;
const TAG_STREAM: u8 = 3;
const TAG_PIECE: u8 = 4;
const TAG_COLLECTION: u8 = 5;
const TAG_MEMBERS: u8 = 6;
const TAG_COLLECTION_END: u8 = 7;
/// Highest tag of each version.
const fn last_tag(version: u32) -> u8 {
    if version >= 2 {
        TAG_COLLECTION_END
    } else {
        TAG_PIECE
    }
}
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

/// The type byte of a collection entry.
fn kind_byte(kind: CollectionType) -> u8 {
    match kind {
        CollectionType::Hash => 1,
        CollectionType::Set => 2,
    }
}

fn kind_of_byte(b: u8) -> Option<CollectionType> {
    match b {
        1 => Some(CollectionType::Hash),
        2 => Some(CollectionType::Set),
        _ => None,
    }
}

/// Bytes one member takes in a members entry.
fn member_len(kind: CollectionType, member: &[u8], value: &[u8]) -> usize {
    4 + member.len() + if kind.has_values() { 4 + value.len() } else { 0 }
}

/// The members of one members entry, from its value; `None` unless the value is exactly a
/// count (at least 1) and that many members.
fn decode_members(kind: CollectionType, bytes: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut at = 4;
    let count = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    let mut take = || -> Option<Vec<u8>> {
        let len = u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
        let out = bytes.get(at + 4..(at + 4).checked_add(len)?)?.to_vec();
        at += 4 + len;
        Some(out)
    };
    // Each member takes at least 4 bytes: a damaged count must not allocate much.
    let mut out = Vec::with_capacity((count as usize).min(bytes.len() / 4));
    for _ in 0..count {
        let member = take()?;
        let value = if kind.has_values() { take()? } else { Vec::new() };
        out.push((member, value));
    }
    (count > 0 && at == bytes.len()).then_some(out)
}

/// Writes a dump: the file header at creation, then entries, then `finish`.
pub struct DumpWriter<W: Write> {
    out: W,
    /// CRC-32C of every byte written so far.
    stream_crc: u32,
    entries: u64,
    bytes: u64,
    /// The collection being written: its type, members written so far, and the members
    /// entry being filled (count, encoded members).
    collection: Option<(CollectionType, u64, u32, Vec<u8>)>,
}

impl<W: Write> DumpWriter<W> {
    pub fn new(out: W) -> io::Result<DumpWriter<W>> {
        DumpWriter::with_version(out, VERSION)
    }

    /// A writer of an older version (tests of compatibility: version 1 has no collections).
    fn with_version(out: W, version: u32) -> io::Result<DumpWriter<W>> {
        let mut w = DumpWriter { out, stream_crc: 0, entries: 0, bytes: 0, collection: None };
        let mut header = [0u8; FILE_HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&version.to_le_bytes());
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
        self.not_in_collection()?;
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

    fn not_in_collection(&self) -> io::Result<()> {
        match self.collection {
            Some(_) => Err(io::Error::new(io::ErrorKind::InvalidInput, "a dump entry inside a collection (end it first)")),
            None => Ok(()),
        }
    }

    /// Starts a collection entry: its members follow with [`DumpWriter::write_member`], and
    /// [`DumpWriter::end_collection`] ends it.
    pub fn begin_collection(&mut self, key: &[u8], kind: CollectionType, expires_at_ms: Option<u64>) -> io::Result<()> {
        self.not_in_collection()?;
        self.emit_entry(TAG_COLLECTION, key, &[kind_byte(kind)], 0, expires_at_ms.unwrap_or(0))?;
        self.entries += 1;
        self.collection = Some((kind, 0, 0, Vec::new()));
        Ok(())
    }

    /// Adds a member (with its value, for hashes; ignored for sets) to the collection begun
    /// last. Members are written in entries of about [`PIECE_LEN`] bytes: the writer holds
    /// at most one entry's worth.
    pub fn write_member(&mut self, member: &[u8], value: &[u8]) -> io::Result<()> {
        let Some((kind, _, count, run)) = &mut self.collection else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a member outside a collection"));
        };
        let (kind, size) = (*kind, member_len(*kind, member, value));
        if size > MAX_VALUE_LEN as usize - 4 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "collection member too large for a dump entry"));
        }
        if *count > 0 && run.len() + size > PIECE_LEN {
            self.flush_members()?;
        }
        let Some((_, _, count, run)) = &mut self.collection else { unreachable!("checked above") };
        if run.is_empty() {
            run.extend_from_slice(&[0u8; 4]);
        }
        run.extend_from_slice(&(member.len() as u32).to_le_bytes());
        run.extend_from_slice(member);
        if kind.has_values() {
            run.extend_from_slice(&(value.len() as u32).to_le_bytes());
            run.extend_from_slice(value);
        }
        *count += 1;
        Ok(())
    }

    /// Writes the members gathered so far as one members entry.
    fn flush_members(&mut self) -> io::Result<()> {
        let Some((_, written, count, run)) = &mut self.collection else { return Ok(()) };
        if *count == 0 {
            return Ok(());
        }
        run[..4].copy_from_slice(&count.to_le_bytes());
        *written += u64::from(*count);
        *count = 0;
        let run = std::mem::take(run);
        self.emit_entry(TAG_MEMBERS, &[], &run, 0, 0)
    }

    /// Ends the collection begun last; returns how many members it got.
    pub fn end_collection(&mut self) -> io::Result<u64> {
        if self.collection.is_none() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no collection to end"));
        }
        self.flush_members()?;
        let (_, written, _, _) = self.collection.take().expect("checked above");
        self.emit_entry(TAG_COLLECTION_END, &[], &written.to_le_bytes(), 0, 0)?;
        Ok(written)
    }

    /// Writes the end entry and flushes; returns the writer, the number of entries and of bytes.
    pub fn finish(mut self) -> io::Result<(W, u64, u64)> {
        self.not_in_collection()?;
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
    /// A collection key: its members follow as [`DumpItem::Members`], then
    /// [`DumpItem::CollectionEnd`].
    Collection { key: Vec<u8>, kind: CollectionType, expires_at_ms: Option<u64> },
    /// Members of the collection begun last (`(member, value)`; values empty for sets).
    Members(Vec<(Vec<u8>, Vec<u8>)>),
    /// The end of that collection, with the number of members it had.
    CollectionEnd { members: u64 },
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
    /// Inside a collection: its type and the members read so far.
    collection: Option<(CollectionType, u64)>,
    version: u32,
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
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(DumpError::Damaged {
                offset: 8,
                reason: format!("dump format version {version}; this build reads versions {OLDEST_VERSION} to {VERSION}"),
            });
        }
        Ok(DumpReader {
            input,
            offset: FILE_HEADER_LEN as u64,
            stream_crc: crc32c::crc32c(&header),
            entries: 0,
            pending: 0,
            collection: None,
            version,
            done: false,
        })
    }

    /// The format version of the dump.
    pub fn version(&self) -> u32 {
        self.version
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
            Some(item) => panic!("next_entry reads dumps of strings only, not {item:?}"),
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
        if !(TAG_ENTRY..=last_tag(self.version)).contains(&tag) {
            return Err(damaged(format!("unknown entry tag {tag} (in a version {} dump)", self.version)));
        }
        let in_collection = self.collection.is_some();
        if in_collection != matches!(tag, TAG_MEMBERS | TAG_COLLECTION_END) {
            let why = if in_collection {
                format!("an entry with tag {tag} inside a collection (its end entry is missing)")
            } else {
                "members or the end of no collection".into()
            };
            return Err(damaged(why));
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
        if tag == TAG_MEMBERS || tag == TAG_COLLECTION_END {
            let (kind, seen) = self.collection.as_mut().expect("checked above");
            if !key.is_empty() || flags != 0 || expiry != 0 {
                return Err(damaged("a members or collection end entry with a key, flags or a deadline".into()));
            }
            if tag == TAG_MEMBERS {
                let members = decode_members(*kind, &value).ok_or_else(|| {
                    damaged(format!("a members entry of {} bytes that is not a count and that many members", value.len()))
                })?;
                *seen += members.len() as u64;
                return Ok(Some(DumpItem::Members(members)));
            }
            let count = value
                .as_slice()
                .try_into()
                .map(u64::from_le_bytes)
                .map_err(|_| damaged("collection end entry of the wrong size".into()))?;
            if count != *seen {
                return Err(damaged(format!("the collection end entry counts {count} members, {seen} were read")));
            }
            self.collection = None;
            return Ok(Some(DumpItem::CollectionEnd { members: count }));
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
        if tag == TAG_COLLECTION {
            let kind = match value.as_slice() {
                [b] => kind_of_byte(*b).ok_or_else(|| damaged(format!("unknown collection type {b}")))?,
                _ => return Err(damaged(format!("collection entry with a {}-byte value, not 1", value.len()))),
            };
            if flags != 0 {
                return Err(damaged(format!("collection entry with flags {flags}")));
            }
            self.collection = Some((kind, 0));
            return Ok(Some(DumpItem::Collection { key, kind, expires_at_ms }));
        }
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

#[cfg(test)]
mod collection_tests {
    use super::*;

    /// A dump of a string, a hash of `fields` fields (values of `value_len` bytes) with a
    /// deadline, and a small set.
    fn encode(fields: usize, value_len: usize) -> (Vec<u8>, Vec<DumpItem>) {
        let mut w = DumpWriter::new(Vec::new()).unwrap();
        let string = DumpEntry { key: b"s".to_vec(), value: b"v".to_vec(), flags: 1, expires_at_ms: None };
        w.write(&string).unwrap();
        w.begin_collection(b"h", CollectionType::Hash, Some(77)).unwrap();
        let mut hash = Vec::new();
        for i in 0..fields {
            let (m, v) = (format!("field{i}").into_bytes(), vec![i as u8; value_len]);
            w.write_member(&m, &v).unwrap();
            hash.push((m, v));
        }
        assert_eq!(w.end_collection().unwrap(), fields as u64);
        w.begin_collection(b"set", CollectionType::Set, None).unwrap();
        w.write_member(b"a", b"ignored").unwrap();
        w.write_member(b"", b"").unwrap();
        w.end_collection().unwrap();
        let bytes = w.finish().unwrap().0;
        let mut items =
            vec![DumpItem::Entry(string), DumpItem::Collection { key: b"h".to_vec(), kind: CollectionType::Hash, expires_at_ms: Some(77) }];
        // What a reader sees: the hash's members in runs of at most PIECE_LEN bytes.
        let mut run: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut run_len = 4;
        for (m, v) in hash {
            let size = member_len(CollectionType::Hash, &m, &v);
            if !run.is_empty() && run_len - 4 + size > PIECE_LEN {
                items.push(DumpItem::Members(std::mem::take(&mut run)));
                run_len = 4;
            }
            run_len += size;
            run.push((m, v));
        }
        if !run.is_empty() {
            items.push(DumpItem::Members(run));
        }
        items.push(DumpItem::CollectionEnd { members: fields as u64 });
        items.push(DumpItem::Collection { key: b"set".to_vec(), kind: CollectionType::Set, expires_at_ms: None });
        items.push(DumpItem::Members(vec![(b"a".to_vec(), vec![]), (vec![], vec![])]));
        items.push(DumpItem::CollectionEnd { members: 2 });
        (bytes, items)
    }

    fn decode(bytes: &[u8]) -> Result<Vec<DumpItem>, DumpError> {
        let mut r = DumpReader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(item) = r.next_item()? {
            out.push(item);
        }
        Ok(out)
    }

    #[test]
    fn collections_round_trip_in_bounded_runs() {
        let (bytes, items) = encode(3, 5);
        assert_eq!(decode(&bytes).unwrap(), items);
        // 3000 fields of 1 KiB: about 3 MiB of members, in runs of at most 1 MiB.
        let (bytes, items) = encode(3000, 1024);
        let read = decode(&bytes).unwrap();
        assert_eq!(read, items);
        let runs = read.iter().filter(|i| matches!(i, DumpItem::Members(_))).count();
        assert!(runs >= 4, "{runs} runs");
        let mut r = DumpReader::new(&bytes[..]).unwrap();
        while r.next_item().unwrap().is_some() {}
        assert_eq!(r.version(), VERSION);
    }

    #[test]
    fn every_flipped_byte_and_every_cut_of_a_collection_is_detected() {
        let (bytes, _) = encode(4, 3);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x41;
            assert!(decode(&bad).is_err(), "flip at {i} went unnoticed");
            assert!(decode(&bytes[..i]).is_err(), "cut at {i} went unnoticed");
        }
    }

    #[test]
    fn a_dropped_members_entry_is_detected() {
        let (bytes, _) = encode(3000, 1024);
        // Find the second members entry (tag 6) by walking the entries, and cut it out.
        let mut at = FILE_HEADER_LEN;
        let mut members_seen = 0;
        loop {
            let len = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as usize;
            let entry_len = ENTRY_HEADER_LEN + len(at + 8) + len(at + 12);
            if bytes[at + 4] == TAG_MEMBERS {
                members_seen += 1;
                if members_seen == 2 {
                    let mut cut = bytes[..at].to_vec();
                    cut.extend_from_slice(&bytes[at + entry_len..]);
                    let err = decode(&cut).unwrap_err().to_string();
                    assert!(err.contains("members"), "{err}");
                    return;
                }
            }
            at += entry_len;
        }
    }

    #[test]
    fn version_1_dumps_still_load_and_cannot_hold_collections() {
        let mut w = DumpWriter::with_version(Vec::new(), 1).unwrap();
        let e = DumpEntry { key: b"k".to_vec(), value: b"v".to_vec(), flags: 0, expires_at_ms: Some(5) };
        w.write(&e).unwrap();
        let old = w.finish().unwrap().0;
        assert_eq!(old[8], 1);
        assert_eq!(decode(&old).unwrap(), vec![DumpItem::Entry(e.clone())]);

        let mut w = DumpWriter::with_version(Vec::new(), 1).unwrap();
        w.begin_collection(b"h", CollectionType::Set, None).unwrap();
        w.write_member(b"m", b"").unwrap();
        w.end_collection().unwrap();
        let err = decode(&w.finish().unwrap().0).unwrap_err().to_string();
        assert!(err.contains("unknown entry tag 5"), "{err}");

        let mut future = old.clone();
        future[8] = 3;
        assert!(decode(&future).unwrap_err().to_string().contains("version 3"));
    }

    #[test]
    fn the_writer_refuses_a_misnested_collection() {
        let mut w = DumpWriter::new(Vec::new()).unwrap();
        assert!(w.write_member(b"m", b"").is_err());
        assert!(w.end_collection().is_err());
        w.begin_collection(b"h", CollectionType::Hash, None).unwrap();
        assert!(w.write(&DumpEntry { key: b"k".to_vec(), value: vec![], flags: 0, expires_at_ms: None }).is_err());
        assert!(w.finish().is_err());
    }
}
