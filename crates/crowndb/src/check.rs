//! Checking segment files directly, without opening the store: every record's checksum
//! and value, the segment header, the footer, and whether the footer lists exactly the
//! records that are there. Used by `crowndb check` (which reports) and by [`crate::repair`]
//! (which rewrites a damaged segment from the records that verify). It reads the format
//! through the engine's own codecs (segment header, footer validator, batch envelope
//! split, key hash, value codecs), as LevelDB's repair reuses its log reader.
//!
//! REQUIRES: the caller holds the directory lock, so no process appends to, seals,
//! truncates or deletes a segment while it is mapped here.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::codec;
use crate::collection::head::parse_page_key;
use crate::collection::page;
use crate::envelope;
use crate::footer::{self, FooterEntry, Trailer, TRAILER_LEN};
use crate::hash::key_hash;
use crate::record::{self, RecordKind, HEADER_LEN};
use crate::segment::header::{self, HeaderProblem};
use crate::segment::{name, SEGMENT_HEADER_LEN};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Data that fails its checksum or a structure that is impossible: exit code 4.
    Damage,
    /// What a crash leaves and the next open fixes by itself (a torn tail of an unsealed
    /// segment, a segment not yet sealed). Reported, exit code 0.
    Warning,
}

impl Severity {
    /// How `check` and `repair` print it.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Damage => "DAMAGE",
            Severity::Warning => "WARNING",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    pub offset: u64,
    pub reason: String,
}

/// The footer at the end of a segment file.
#[derive(Debug, Clone)]
pub enum FooterState {
    Valid {
        entries: Vec<FooterEntry>,
    },
    /// No footer magic at the end (never sealed).
    Absent,
    /// A footer is there and does not verify; the records end at `data_end`.
    Damaged,
}

/// A byte range `[start, end)` that is not a record (or not one that verifies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadRange {
    pub start: u64,
    pub end: u64,
}

/// Everything learned from one segment file.
#[derive(Debug)]
pub struct SegmentScan {
    pub path: PathBuf,
    pub generation: u64,
    pub file_len: u64,
    pub findings: Vec<Finding>,
    /// The 32-byte header is as docs/format.md says.
    pub header_ok: bool,
    /// The header names a format version this build does not know: leave the file alone.
    pub unknown_version: bool,
    pub footer: FooterState,
    /// End of the region holding records (the footer's start, or the file's end).
    pub data_end: u64,
    /// Top-level records (puts, deletes, whole batch envelopes) that verify: (offset, length).
    pub good: Vec<(u64, u64)>,
    pub bad: Vec<BadRange>,
    /// Put/delete records that verify, inner records of batches included, as a footer
    /// would list them (offsets in this file), sorted by (hash, offset).
    pub entries: Vec<FooterEntry>,
    /// Lowest sequence number of a put (`u64::MAX` if none), as the footer trailer holds it.
    pub min_put_seq: u64,
    pub max_seq: u64,
}

impl SegmentScan {
    /// Whether `repair` should rewrite this file: anything but a clean sealed segment or a
    /// clean, unsealed newest segment.
    pub fn needs_repair(&self, newest: bool) -> bool {
        if self.unknown_version {
            return false;
        }
        !self.findings.is_empty() || (!newest && !matches!(self.footer, FooterState::Valid { .. }))
    }

    fn note(&mut self, severity: Severity, offset: u64, reason: impl Into<String>) {
        self.findings.push(Finding { severity, offset, reason: reason.into() });
    }
}

/// Segment files of `dir`, oldest first: (generation, path).
pub fn list_segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    Ok(name::list(dir)?.segments)
}

/// A read-only mapping of a file (empty files are not mapped).
pub struct Mapped {
    map: Option<memmap2::Mmap>,
}

