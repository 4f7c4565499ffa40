//! Opening a store: find the segments, read sealed segments' footers, scan the unsealed
//! ones (cutting a torn tail at the last valid record, after copying what is cut into
//! `quarantine/`), and rebuild the index by replaying every record's entry in key-hash
//! order, not log order.
//!
//! The sequence number decides between two records of one key, so replay order only
//! matters for speed: each segment's entries are replayed in key-hash order (footers are
//! sorted that way), which walks the index tables front to back instead of jumping at
//! random, one cache miss per entry. Tombstones are kept in the index while replaying (so an older put
//! cannot come back) and removed at the end.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::footer::{FooterEntry, ENTRY_LEN};
use crate::index::Index;
use crate::lock::DirLock;
use crate::options::Options;
use crate::record::RecordKind;
use crate::segment::{self, Segment, SEGMENT_HEADER_LEN};
use crate::segment_table::{AddressCodec, SegmentTable};
use crate::store::{Namespace, Store, WriterState};

/// Where a segment's record list comes from.
enum Entries {
    /// Verified footer bytes at this offset, this many entries.
    Footer { offset: u64, count: u64 },
    /// Built by scanning the records.
    Scanned(Vec<FooterEntry>),
}

struct Loaded {
    segment: Arc<Segment>,
    entries: Entries,
    data_end: u64,
    max_seq: u64,
    /// True if the file ends with a valid footer (now or after recovery wrote one).
    sealed: bool,
}

pub(crate) const MIN_SEGMENT_SIZE: u64 = 64 << 10;
pub(crate) const MAX_SEGMENT_SIZE: u64 = 16 << 30;

pub(crate) fn open(dir: &Path, options: Options) -> Result<(Store, DirLock)> {
    if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&options.segment_size) {
        return Err(Error::InvalidArgument(format!(
            "segment_size {} is outside the supported range {MIN_SEGMENT_SIZE} ..= {MAX_SEGMENT_SIZE} bytes",
            options.segment_size
        )));
    }
    if !dir.is_dir() {
        if !options.create_if_missing {
            return Err(Error::InvalidArgument(format!(
                "data directory {} does not exist (set create_if_missing to create it)",
                dir.display()
            )));
        }
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let lock = DirLock::acquire(dir)?;
    let mut generations = list_segments(dir)?;
    drop_unborn_newest_segment(dir, &mut generations)?;
    let mut loaded = Vec::with_capacity(generations.len());
    for (i, &generation) in generations.iter().enumerate() {
        let is_last = i + 1 == generations.len();
        loaded.push(load_segment(dir, generation, i as u32, is_last, options.paranoid_open)?);
    }
    let largest = loaded.iter().map(|l| l.data_end).max().unwrap_or(0);
    let codec = AddressCodec::for_segment_size(options.segment_size.max(largest));
    if loaded.len() as u64 > codec.max_slots() as u64 {
        return Err(Error::InvalidArgument(format!(
            "{} holds {} segments, more than the {} that segment_size {} allows; open it with a larger segment_size",
            dir.display(),
            loaded.len(),
            codec.max_slots(),
            options.segment_size
        )));
    }

    let table = loaded.iter().fold(SegmentTable::default(), |t, l| t.with(l.segment.clone()));
    let index = Index::new();
    // Chunks of streamed values, checked against their heads once the store is open; the
    // heads and pages of collections, checked against each other.
    let Replayed { chunks, heads, pages } = replay(&index, &table, codec, &loaded);

    let max_seq = loaded.iter().map(|l| l.max_seq).max().unwrap_or(0);
    let next_generation = generations.last().map_or(1, |g| g + 1);
    for l in &loaded {
        l.segment.publish(l.data_end);
        if l.sealed {
            l.segment.mark_sealed();
        }
    }

    // The newest segment keeps taking writes if it has room; otherwise a new one starts.
    let reusable = loaded.last().filter(|l| !l.sealed || l.data_end < options.segment_size / 2);
    let (active, table, next_generation) = match reusable {
        Some(last) => {
            let writable = Arc::new(last.segment.reopen_for_append(last.data_end, options.segment_size)?);
            (writable.clone(), table.with(writable), next_generation)
        }
        None => {
            let slot = table.free_slot(codec.max_slots()).expect("slot count checked above");
            let fresh = Arc::new(Segment::create(dir, next_generation, slot, options.segment_size)?);
            (fresh.clone(), table.with(fresh), next_generation + 1)
        }
    };
    drop(loaded);

    let writer = WriterState { active, next_seq: max_seq + 1, next_generation, log_end: 0, unsynced: Vec::new(), refusal: None };
    let inner = Store {
        dir: dir.to_path_buf(),
        options,
        codec,
        index,
        table: ArcSwap::from_pointee(table),
        writer: Mutex::new(writer),
        commit: crate::group_commit::GroupCommit::new(),
        sealer: Mutex::new(None),
        seals_pending: AtomicU64::new(0),
        user_bytes_written: AtomicU64::new(0),
        disk_bytes_written: AtomicU64::new(0),
        snapshots: Mutex::new(Default::default()),
        oldest_snapshot: AtomicU64::new(crate::store::NO_SNAPSHOT),
        history: Mutex::new(Default::default()),
        retired: Mutex::new(Vec::new()),
        compaction_lock: Mutex::new(()),
        roles_lock: Mutex::new(()),
        bytes_compacted: AtomicU64::new(0),
        segments_deleted: AtomicU64::new(0),
        evictions: AtomicU64::new(0),
        chunk_entries: AtomicU64::new(0),
        page_entries: AtomicU64::new(0),
        epochs: Mutex::new(Default::default()),
        dead_epochs: Mutex::new(Vec::new()),
        publish: Default::default(),
        collection_limits: Default::default(),
        false_candidate_reads: AtomicU64::new(0),
        stopping: Default::default(),
    };
    // Streams a crash interrupted (chunks without a head) leave no trace.
    inner.drop_orphan_chunks(&chunks);
    // Pages of incarnations that died (or never got their head) leave no trace.
    inner.sweep_pages_at_open(&heads, &pages);
    Ok((inner, lock))
}

