//! A segment: one numbered, append-only log file, memory-mapped for reading.
//!
//! Layout (docs/format.md): a 32-byte header, records back to back, and once sealed a
//! footer. The active segment is preallocated to its full size, mapped shared and written
//! by `memcpy` into the mapping (no system call per write); readers see a record once the
//! writer publishes the new length with a release store.
//!
//! Thread-safety: any number of readers; exactly one writer (the holder of the store's
//! writer lock) calls `reserve`/`publish`, and only past the published length.

//!
//! This file holds the open segment and its mapping; each other job has its own file:
//! `name` (file names, listing a directory), `header` (the 32-byte header codec),
//! `prealloc` (disk space, directory sync), `scan` (records in log order),
//! `footer_io` (reading, verifying and writing the footer).

mod footer_io;
pub mod header;
pub mod name;
mod prealloc;
mod scan;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{Error, Result};
use crate::record::{self, RecordHeader, RecordRef, HEADER_LEN};

pub(crate) use footer_io::write_footer_at;
pub use header::{HeaderProblem, FORMAT_VERSION, SEGMENT_HEADER_LEN, SEGMENT_MAGIC};
pub use name::{file_name, parse_file_name};
pub(crate) use prealloc::{preallocate, sync_dir};

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
            file.write_all_at(&header::encode(generation), 0).map_err(|e| Error::io(&tmp, e))?;
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
        Ok(Segment::mapped(path, file, map, generation, slot, map_len, len, 0))
    }

    /// A segment over `map` (`map_len` bytes of `file`), records published up to `len`.
    #[allow(clippy::too_many_arguments)]
    fn mapped(path: PathBuf, file: File, map: MmapRaw, generation: u64, slot: u32, map_len: u64, len: u64, synced_len: u64) -> Segment {
        // Reads are random (one record per get): without this, a fault on a cold page reads
        // the pages around it too (read-around), ten 4 KiB pages per get measured with a cold
        // cache at 30M keys. Sequential readers (open, compaction) ask for read-ahead themselves.
        if let Err(e) = map.advise(memmap2::Advice::Random) {
            tracing::debug!("madvise(RANDOM) on {}: {e}", path.display());
        }
        Segment {
            generation,
            slot,
            path,
            file: parking_lot::Mutex::new(Some(file)),
            map,
            map_len,
            len: AtomicU64::new(len),
            synced_len: AtomicU64::new(synced_len),
            live_bytes: AtomicU64::new(0),
            min_put_seq: AtomicU64::new(u64::MAX),
            role: AtomicU8::new(Role::Data as u8),
            sealed: AtomicBool::new(false),
        }
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
        header::check(&header, generation).map_err(|p| Error::corruption(&path, 0, describe_header_problem(p, generation)))?;
        let map = MmapOptions::new().len(file_len as usize).map_raw_read_only(&file).map_err(|e| Error::io(&path, e))?;
        Ok(Segment::mapped(path, file, map, generation, slot, file_len, file_len, file_len))
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
    pub(super) fn published(&self) -> &[u8] {
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

    /// Space for `n` bytes at `offset`, past the published length, for the writer to fill.
    ///
    /// # Safety
    /// Only the store's single writer may call this, for a range past the published length
    /// that it has not handed out before, and must `publish` before others read it.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn reserve(&self, offset: u64, n: usize) -> &mut [u8] {
        debug_assert!(offset >= self.len.load(Ordering::Relaxed));
        debug_assert!(offset + n as u64 <= self.map_len);
        // SAFETY: the range is inside the writable mapping (the caller keeps it below
        // `capacity()`), and the caller's contract (above) makes this the only reference to
        // it: past the published length no reader looks, and it is handed out once.
        std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(offset as usize), n)
    }

    /// Makes records up to `new_len` visible to readers (after an append; at open,
    /// recovery's verdict on where an opened segment's records end).
    pub fn publish(&self, new_len: u64) {
        self.len.store(new_len, Ordering::Release);
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

/// The engine's message for a header that does not check (the error names the file).
fn describe_header_problem(problem: HeaderProblem, generation: u64) -> String {
    match problem {
        HeaderProblem::Short(len) => format!("file is {len} bytes, shorter than a segment header"),
        HeaderProblem::BadMagic => "not a CrownDB segment (bad magic)".into(),
        HeaderProblem::Checksum { .. } => "segment header checksum mismatch".into(),
        HeaderProblem::UnknownVersion(v) => format!("segment format version {v}; this build reads version {FORMAT_VERSION}"),
        HeaderProblem::Generation { stored } => format!("header says generation {stored} but the file name says {generation}"),
    }
}

impl Segment {
    /// Bytes `[offset, offset + len)` of the mapping, whatever the published length: a
    /// sealed segment's footer (recovery replays it in place), the end of an opened file
    /// (is it the preallocated zeroes?), records compaction copies. Empty if out of range.
    /// Tells the kernel the whole segment is about to be read front to back (compaction), so
    /// faults read ahead despite the mapping's random-access advice.
    pub fn advise_sequential(&self) {
        let _ = self.map.advise_range(memmap2::Advice::Sequential, 0, self.map_len as usize);
        let _ = self.map.advise_range(memmap2::Advice::WillNeed, 0, self.map_len as usize);
    }

    pub fn raw_bytes(&self, offset: u64, len: u64) -> &[u8] {
        match offset.checked_add(len) {
            Some(end) if end <= self.map_len => {
                // SAFETY: `[offset, end)` lies inside the mapping, which is `map_len` bytes
                // long and lives as long as `self`, so the borrow cannot outlive it. The bytes
                // do not change while borrowed: callers read records below the published
                // length (append-only, never rewritten), or a file opened read-only, whose
                // footer or tail nothing writes while the store holds the directory lock
                // (a footer this process writes goes through `write_footer` on a segment no
                // caller reads past its records).
                unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(offset as usize), len as usize) }
            }
            _ => &[],
        }
    }
}