impl Mapped {
    pub fn open(path: &Path) -> std::io::Result<Mapped> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(Mapped { map: None });
        }
        // SAFETY: a mapping is undefined behaviour only if the file changes (or shrinks)
        // while mapped; the caller holds the directory lock (module REQUIRES), so no
        // CrownDB process writes, cuts or deletes it meanwhile.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Mapped { map: Some(map) })
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// Scans one segment file. `newest`: it has the highest generation (the one a store keeps
/// appending to, so it may lack a footer without a crash).
/// `progress` is called with bytes scanned so far.
pub fn scan_segment(path: &Path, generation: u64, data: &[u8], newest: bool, mut progress: impl FnMut(u64)) -> SegmentScan {
    let file_len = data.len() as u64;
    let mut scan = SegmentScan {
        path: path.to_path_buf(),
        generation,
        file_len,
        findings: Vec::new(),
        header_ok: true,
        unknown_version: false,
        footer: FooterState::Absent,
        data_end: file_len,
        good: Vec::new(),
        bad: Vec::new(),
        entries: Vec::new(),
        min_put_seq: u64::MAX,
        max_seq: 0,
    };
    if file_len < SEGMENT_HEADER_LEN {
        scan.header_ok = false;
        scan.note(Severity::Damage, 0, format!("file is {file_len} bytes, shorter than a segment header"));
        if file_len > 0 {
            scan.bad.push(BadRange { start: 0, end: file_len });
        }
        return scan;
    }
    check_header(&mut scan, &data[..SEGMENT_HEADER_LEN as usize]);
    if scan.unknown_version {
        return scan;
    }
    read_footer(&mut scan, data);
    walk_records(&mut scan, data, &mut progress);
    if let FooterState::Valid { entries, .. } = &scan.footer {
        let listed = entries.clone();
        compare_footer(&mut scan, &listed);
    } else if !newest && matches!(scan.footer, FooterState::Absent) {
        scan.note(Severity::Warning, scan.data_end, "segment is not sealed (no footer: a crash left it so): the next open writes one");
    }
    scan
}

fn check_header(scan: &mut SegmentScan, h: &[u8]) {
    let (offset, why) = match header::check(h, scan.generation) {
        Ok(()) => return,
        Err(HeaderProblem::UnknownVersion(version)) => {
            scan.unknown_version = true;
            scan.note(Severity::Damage, 8, format!("segment format version {version} is unknown to this build; not read"));
            return;
        }
        Err(HeaderProblem::Short(len)) => (0, format!("file is {len} bytes, shorter than a segment header")),
        Err(HeaderProblem::BadMagic) => (0, "segment header damaged: magic is not CROWNSEG".to_string()),
        Err(HeaderProblem::Checksum { version }) if version != header::FORMAT_VERSION => {
            (8, format!("segment header damaged: version {version}, checksum mismatch"))
        }
        Err(HeaderProblem::Checksum { .. }) => (28, "segment header damaged: checksum mismatch".to_string()),
        Err(HeaderProblem::Generation { stored }) => {
            (16, format!("segment header names generation {stored}, the file name {}", scan.generation))
        }
    };
    scan.header_ok = false;
    scan.note(Severity::Damage, offset, why);
}

fn read_footer(scan: &mut SegmentScan, data: &[u8]) {
    let file_len = data.len() as u64;
    if file_len < SEGMENT_HEADER_LEN + TRAILER_LEN as u64 {
        return;
    }
    let trailer_at = file_len - TRAILER_LEN as u64;
    let Some(trailer) = Trailer::decode(&data[trailer_at as usize..]) else { return };
    let verified = footer::entries_range(&trailer, trailer_at).and_then(|range| {
        let bytes = &data[range.start as usize..range.end as usize];
        footer::verify_entries(&trailer, bytes).map(|()| footer::decode_entries(bytes))
    });
    match verified {
        Ok(entries) => {
            scan.data_end = trailer.entries_offset;
            scan.footer = FooterState::Valid { entries };
        }
        Err(damage) => {
            scan.note(Severity::Damage, damage.offset, format!("footer damaged: {}", damage.reason));
            scan.footer = FooterState::Damaged;
            // The records end where the footer says, if that is believable; else the walk
            // below stops at the first record that does not verify.
            scan.data_end =
                if (SEGMENT_HEADER_LEN..=trailer_at).contains(&trailer.entries_offset) { trailer.entries_offset } else { trailer_at };
        }
    }
}