/// Removes the newest segment file if its header was never written (a crash while an older
/// version of CrownDB created it): such a file cannot hold a record.
fn drop_unborn_newest_segment(dir: &Path, generations: &mut Vec<u64>) -> Result<()> {
    let Some(&newest) = generations.last() else { return Ok(()) };
    let path = dir.join(segment::file_name(newest));
    let mut head = [0u8; SEGMENT_HEADER_LEN as usize];
    let file = fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
    let unborn = len < SEGMENT_HEADER_LEN || (file.read_exact_at(&mut head, 0).is_ok() && head.iter().all(|&b| b == 0));
    if unborn {
        tracing::warn!("{}: the newest segment has no header (its creation was interrupted); removing it", path.display());
        fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        generations.pop();
    }
    Ok(())
}

/// Generations of the segment files in `dir`, oldest first.
fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let files = segment::name::list(dir).map_err(|e| Error::io(dir, e))?;
    for tmp in &files.unfinished {
        // A segment whose creation a crash interrupted: it never held a record.
        let _ = fs::remove_file(tmp);
    }
    Ok(files.segments.into_iter().map(|(g, _)| g).collect())
}

fn load_segment(dir: &Path, generation: u64, slot: u32, is_last: bool, paranoid: bool) -> Result<Loaded> {
    let path = dir.join(segment::file_name(generation));
    let segment = Segment::open(path, generation, slot)?;
    let file_len = segment.data_len();
    match segment.footer() {
        Ok(Some((trailer, _))) if paranoid => return verify_sealed(segment, trailer.entries_offset, trailer.max_seq),
        Ok(Some((trailer, _))) => {
            segment.note_put_seq(trailer.min_put_seq);
            let entries = Entries::Footer { offset: trailer.entries_offset, count: trailer.entry_count };
            return Ok(Loaded {
                segment: Arc::new(segment),
                entries,
                data_end: trailer.entries_offset,
                max_seq: trailer.max_seq,
                sealed: true,
            });
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("{e}; rebuilding the footer from the records"),
    }
    let (entries, end) = segment.footer_entries_by_scan(file_len);
    segment.note_put_seq(end.min_put_seq);
    // Segment files are preallocated, and a crash leaves zeroes (or a torn record) after the
    // last record, never the end of the file in the middle of one. (Garbage whose header
    // claims a length past the end is told apart by the preallocated zeroes after it.) Only the newest segment
    // may legitimately end that way (an older version's write path); in any other, a record
    // cut by the end of the file means the file was truncated: refuse rather than lose what
    // was after the cut without a word.
    if !is_last && end.stop == Some(crate::record::RecordError::Truncated) && !ends_in_zeroes(&segment, file_len) {
        return Err(Error::corruption(
            &segment.path,
            end.end,
            format!(
                "the file ends in the middle of a record and has no footer: it was truncated ({file_len} bytes); run `crowndb repair` to keep the records before the cut"
            ),
        ));
    }
    if end.end < file_len {
        quarantine_tail(dir, &segment, end.end, file_len)?;
    }
    segment.publish(end.end);
    let mut sealed = false;
    if !is_last {
        segment.write_footer(end.end)?;
        sealed = true;
    }
    Ok(Loaded { segment: Arc::new(segment), entries: Entries::Scanned(entries), data_end: end.end, max_seq: end.max_seq, sealed })
}

/// True if the last bytes of the file are zero: the unwritten, preallocated end of a segment.
fn ends_in_zeroes(segment: &Segment, file_len: u64) -> bool {
    let n = file_len.min(64);
    segment.raw_bytes(file_len - n, n).iter().all(|&b| b == 0)
}

/// Paranoid open of a sealed segment: its records must all verify, up to the footer.
fn verify_sealed(segment: Segment, data_end: u64, max_seq: u64) -> Result<Loaded> {
    let (entries, end) = segment.footer_entries_by_scan(data_end);
    if end.end != data_end {
        let why = end.stop.map(|s| s.to_string()).unwrap_or_default();
        return Err(Error::corruption(&segment.path, end.end, format!("record does not verify: {why}")));
    }
    segment.note_put_seq(end.min_put_seq);
    Ok(Loaded { segment: Arc::new(segment), entries: Entries::Scanned(entries), data_end, max_seq, sealed: true })
}

/// Copies bytes `[from, to)` of a segment into `quarantine/` before they are cut off,
/// unless they are all zero (the preallocated, never-written end of a segment).
fn quarantine_tail(dir: &Path, segment: &Segment, from: u64, to: u64) -> Result<()> {
    let file = fs::File::open(&segment.path).map_err(|e| Error::io(&segment.path, e))?;
    let mut last_nonzero = None;
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = from;
    while pos < to {
        let n = buf.len().min((to - pos) as usize);
        file.read_exact_at(&mut buf[..n], pos).map_err(|e| Error::io(&segment.path, e))?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b != 0) {
            last_nonzero = Some(pos + i as u64);
        }
        pos += n as u64;
    }
    let Some(last) = last_nonzero else { return Ok(()) };
    let qdir = dir.join("quarantine");
    fs::create_dir_all(&qdir).map_err(|e| Error::io(&qdir, e))?;
    let name = format!("{}.{from}.tail", segment::file_name(segment.generation));
    let qpath = qdir.join(name);
    let mut bytes = vec![0u8; (last + 1 - from) as usize];
    file.read_exact_at(&mut bytes, from).map_err(|e| Error::io(&segment.path, e))?;
    fs::write(&qpath, &bytes).map_err(|e| Error::io(&qpath, e))?;
    tracing::warn!(
        "{}: records end at offset {from}; the {} bytes after it (a torn write or damage) were moved to {}",
        segment.path.display(),
        bytes.len(),
        qpath.display()
    );
    Ok(())
}

