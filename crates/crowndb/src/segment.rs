//! A segment: one numbered, append-only log file, memory-mapped for reading.
//!
//! Layout (docs/format.md): a 32-byte header, records back to back, and once sealed a
//! footer. The active segment is preallocated to its full size, mapped shared and written
//! by `memcpy` into the mapping (no system call per write); readers see a record once the
//! writer publishes the new length with a release store.
//!
//! Thread-safety: any number of readers; exactly one writer (the holder of the store's
//! writer lock) calls `reserve`/`publish`, and only past the published length.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{Error, Result};
use crate::footer::{self, FooterEntry, Trailer};
use crate::hash::key_hash;
use crate::record::{self, RecordError, RecordHeader, RecordKind, RecordRef, HEADER_LEN};

/// Bytes of the segment header.
pub const SEGMENT_HEADER_LEN: u64 = 32;
/// First bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"CROWNSEG";
/// On-disk format version written in every segment header.
pub const FORMAT_VERSION: u32 = 1;

/// File name of the segment with this generation number.
pub fn file_name(generation: u64) -> String {
    format!("{generation:012}.seg")
}

/// Generation number of a segment file name, if it is one.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn encode_header(generation: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[0..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&generation.to_le_bytes());
    let crc = crc32c::crc32c(&h[..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

fn check_header(path: &Path, h: &[u8], generation: u64) -> Result<()> {
    let bad = |why: String| Err(Error::corruption(path, 0, why));
    if h.len() < SEGMENT_HEADER_LEN as usize || &h[0..8] != SEGMENT_MAGIC {
        return bad("not a CrownDB segment (bad magic)".into());
    }
    let crc = u32::from_le_bytes(h[28..32].try_into().unwrap());
    if crc != crc32c::crc32c(&h[..28]) {
        return bad("segment header checksum mismatch".into());
    }
    let version = u32::from_le_bytes(h[8..12].try_into().unwrap());
    if version != FORMAT_VERSION {
        return bad(format!("segment format version {version}; this build reads version {FORMAT_VERSION}"));
    }
    let stored = u64::from_le_bytes(h[16..24].try_into().unwrap());
    if stored != generation {
        return bad(format!("header says generation {stored} but the file name says {generation}"));
    }
    Ok(())
}

/// Reserves `len` bytes of real disk space so a full disk shows up here, as an error,
/// rather than as a fault when a mapped page is first written.
fn preallocate(path: &Path, file: &File, len: u64) -> Result<()> {
    // SAFETY: plain system call on an open descriptor.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
    match rc {
        0 => Ok(()),
        libc::EOPNOTSUPP | libc::EINVAL => file.set_len(len).map_err(|e| Error::io(path, e)),
        code => Err(Error::io(path, std::io::Error::from_raw_os_error(code))),
    }
}

/// Makes a directory entry change (a new or removed file) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}

/// Where and why a scan of records stopped.
#[derive(Debug, Clone)]
pub struct ScanEnd {
    /// Offset just past the last valid record.
    pub end: u64,
    /// Why the scan stopped before `to`, if it did.
    pub stop: Option<RecordError>,
    /// Highest sequence number seen.
    pub max_seq: u64,
    /// Lowest sequence number of a put seen (`u64::MAX` if none).
    pub min_put_seq: u64,
}

/// One open segment file.
#[derive(Debug)]
pub struct Segment {
    pub generation: u64,
    /// Position in the store's segment table; part of every index address.
    pub slot: u32,
    pub path: PathBuf,
    /// Open while the segment can still be written; sealed segments need no descriptor
    /// (the mapping stays valid), so a store of many segments does not run out of them.
    file: parking_lot::Mutex<Option<File>>,
    map: MmapRaw,
    map_len: u64,
    /// End of the published records: readers may read below it.
    len: AtomicU64,
    /// Bytes known to be on disk.
    synced_len: AtomicU64,
    /// Bytes of records that are the current version of their key.
    live_bytes: AtomicU64,
    /// Lowest sequence number of any put in the segment (`u64::MAX` if none): a
    /// tombstone older than every other segment's puts hides nothing and can be dropped.
    min_put_seq: AtomicU64,
    /// What the segment is for (see [`Role`]), as a `u8`.
    role: AtomicU8,
    sealed: AtomicBool,
}

/// What a segment is for, which decides whether iterators read it and compaction picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Holds records that may be current: written by users, or a finished compaction output.
    Data = 0,
    /// Being filled by a running compaction with copies of records still in their source.
    CompactionOutput = 1,
    /// Compacted: every record it held is dead or copied elsewhere. Kept only while a
    /// snapshot may still read an old version from it, then deleted.
    Retired = 2,
    /// Dropped by cache-mode eviction: like `Retired`, but its records were dropped on
    /// purpose rather than copied, so nothing needs to stay hidden behind them.
    Evicted = 3,
}

impl Role {
    /// Retired or evicted: on its way out, kept only for snapshots.
    pub fn is_leaving(self) -> bool {
        matches!(self, Role::Retired | Role::Evicted)
    }
}

impl Segment {
    /// Creates a new, empty, preallocated segment ready for appending.
    /// The file is prepared under a temporary name (`NNN.seg.tmp`) and renamed once its
    /// header is on disk, so a crash never leaves a segment file without a valid header.
    pub fn create(dir: &Path, generation: u64, slot: u32, segment_size: u64) -> Result<Segment> {
        let path = dir.join(file_name(generation));
        let tmp = dir.join(format!("{}.tmp", file_name(generation)));
        let _ = std::fs::remove_file(&tmp);
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let made = (|| {
            preallocate(&tmp, &file, segment_size)?;
            file.write_all_at(&encode_header(generation), 0).map_err(|e| Error::io(&tmp, e))?;
            file.sync_all().map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
            sync_dir(dir)
        })();
        if let Err(e) = made {
            drop(file);
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let segment = Self::map_writable(path, file, generation, slot, SEGMENT_HEADER_LEN, segment_size)?;
        segment.synced_len.store(SEGMENT_HEADER_LEN, Ordering::Release);
        Ok(segment)
    }

    fn map_writable(path: PathBuf, file: File, generation: u64, slot: u32, len: u64, map_len: u64) -> Result<Segment> {
        let map = MmapOptions::new().len(map_len as usize).map_raw(&file).map_err(|e| Error::io(&path, e))?;
        Ok(Segment {
            generation,
            slot,
            path,
            file: parking_lot::Mutex::new(Some(file)),
            map,
            map_len,
            len: AtomicU64::new(len),
            synced_len: AtomicU64::new(0),
            live_bytes: AtomicU64::new(0),
            min_put_seq: AtomicU64::new(u64::MAX),
            role: AtomicU8::new(Role::Data as u8),
            sealed: AtomicBool::new(false),
        })
    }

    /// Opens an existing segment read-only, checking its header. Its published length is
    /// the whole file until recovery decides where the records end.
    pub fn open(path: PathBuf, generation: u64, slot: u32) -> Result<Segment> {
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
        if file_len < SEGMENT_HEADER_LEN {
            return Err(Error::corruption(&path, 0, format!("file is {file_len} bytes, shorter than a segment header")));
        }
        file.read_exact_at(&mut header, 0).map_err(|e| Error::io(&path, e))?;
        check_header(&path, &header, generation)?;
        let map = MmapOptions::new().len(file_len as usize).map_raw_read_only(&file).map_err(|e| Error::io(&path, e))?;
        Ok(Segment {
            generation,
            slot,
            path,
            file: parking_lot::Mutex::new(Some(file)),
            map,
            map_len: file_len,
            len: AtomicU64::new(file_len),
            synced_len: AtomicU64::new(file_len),
            live_bytes: AtomicU64::new(0),
            min_put_seq: AtomicU64::new(u64::MAX),
            role: AtomicU8::new(Role::Data as u8),
            sealed: AtomicBool::new(false),
        })
    }

    /// Reopens this (unsealed) segment for appending after `data_end`: everything after it
    /// is cut off and the file preallocated again, so no stale bytes follow new records.
    pub fn reopen_for_append(&self, data_end: u64, segment_size: u64) -> Result<Segment> {
        let (generation, slot, path) = (self.generation, self.slot, self.path.clone());
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(|e| Error::io(&path, e))?;
        file.set_len(data_end).map_err(|e| Error::io(&path, e))?;
        let size = segment_size.max(data_end);
        preallocate(&path, &file, size)?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        let seg = Self::map_writable(path, file, generation, slot, data_end, size)?;
        seg.synced_len.store(data_end, Ordering::Release);
        seg.live_bytes.store(self.live_bytes(), Ordering::Relaxed);
        seg.note_put_seq(self.min_put_seq());
        Ok(seg)
    }

    /// Bytes `[0, len)` of the published region.
    fn published(&self) -> &[u8] {
        let len = self.len.load(Ordering::Acquire).min(self.map_len);
        // SAFETY: the mapping is at least `map_len` long and lives as long as `self`;
        // bytes below the published length are never written again (append-only).
        unsafe { std::slice::from_raw_parts(self.map.as_ptr(), len as usize) }
    }

    /// The verified record at `offset`.
    pub fn record_at(&self, offset: u64) -> Result<RecordRef<'_>> {
        let data = self.published();
        if offset < SEGMENT_HEADER_LEN || offset >= data.len() as u64 {
            return Err(Error::corruption(&self.path, offset, "index points past the end of the segment's records"));
        }
        record::decode(&data[offset as usize..]).map_err(|e| Error::corruption(&self.path, offset, e.to_string()))
    }

    /// Decodes records in `[from, to)` (clamped to the published length), calling `visit`
    /// with the offset of each Put/Delete record (records inside a batch included).
    /// Stops at the first invalid record or invalid batch.
    pub fn scan(&self, from: u64, to: u64, mut visit: impl FnMut(u64, &RecordRef<'_>)) -> ScanEnd {
        let data = self.published();
        let to = (to as usize).min(data.len());
        let mut off = from as usize;
        let mut max_seq = 0;
        let mut min_put_seq = u64::MAX;
        while off < to {
            let rec = match record::decode(&data[off..to]) {
                Ok(rec) => rec,
                Err(e) => return ScanEnd { end: off as u64, stop: Some(e), max_seq, min_put_seq },
            };
            let rec_len = rec.header.record_len() as usize;
            if rec.header.kind == RecordKind::Batch {
                let inner_start = off + HEADER_LEN + rec.key.len();
                match split_batch(rec.value) {
                    Some(inner) => {
                        for (inner_off, r) in inner {
                            max_seq = max_seq.max(r.header.seq);
                            if r.header.kind == RecordKind::Put {
                                min_put_seq = min_put_seq.min(r.header.seq);
                            }
                            visit((inner_start + inner_off) as u64, &r);
                        }
                    }
                    None => {
                        let stop = Some(RecordError::BadKind(RecordKind::Batch as u8));
                        return ScanEnd { end: off as u64, stop, max_seq, min_put_seq };
                    }
                }
            } else {
                max_seq = max_seq.max(rec.header.seq);
                if rec.header.kind == RecordKind::Put {
                    min_put_seq = min_put_seq.min(rec.header.seq);
                }
                visit(off as u64, &rec);
            }
            off += rec_len;
        }
        ScanEnd { end: off as u64, stop: None, max_seq, min_put_seq }
    }

    /// Reads and verifies this segment's footer. `Ok(None)`: there is no footer (the segment
    /// was never sealed). `Err`: a footer is there but damaged.
    pub fn footer(&self) -> Result<Option<(Trailer, &[u8])>> {
        let data = self.published();
        let file_len = data.len() as u64;
        if file_len < SEGMENT_HEADER_LEN + footer::TRAILER_LEN as u64 {
            return Ok(None);
        }
        let trailer_at = (file_len - footer::TRAILER_LEN as u64) as usize;
        let Some(trailer) = Trailer::decode(&data[trailer_at..]) else { return Ok(None) };
        let bad = |why: &str| Error::corruption(&self.path, trailer_at as u64, format!("footer damaged: {why}"));
        let entries_len = trailer.entry_count.checked_mul(footer::ENTRY_LEN as u64).ok_or_else(|| bad("entry count overflows"))?;
        if trailer.entries_offset < SEGMENT_HEADER_LEN || trailer.entries_offset.checked_add(entries_len) != Some(trailer_at as u64) {
            return Err(bad("entry count and offset do not match the file size"));
        }
        let entries = &data[trailer.entries_offset as usize..trailer_at];
        let crc = crc32c::crc32c_append(crc32c::crc32c(entries), &trailer.checksummed_prefix());
        if crc != trailer.crc {
            return Err(bad("checksum mismatch"));
        }
        let hash_at = |i: usize| u64::from_le_bytes(entries[i * footer::ENTRY_LEN..i * footer::ENTRY_LEN + 8].try_into().unwrap());
        if (1..trailer.entry_count as usize).any(|i| hash_at(i - 1) > hash_at(i)) {
            return Err(bad("entries are not sorted by key hash"));
        }
        Ok(Some((trailer, entries)))
    }

    /// The fixed header of the record at `offset`, bounds-checked but not checksummed
    /// (for compaction, which copies records byte for byte, checksum included).
    pub fn header_at(&self, offset: u64) -> Result<RecordHeader> {
        let data = self.published();
        let bytes = data
            .get(offset as usize..offset as usize + HEADER_LEN)
            .ok_or_else(|| Error::corruption(&self.path, offset, "record header past the end of the data"))?;
        let header = RecordHeader::decode(bytes.try_into().expect("HEADER_LEN bytes"))
            .ok_or_else(|| Error::corruption(&self.path, offset, "unknown record kind"))?;
        if offset + header.record_len() > data.len() as u64 {
            return Err(Error::corruption(&self.path, offset, "record extends past the end of the data"));
        }
        Ok(header)
    }

    /// The header and key of the record at `offset`, bounds-checked, not checksummed.
    pub fn key_at(&self, offset: u64) -> Result<(RecordHeader, &[u8])> {
        let header = self.header_at(offset)?;
        let start = offset as usize + HEADER_LEN;
        Ok((header, &self.published()[start..start + header.key_len as usize]))
    }

    /// The entries of this sealed segment's footer, read from the file and verified.
    pub fn read_footer_entries(&self) -> Result<Vec<FooterEntry>> {
        let io = |e| Error::io(&self.path, e);
        let file = File::open(&self.path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let bad = |why: &str| Error::corruption(&self.path, file_len, format!("footer damaged: {why}"));
        if file_len < SEGMENT_HEADER_LEN + footer::TRAILER_LEN as u64 {
            return Err(bad("file too short"));
        }
        let mut tail = [0u8; footer::TRAILER_LEN];
        file.read_exact_at(&mut tail, file_len - footer::TRAILER_LEN as u64).map_err(io)?;
        let trailer = Trailer::decode(&tail).ok_or_else(|| bad("no trailer"))?;
        let len = trailer.entry_count.checked_mul(footer::ENTRY_LEN as u64).ok_or_else(|| bad("entry count overflows"))?;
        if trailer.entries_offset.checked_add(len).and_then(|e| e.checked_add(footer::TRAILER_LEN as u64)) != Some(file_len) {
            return Err(bad("entry count and offset do not match the file size"));
        }
        let mut bytes = vec![0u8; len as usize];
        file.read_exact_at(&mut bytes, trailer.entries_offset).map_err(io)?;
        if crc32c::crc32c_append(crc32c::crc32c(&bytes), &trailer.checksummed_prefix()) != trailer.crc {
            return Err(bad("checksum mismatch"));
        }
        bytes.chunks_exact(footer::ENTRY_LEN).map(|c| FooterEntry::decode(c).ok_or_else(|| bad("unknown record kind"))).collect()
    }

    /// Seals the segment: writes a footer listing the records in `[header, data_end)` right
    /// after them, cuts the file there and syncs it. Entries are sorted by key hash, so the
    /// index can be rebuilt by walking its tables in order (see recovery).
    pub fn write_footer(&self, data_end: u64) -> Result<()> {
        let mut entries = Vec::new();
        let end = self.scan(SEGMENT_HEADER_LEN, data_end, |offset, rec| {
            entries.push(FooterEntry { hash: key_hash(rec.key), offset, kind: rec.header.kind, len: rec.header.record_len() as u32 });
        });
        if end.end != data_end {
            let why = end.stop.map(|s| s.to_string()).unwrap_or_default();
            return Err(Error::corruption(&self.path, end.end, format!("cannot seal: {why}")));
        }
        entries.sort_unstable_by_key(|e| (e.hash, e.offset));
        let file = OpenOptions::new().write(true).open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut buf = Vec::with_capacity(64 << 10);
        let mut pos = data_end;
        let mut crc = 0u32;
        for entry in &entries {
            let bytes = entry.encode();
            crc = crc32c::crc32c_append(crc, &bytes);
            buf.extend_from_slice(&bytes);
            if buf.len() >= (64 << 10) {
                file.write_all_at(&buf, pos).map_err(|e| Error::io(&self.path, e))?;
                pos += buf.len() as u64;
                buf.clear();
            }
        }
        let mut trailer = Trailer {
            entries_offset: data_end,
            entry_count: entries.len() as u64,
            max_seq: end.max_seq,
            min_put_seq: end.min_put_seq,
            crc: 0,
        };
        trailer.crc = crc32c::crc32c_append(crc, &trailer.checksummed_prefix());
        buf.extend_from_slice(&trailer.encode());
        file.write_all_at(&buf, pos).map_err(|e| Error::io(&self.path, e))?;
        pos += buf.len() as u64;
        file.set_len(pos).map_err(|e| Error::io(&self.path, e))?;
        file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        self.synced_len.fetch_max(data_end, Ordering::AcqRel);
        self.mark_sealed();
        Ok(())
    }

    /// Space for `n` bytes at `offset`, past the published length, for the writer to fill.
    ///
    /// # Safety
    /// Only the store's single writer may call this, for a range past the published length
    /// that it has not handed out before, and must `publish` before others read it.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn reserve(&self, offset: u64, n: usize) -> &mut [u8] {
        debug_assert!(offset >= self.len.load(Ordering::Relaxed));
        debug_assert!(offset + n as u64 <= self.map_len);
        std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(offset as usize), n)
    }

    /// Makes records up to `new_len` visible to readers.
    pub fn publish(&self, new_len: u64) {
        self.len.store(new_len, Ordering::Release);
    }

    /// Sets where the records end (recovery's verdict for an opened segment).
    pub fn set_data_end(&self, end: u64) {
        self.len.store(end, Ordering::Release);
    }

    /// End of the published records.
    pub fn data_len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    /// Largest offset this segment can hold records up to.
    pub fn capacity(&self) -> u64 {
        self.map_len
    }

    /// Flushes everything published so far to disk (`fdatasync`).
    pub fn sync(&self) -> Result<()> {
        let target = self.data_len();
        if self.synced_len.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        if let Some(file) = self.file.lock().as_ref() {
            file.sync_data().map_err(|e| Error::io(&self.path, e))?;
        }
        self.synced_len.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    /// Bytes known to be on disk.
    pub fn synced_len(&self) -> u64 {
        self.synced_len.load(Ordering::Acquire)
    }

    pub fn is_sealed(&self) -> bool {
        self.sealed.load(Ordering::Acquire)
    }

    /// Records that the segment has a valid, synced footer: it is read-only from now on.
    pub fn mark_sealed(&self) {
        self.sealed.store(true, Ordering::Release);
        self.file.lock().take();
    }

    pub fn add_live(&self, bytes: u64) {
        self.live_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn sub_live(&self, bytes: u64) {
        self.live_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Records that a put with this sequence number is in the segment.
    pub fn note_put_seq(&self, seq: u64) {
        self.min_put_seq.fetch_min(seq, Ordering::Relaxed);
    }

    pub fn min_put_seq(&self) -> u64 {
        self.min_put_seq.load(Ordering::Relaxed)
    }

    pub fn role(&self) -> Role {
        match self.role.load(Ordering::Acquire) {
            1 => Role::CompactionOutput,
            2 => Role::Retired,
            3 => Role::Evicted,
            _ => Role::Data,
        }
    }

    pub fn set_role(&self, role: Role) {
        self.role.store(role as u8, Ordering::Release);
    }

    pub fn live_bytes(&self) -> u64 {
        self.live_bytes.load(Ordering::Relaxed)
    }

    /// Bytes of records that are no longer the current version of their key (and
    /// tombstones, batch envelopes), i.e. what compaction would reclaim.
    pub fn dead_bytes(&self) -> u64 {
        (self.data_len().saturating_sub(SEGMENT_HEADER_LEN)).saturating_sub(self.live_bytes())
    }
}

/// Splits a batch envelope's payload into its records; `None` if it is not exactly a run
/// of valid Put/Delete records.
fn split_batch(payload: &[u8]) -> Option<Vec<(usize, RecordRef<'_>)>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < payload.len() {
        let rec = record::decode(&payload[off..]).ok()?;
        if !matches!(rec.header.kind, RecordKind::Put | RecordKind::Delete) {
            return None;
        }
        out.push((off, rec));
        off += rec.header.record_len() as usize;
    }
    Some(out)
}

impl Segment {
    /// Bytes `[offset, offset + len)` of the mapping, whatever the published length; used
    /// for footers, which lie past the records. Empty if out of range.
    pub fn raw_bytes(&self, offset: u64, len: u64) -> &[u8] {
        match offset.checked_add(len) {
            Some(end) if end <= self.map_len => {
                // SAFETY: in range of the mapping; footers are written once, before mapping.
                unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(offset as usize), len as usize) }
            }
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        assert_eq!(file_name(42), "000000000042.seg");
        assert_eq!(parse_file_name("000000000042.seg"), Some(42));
        assert_eq!(parse_file_name("42.seg"), None);
        assert_eq!(parse_file_name("000000000042.tmp"), None);
    }
}