/// Whether a verified record's value is what its kind and codec say: [`codec::validate`],
/// and for a collection page (kind 5) a 16-byte page key and a value that decodes as a
/// page (a count and that many members, with values or without: the page's own record
/// does not say whether its collection is a hash or a set).
fn validate(rec: &record::RecordRef<'_>) -> Result<(), String> {
    codec::validate(rec.header.kind, rec.header.codec, rec.value)?;
    if rec.header.kind != RecordKind::Page {
        return Ok(());
    }
    let Some((epoch, bucket)) = parse_page_key(rec.key) else {
        return Err(format!("collection page with a {}-byte key (page keys are 16 bytes)", rec.key.len()));
    };
    let bytes = rec.decoded_value()?;
    if page::decode(&bytes, true).is_none() && page::decode(&bytes, false).is_none() {
        return Err(format!("collection page (epoch {epoch}, bucket {bucket}) does not decode: not a count and that many members"));
    }
    Ok(())
}

/// The records of a batch envelope's payload, each verified, value included:
/// (offset in payload, entry with that offset, sequence number).
fn split_batch(payload: &[u8]) -> Option<Vec<(usize, FooterEntry, u64)>> {
    let records = envelope::split(payload)?;
    let mut out = Vec::with_capacity(records.len());
    for (off, rec) in records {
        validate(&rec).ok()?;
        let entry = FooterEntry::of(off as u64, &rec);
        out.push((off, entry, rec.header.seq));
    }
    Some(out)
}

/// The put/delete entries of a verified top-level record at `off`, or why it is not one.
fn record_entries(data: &[u8], off: u64) -> Result<(u64, Vec<(FooterEntry, u64)>), String> {
    let rec = record::decode(data).map_err(|e| e.to_string())?;
    let len = rec.header.record_len();
    if rec.header.kind == RecordKind::Batch {
        let start = off + HEADER_LEN as u64 + rec.key.len() as u64;
        let inner = split_batch(rec.value).ok_or("batch envelope holds an invalid record or value")?;
        let list = inner.into_iter().map(|(o, mut e, seq)| {
            e.offset = start + o as u64;
            (e, seq)
        });
        return Ok((len, list.collect()));
    }
    validate(&rec)?;
    let entry = FooterEntry { len: len as u32, ..FooterEntry::of(off, &rec) };
    Ok((len, vec![(entry, rec.header.seq)]))
}