/// Shards replayed together (one range of every footer); 256 of them hold about as many
/// entries as fit in the CPU cache at the sizes the store is made for.
const REPLAY_GROUP: usize = 256;

/// Rebuilds the index from every segment's entries, in parallel by shard.
/// What replay found beside the index: (hash, address) of every chunk, paged collection
/// head and page record, for the checks that follow it.
#[derive(Default)]
struct Replayed {
    chunks: Vec<(u64, u64)>,
    heads: Vec<(u64, u64)>,
    pages: Vec<(u64, u64)>,
}

fn replay(index: &Index, table: &SegmentTable, codec: AddressCodec, loaded: &[Loaded]) -> Replayed {
    let lists: Vec<(&Arc<Segment>, EntryList<'_>)> = loaded.iter().map(|l| (&l.segment, EntryList::of(l))).collect();
    let mut per_shard = vec![0usize; Index::shard_count()];
    for (_, list) in &lists {
        list.for_each(|e| {
            if e.kind.holds_data() {
                per_shard[Index::shard_of(e.hash)] += 1;
            }
        });
    }
    index.reserve_per_shard(&per_shard);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let found = Mutex::new(Replayed::default());
    std::thread::scope(|scope| {
        for part in 0..workers {
            let lists = &lists;
            let found = &found;
            scope.spawn(move || {
                let mut tombstones = Vec::new();
                // Each worker owns a contiguous range of shards, i.e. of hashes: a slice of
                // every (hash-sorted) entry list.
                let shards = Index::shard_count();
                let groups = shards / REPLAY_GROUP;
                let (lo, hi) = (part * groups / workers * REPLAY_GROUP, (part + 1) * groups / workers * REPLAY_GROUP);
                let mut mine = Replayed::default();
                // Group of shards by group: a group's tables fit in the CPU cache while every
                // segment's entries for it are inserted. (Groups, not single shards: a binary
                // search per segment for each of 65,536 shards would cost more than the inserts
                // at a few thousand segments.)
                // The full 64-bit hashes seen in the current group: a record whose hash was
                // not seen is a new key for sure, inserted without reading any record; only
                // records sharing a full hash (overwrites, in practice) are compared by key.
                let mut seen = std::collections::HashSet::new();
                for group in (lo..hi).step_by(REPLAY_GROUP) {
                    seen.clear();
                    for (segment, list) in lists {
                        list.for_each_in_shards(group, (group + REPLAY_GROUP).min(hi), |e| {
                            let address = codec.encode(segment.slot, e.offset);
                            match e.kind {
                                RecordKind::Chunk => mine.chunks.push((e.hash, address)),
                                RecordKind::Page => mine.pages.push((e.hash, address)),
                                _ if e.flags & crate::footer::FLAG_PAGED_HEAD != 0 => mine.heads.push((e.hash, address)),
                                _ => {}
                            }
                            let known = !seen.insert(e.hash);
                            apply(index, table, codec, segment, e, known, &mut tombstones)
                        });
                    }
                }
                let mut all = found.lock();
                all.chunks.extend(mine.chunks);
                all.heads.extend(mine.heads);
                all.pages.extend(mine.pages);
                for (hash, address) in tombstones {
                    index.remove(hash, address);
                }
            });
        }
    });
    found.into_inner()
}

/// A segment's entries, wherever they come from.
enum EntryList<'a> {
    Footer(&'a [u8]),
    Scanned(&'a [FooterEntry]),
}

impl<'a> EntryList<'a> {
    fn of(l: &'a Loaded) -> EntryList<'a> {
        match &l.entries {
            Entries::Footer { offset, count } => {
                let bytes = l.segment.raw_bytes(*offset, count * ENTRY_LEN as u64);
                advise_will_need(bytes);
                EntryList::Footer(bytes)
            }
            Entries::Scanned(v) => EntryList::Scanned(v),
        }
    }

    /// Calls `f` for the entries whose shard is in `lo..hi`; entries are sorted by hash, so
    /// they are one range, found by binary search.
    fn for_each_in_shards(&self, lo: usize, hi: usize, mut f: impl FnMut(&FooterEntry)) {
        let (count, hash_at): (usize, Box<dyn Fn(usize) -> u64 + '_>) = match self {
            EntryList::Footer(bytes) => (
                bytes.len() / ENTRY_LEN,
                Box::new(move |i| u64::from_le_bytes(bytes[i * ENTRY_LEN..i * ENTRY_LEN + 8].try_into().expect("8 bytes"))),
            ),
            EntryList::Scanned(v) => (v.len(), Box::new(move |i| v[i].hash)),
        };
        let first_at_least = |shard: usize| {
            let (mut a, mut b) = (0, count);
            while a < b {
                let mid = (a + b) / 2;
                if Index::shard_of(hash_at(mid)) < shard {
                    a = mid + 1;
                } else {
                    b = mid;
                }
            }
            a
        };
        let (start, end) = (first_at_least(lo), first_at_least(hi));
        match self {
            EntryList::Footer(bytes) => {
                for chunk in bytes[start * ENTRY_LEN..end * ENTRY_LEN].chunks_exact(ENTRY_LEN) {
                    if let Some(e) = FooterEntry::decode(chunk) {
                        f(&e);
                    }
                }
            }
            EntryList::Scanned(v) => v[start..end].iter().for_each(f),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&FooterEntry)) {
        match self {
            EntryList::Footer(bytes) => {
                for chunk in bytes.chunks_exact(ENTRY_LEN) {
                    // The footer checksum was verified; an undecodable entry cannot occur
                    // unless memory is corrupt, and is skipped.
                    if let Some(e) = FooterEntry::decode(chunk) {
                        f(&e);
                    }
                }
            }
            EntryList::Scanned(v) => v.iter().for_each(f),
        }
    }
}

/// Applies one record to the index during replay.
/// `known`: another record with the same full hash was already applied (else this record
/// is certainly the first of its key, and is inserted without reading anything).
fn apply(
    index: &Index,
    table: &SegmentTable,
    codec: AddressCodec,
    segment: &Segment,
    e: &FooterEntry,
    known: bool,
    tombstones: &mut Vec<(u64, u64)>,
) {
    let address = codec.encode(segment.slot, e.offset);
    let add = |tombstones: &mut Vec<(u64, u64)>| match e.kind {
        kind if kind.holds_data() => segment.add_live(e.len as u64),
        _ => tombstones.push((e.hash, address)),
    };
    if !known {
        index.insert(e.hash, address);
        add(tombstones);
        return;
    }
    let candidates = match index.insert_if_vacant(e.hash, address) {
        Ok(()) => {
            add(tombstones);
            return;
        }
        Err(candidates) => candidates,
    };
    // The record's key and sequence number; for a damaged record, as far as its header
    // and key still read (reads of that key then report the damage rather than fall back
    // to an older version).
    let (new_key, new_seq) = match segment.record_at(e.offset) {
        Ok(rec) => (rec.key, rec.header.seq),
        Err(err) => {
            tracing::warn!("{err}");
            match segment.key_at(e.offset) {
                Ok((header, key)) => (key, header.seq),
                Err(_) => {
                    // Nothing readable: keep it indexed (even a tombstone), so that every
                    // read of a key sharing its hash reports the damage.
                    index.insert(e.hash, address);
                    return;
                }
            }
        }
    };
    let new_namespace = Namespace::of(e.kind);
    for candidate in candidates.iter() {
        let (slot, offset) = codec.decode(candidate);
        let Some(other_segment) = table.get(slot) else { continue };
        let Ok((other, other_key)) = other_segment.key_at(offset) else { continue };
        if other_key != new_key || Namespace::of(other.kind) != new_namespace {
            continue;
        }
        if new_seq > other.seq {
            index.replace(e.hash, candidate, address);
            if other.kind.holds_data() {
                other_segment.sub_live(other.record_len());
            }
            add(tombstones);
        }
        return;
    }
    index.insert(e.hash, address);
    add(tombstones);
}

/// Asks the kernel to read a mapped range ahead of use (footers are read sequentially).
fn advise_will_need(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let page = 4096usize;
    let start = bytes.as_ptr() as usize & !(page - 1);
    let len = bytes.as_ptr() as usize + bytes.len() - start;
    // SAFETY: MADV_SEQUENTIAL and MADV_WILLNEED only change read-ahead, never memory
    // contents; the range is `bytes` (borrowed from a live mapping) widened down to its page
    // start, which is in the same mapping (mappings start on a page boundary). Sequential:
    // segments are mapped MADV_RANDOM (for gets), which would fault footers in one page at a
    // time.
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_SEQUENTIAL);
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_WILLNEED);
    }
}