fn walk_records(scan: &mut SegmentScan, data: &[u8], progress: &mut impl FnMut(u64)) {
    let end = scan.data_end as usize;
    // Footer entries by offset: where records start, the hash of each one's key, its kind.
    let listed: Option<std::collections::HashMap<u64, (u64, RecordKind)>> = match &scan.footer {
        FooterState::Valid { entries, .. } => Some(entries.iter().map(|e| (e.offset, (e.hash, e.kind))).collect()),
        _ => None,
    };
    // After a bad record, the next offset where a record that verifies starts. With a
    // valid footer, only where the footer says a record (or the envelope of one) is, so a
    // record-shaped value is never mistaken for a record.
    let resync = |from: usize| -> Option<usize> {
        (from..end.saturating_sub(HEADER_LEN - 1)).find(|&p| {
            if RecordKind::from_byte(data[p + 4]).is_none() {
                return false;
            }
            match record_entries(&data[p..end], p as u64) {
                Ok((_, list)) => match &listed {
                    Some(map) => list.first().is_some_and(|(e, _)| map.contains_key(&e.offset)),
                    None => true,
                },
                Err(_) => false,
            }
        })
    };
    let unsealed = matches!(scan.footer, FooterState::Absent);
    let mut off = SEGMENT_HEADER_LEN as usize;
    let mut last_progress = 0;
    while off < end {
        if off - last_progress >= 1 << 20 {
            progress(off as u64);
            last_progress = off;
        }
        match record_entries(&data[off..end], off as u64) {
            Ok((len, list)) => {
                for (e, seq) in list {
                    if e.kind == RecordKind::Put {
                        scan.min_put_seq = scan.min_put_seq.min(seq);
                    }
                    scan.max_seq = scan.max_seq.max(seq);
                    scan.entries.push(e);
                }
                scan.good.push((off as u64, len));
                off += len as usize;
            }
            Err(why) if unsealed => {
                // A segment without a footer is what a crash left (closing seals every
                // segment): its records end at the first one that does not verify, as the
                // engine's open decides. What follows was being written when the process
                // died; records in it that verify (the inner records of a batch whose
                // envelope header was not written yet, say) were never committed, and
                // must not be brought back.
                let Some(last) = data[off..end].iter().rposition(|&b| b != 0).map(|i| off + i + 1) else {
                    break; // the preallocated, never written end of the segment
                };
                scan.bad.push(BadRange { start: off as u64, end: last as u64 });
                if last == end {
                    // A crash leaves the unwritten, preallocated (zero) end of the file after
                    // a torn write; bytes running to the very end mean the file was cut.
                    scan.note(
                        Severity::Damage,
                        off as u64,
                        format!(
                            "bad record: {why}; the file ends {} bytes later, inside the records (truncated?); the records after the cut are lost",
                            last - off
                        ),
                    );
                } else {
                    scan.note(
                        Severity::Warning,
                        off as u64,
                        format!(
                            "torn tail: {} bytes after the last valid record ({why}); a crash cut a write short; the next open moves them to quarantine/",
                            last - off
                        ),
                    );
                }
                break;
            }
            Err(why) => {
                // A sealed segment: every record in it was complete when it was sealed, so
                // what verifies after the damage is kept.
                let next = resync(off + 1);
                let stop = next.unwrap_or(end);
                let what = if next.is_some() { "up to the next valid record" } else { "up to the end of the data" };
                scan.bad.push(BadRange { start: off as u64, end: stop as u64 });
                let key = match listed.as_ref().and_then(|map| map.get(&(off as u64))) {
                    Some(&(hash, RecordKind::Page)) => match intact_key(&data[off..end], hash).and_then(parse_page_key) {
                        Some((epoch, bucket)) => format!(
                            "; collection page (epoch {epoch}, bucket {bucket}; its key is intact: it matches the footer's hash): \
                             the members in that bucket of the hash or set whose head names the epoch are lost \
                             (after repair, an older version of the page reads in its place if one survives)"
                        ),
                        None => "; a collection page (the footer says so)".to_string(),
                    },
                    Some(&(hash, _)) => intact_key(&data[off..end], hash)
                        .map(|k| format!("; key {} (its key is intact: it matches the footer's hash)", escape_key(k)))
                        .unwrap_or_default(),
                    None => String::new(),
                };
                let key = if data.get(off + 4) == Some(&(RecordKind::Batch as u8)) && next == Some(off + HEADER_LEN) {
                    format!("{key}; the header of a batch envelope, whose records follow and are checked one by one")
                } else {
                    key
                };
                scan.note(Severity::Damage, off as u64, format!("bad record: {why}; {} bytes {what}{key}", stop - off));
                match next {
                    Some(n) => off = n,
                    None => break,
                }
            }
        }
    }
    scan.entries.sort_unstable_by_key(|e| (e.hash, e.offset));
    progress(scan.file_len);
}

/// The key of a damaged record, if its bytes still hash to what the footer says.
fn intact_key(record: &[u8], hash: u64) -> Option<&[u8]> {
    let key_len = u16::from_le_bytes(record.get(6..8)?.try_into().ok()?) as usize;
    let key = record.get(HEADER_LEN..HEADER_LEN + key_len)?;
    (key_hash(key) == hash).then_some(key)
}

fn compare_footer(scan: &mut SegmentScan, listed: &[FooterEntry]) {
    let mut by_offset: std::collections::HashMap<u64, FooterEntry> = scan.entries.iter().map(|e| (e.offset, *e)).collect();
    let mut problems = Vec::new();
    for e in listed {
        match by_offset.remove(&e.offset) {
            Some(found) if found == *e => {}
            Some(found) => problems.push((e.offset, format!("footer entry disagrees with the record ({e:?} vs {found:?})"))),
            None if scan.bad.iter().any(|b| (b.start..b.end).contains(&e.offset)) => {} // reported as a bad record
            None => problems.push((e.offset, "footer lists a record that is not there".to_string())),
        }
    }
    for e in by_offset.values() {
        problems.push((e.offset, "record is missing from the footer".to_string()));
    }
    problems.sort();
    for (offset, why) in problems {
        scan.note(Severity::Damage, offset, why);
    }
}

/// A key as `check` and `repair` print it: printable ASCII as is, `\\` for a backslash,
/// `\xNN` for any other byte.
pub fn escape_key(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as docs/format.md lays it out, with a valid checksum.
    fn record(kind: u8, codec: u8, seq: u64, key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; HEADER_LEN];
        r[4] = kind;
        r[5] = codec;
        r[6..8].copy_from_slice(&(key.len() as u16).to_le_bytes());
        r[8..12].copy_from_slice(&(value.len() as u32).to_le_bytes());
        r[16..24].copy_from_slice(&seq.to_le_bytes());
        r.extend_from_slice(key);
        r.extend_from_slice(value);
        let crc = crc32c::crc32c(&r[4..]);
        r[..4].copy_from_slice(&crc.to_le_bytes());
        r
    }

    #[test]
    fn a_value_that_does_not_decode_is_damage_even_with_a_valid_checksum() {
        let mut seg = header::encode(1).to_vec();
        seg.extend(record(1, 0, 1, b"plain", b"value"));
        let bad_at = seg.len() as u64;
        seg.extend(record(1, 1, 2, b"lz4", b"\x40\x00\x00\x00garbage that is not an lz4 block"));
        seg.extend(record(1, 1, 3, b"good-lz4", &lz4_flex::block::compress_prepend_size(&[7u8; 200])));
        seg.extend(record(1, 7, 4, b"codec", b"x"));
        seg.extend(record(2, 0, 5, b"gone", b""));

        // Without a footer (what a crash leaves: the preallocated end is zeros), the records
        // end at the first bad one.
        let mut crashed = seg.clone();
        crashed.extend_from_slice(&[0u8; 4096]);
        let scan = scan_segment(Path::new("000000000001.seg"), 1, &crashed, true, |_| {});
        assert_eq!(scan.findings.len(), 1, "{:?}", scan.findings);
        assert_eq!((scan.findings[0].severity, scan.findings[0].offset), (Severity::Warning, bad_at));
        assert!(scan.findings[0].reason.contains("LZ4 value does not decompress"), "{:?}", scan.findings);
        assert_eq!(scan.entries.len(), 1);
        // The same bytes running to the end of the file: it was cut, not torn by a crash.
        let scan = scan_segment(Path::new("000000000001.seg"), 1, &seg, true, |_| {});
        assert_eq!((scan.findings.len(), scan.findings[0].severity), (1, Severity::Damage), "{:?}", scan.findings);
        assert!(scan.findings[0].reason.contains("truncated"), "{:?}", scan.findings);

        // Sealed (here with a footer whose checksum is wrong): what verifies after is kept.
        let records_end = seg.len() as u64;
        seg.extend_from_slice(b"CROWNFTR");
        for field in [records_end, 0, 5, 1] {
            seg.extend_from_slice(&u64::to_le_bytes(field));
        }
        seg.extend_from_slice(&[0u8; 8]);
        let scan = scan_segment(Path::new("000000000001.seg"), 1, &seg, false, |_| {});
        let damage: Vec<_> =
            scan.findings.iter().filter(|f| f.severity == Severity::Damage).map(|f| (f.offset, f.reason.clone())).collect();
        assert_eq!(damage.len(), 3, "{damage:?}");
        assert!(damage[0].1.contains("footer damaged"), "{damage:?}");
        assert_eq!(damage[1].0, bad_at);
        assert!(damage[1].1.contains("LZ4 value does not decompress"), "{damage:?}");
        assert!(damage[2].1.contains("unknown value codec 7"), "{damage:?}");
        assert_eq!(scan.entries.len(), 3, "plain, good-lz4 and the tombstone verify");
        assert_eq!(scan.min_put_seq, 1);
        assert_eq!(scan.max_seq, 5);
    }
}
