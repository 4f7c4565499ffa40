//! The shared state of an open store and its read path.
//!
//! Thread-safety: readers use only the index's shard locks (never across I/O) and the
//! lock-free segment table. Writers serialize on `writer`; `commit` elects the one
//! thread that runs `fdatasync` for everybody waiting (group commit).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::index::Index;
use crate::options::Options;
use crate::record::{RecordHeader, RecordKind, RecordRef};
use crate::segment::Segment;
use crate::segment_table::{AddressCodec, SegmentTable};

/// State only the writer touches, under `Store::writer`.
pub(crate) struct WriterState {
    pub active: Arc<Segment>,
    pub next_seq: u64,
    pub next_generation: u64,
    /// Total bytes appended since open: the log position writes wait on for durability.
    pub log_end: u64,
    /// Segments rolled over since the last sync, which a sync must cover too.
    pub unsynced: Vec<Arc<Segment>>,
    /// Set when a sync failed or the store was closed: every write is refused after that.
    pub refusal: Option<Refusal>,
}

#[derive(Debug, Clone)]
pub(crate) enum Refusal {
    Failed(String),
    Closed,
}

impl WriterState {
    /// Refuses every later write because of `cause` (the first cause is kept), and
    /// returns the refusal for the caller that met it.
    pub fn poison(&mut self, cause: &Error) -> Error {
        self.poisoned().unwrap_or_else(|| {
            self.refusal = Some(Refusal::Failed(cause.to_string()));
            Error::Poisoned(cause.to_string())
        })
    }

    /// The refusal, if a failed write or sync stopped the store accepting writes.
    pub fn poisoned(&self) -> Option<Error> {
        match &self.refusal {
            Some(Refusal::Failed(why)) => Some(Error::Poisoned(why.clone())),
            _ => None,
        }
    }

    /// `Ok` if writes are accepted: refused once the store is closed ([`Error::Closed`])
    /// or poisoned by a failed write or sync ([`Error::Poisoned`]).
    pub fn check_writable(&self) -> Result<()> {
        match &self.refusal {
            Some(Refusal::Closed) => {
                let dir = self.active.path.parent().map(|d| d.to_path_buf()).unwrap_or_default();
                Err(Error::Closed { path: dir })
            }
            _ => self.poisoned().map_or(Ok(()), Err),
        }
    }
}

/// Which records a lookup may match: user keys never match chunks of streamed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Namespace {
    Keys,
    Chunks,
    /// Pages of collections.
    Pages,
}

impl Namespace {
    pub fn of(kind: RecordKind) -> Namespace {
        match kind {
            RecordKind::Chunk => Namespace::Chunks,
            RecordKind::Page => Namespace::Pages,
            _ => Namespace::Keys,
        }
    }
}

/// A record found for a key: where it is and its header.
pub(crate) struct Found {
    pub address: u64,
    pub segment: Arc<Segment>,
    pub header: RecordHeader,
}

/// One open store's shared state: its directory and options, the index, the segment
/// table, the writer's state and the counters every thread reads. `Db` is a handle on it;
/// the write path (`write`), conditional writes, streams, snapshots, compaction and
/// eviction are `impl Store` blocks in their own files.
pub(crate) struct Store {
    pub dir: PathBuf,
    pub options: Options,
    pub codec: AddressCodec,
    pub index: Index,
    pub table: ArcSwap<SegmentTable>,
    pub writer: Mutex<WriterState>,
    /// Durable writes wait here for the `fdatasync` that covers them (group commit).
    pub commit: crate::group_commit::GroupCommit,
    /// Segments handed to the sealer thread and not sealed yet.
    pub seals_pending: AtomicU64,
    /// Channel to the sealer thread while it runs.
    pub sealer: Mutex<Option<std::sync::mpsc::Sender<Arc<Segment>>>>,
    pub user_bytes_written: AtomicU64,
    pub disk_bytes_written: AtomicU64,
    /// Open snapshots: sequence number -> how many.
    pub snapshots: Mutex<BTreeMap<u64, usize>>,
    /// Sequence number of the oldest open snapshot, or `NO_SNAPSHOT`. Read by writers
    /// without locking to decide whether superseded records must be remembered.
    pub oldest_snapshot: AtomicU64,
    /// Superseded records an open snapshot may still read: key hash -> (address,
    /// sequence number of the write that superseded it). Empty when no snapshot is open.
    pub history: Mutex<HashMap<u64, Vec<(u64, u64)>>>,
    /// Compacted segments waiting for the snapshots that may read them and for the log
    /// to be synced.
    pub retired: Mutex<Vec<crate::compaction::Retired>>,
    /// Makes a compaction's role changes (outputs become data, sources retire) atomic
    /// for iterators choosing which segments to read.
    pub roles_lock: Mutex<()>,
    /// Serializes compactions (background and `Db::compact`).
    pub compaction_lock: Mutex<()>,
    /// Bytes copied by compaction.
    pub bytes_compacted: AtomicU64,
    /// Segment files deleted after compaction.
    pub segments_deleted: AtomicU64,
    /// Keys dropped by cache-mode eviction.
    pub evictions: AtomicU64,
    /// Records read for a lookup that turned out to hold another key (index entries share
    /// 36 bits of hash); a figure of the index's precision, see index.rs.
    pub false_candidate_reads: AtomicU64,
    /// Index entries that are chunks of streamed values, not keys.
    pub chunk_entries: AtomicU64,
    /// Index entries that are pages of collections, not keys.
    pub page_entries: AtomicU64,
    /// Paged collection incarnations with current heads (see collection/epochs.rs).
    pub epochs: Mutex<HashMap<u64, crate::collection::epochs::LiveEpoch>>,
    /// Incarnations whose pages wait to be freed.
    pub dead_epochs: Mutex<Vec<crate::collection::epochs::DeadEpoch>>,
    /// Held shared by collection reads (a head and its pages) and exclusively while a batch
    /// holding collection records updates the index, so a reader never sees a head with
    /// pages of another version of it (a split moves members between pages).
    pub publish: parking_lot::RwLock<()>,
    /// Layout thresholds of collections (Redis's `*-max-listpack-*` settings).
    pub collection_limits: parking_lot::RwLock<crate::collection::access::CollectionLimits>,
    /// Set when the store is closing: long work (compaction) stops early.
    pub stopping: std::sync::atomic::AtomicBool,
}

/// `oldest_snapshot` when no snapshot is open.
pub(crate) const NO_SNAPSHOT: u64 = u64::MAX;

impl Store {
    /// The refusal, if a failed write or sync stopped the store accepting writes.
    /// REQUIRES: the caller does not hold `writer`.
    pub fn poisoned(&self) -> Option<Error> {
        self.writer.lock().poisoned()
    }

    /// Finds the newest record of `key` and hands it to `f`. A candidate whose record is
    /// damaged is skipped if another candidate matches, and reported otherwise.
    pub fn lookup<T>(&self, key: &[u8], hash: u64, f: impl FnOnce(u64, &Arc<Segment>, &RecordRef<'_>) -> T) -> Result<Option<T>> {
        self.lookup_namespace(Namespace::Keys, key, hash, f)
    }

    /// `lookup` in a namespace: user keys, or the chunks of streamed values.
    pub fn lookup_namespace<T>(
        &self,
        namespace: Namespace,
        key: &[u8],
        hash: u64,
        f: impl FnOnce(u64, &Arc<Segment>, &RecordRef<'_>) -> T,
    ) -> Result<Option<T>> {
        loop {
            let table = self.table.load();
            let candidates = self.index.candidates(hash);
            if candidates.is_empty() {
                return Ok(None);
            }
            // The table must be the one that was current while the index was read, or a
            // slot could name a segment the address does not belong to.
            if !std::ptr::eq(Arc::as_ptr(&table), Arc::as_ptr(&self.table.load())) {
                continue;
            }
            // The matching record, and damage that may be this key's newer version: a
            // damaged record whose key still reads as this one, or whose header is unreadable.
            let mut found: Option<(u64, &Arc<Segment>, RecordRef<'_>)> = None;
            let mut damage: Option<(Error, Option<u64>)> = None;
            for address in candidates.iter() {
                let (slot, offset) = self.codec.decode(address);
                let Some(segment) = table.get(slot) else {
                    let e = Error::corruption(&self.dir, offset, format!("index names segment slot {slot}, which is not open"));
                    damage.get_or_insert((e, None));
                    continue;
                };
                match segment.record_at(offset) {
                    Ok(rec) if rec.key == key && Namespace::of(rec.header.kind) == namespace => {
                        if found.as_ref().is_none_or(|(_, _, f)| f.header.seq < rec.header.seq) {
                            found = Some((address, segment, rec));
                        }
                    }
                    Ok(rec) => {
                        if rec.key != key {
                            self.false_candidate_reads.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => match segment.key_at(offset) {
                        Ok((h, _)) if Namespace::of(h.kind) != namespace => {} // another namespace's
                        // A damaged record under this key's hash is this key's possible newer
                        // version even when its key reads differently: the damage may be in the
                        // key bytes (a bit flip there once made a read return the previous value
                        // silently). Another key sharing the hash fragment is rare; then the cost
                        // is an error for this key until repair, never a wrong value.
                        Ok((h, _)) => {
                            if damage.as_ref().is_none_or(|(_, s)| s.is_some_and(|s| s < h.seq)) {
                                damage = Some((e, Some(h.seq)));
                            }
                        }
                        Err(_) => damage = Some((e, None)),
                    },
                }
            }
            return match (found, damage) {
                // Only an older version is damaged: the newest one reads fine.
                (Some((address, segment, rec)), Some((_, Some(damaged_seq)))) if damaged_seq < rec.header.seq => {
                    Ok(Some(f(address, segment, &rec)))
                }
                // The newest version may be the damaged one: never answer with an older one.
                (_, Some((e, _))) => Err(e),
                (Some((address, segment, rec)), None) => Ok(Some(f(address, segment, &rec))),
                (None, None) => Ok(None),
            };
        }
    }

    /// The current record of `key` for a writer: damaged candidates count as other keys.
    /// Compares keys without verifying whole-record checksums (the value may be large and
    /// is not read here); readers verify every record they return.
    pub fn current_record(&self, key: &[u8], hash: u64) -> Option<Found> {
        self.current_record_in(Namespace::Keys, key, hash)
    }

    /// `current_record` in a namespace: user keys, chunks or pages.
    pub fn current_record_in(&self, namespace: Namespace, key: &[u8], hash: u64) -> Option<Found> {
        loop {
            let table = self.table.load();
            let candidates = self.index.candidates(hash);
            if candidates.is_empty() {
                return None;
            }
            if !std::ptr::eq(Arc::as_ptr(&table), Arc::as_ptr(&self.table.load())) {
                continue;
            }
            for address in candidates.iter() {
                let (slot, offset) = self.codec.decode(address);
                let Some(segment) = table.get(slot) else { continue };
                match segment.key_at(offset) {
                    Ok((header, k)) if k == key && Namespace::of(header.kind) == namespace => {
                        return Some(Found { address, segment: segment.clone(), header })
                    }
                    Ok((_, k)) => {
                        if k != key {
                            self.false_candidate_reads.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => tracing::warn!("ignoring an unreadable index candidate while writing: {e}"),
                }
            }
            return None;
        }
    }

    /// True if a record with this deadline is expired now.
    pub fn is_expired(&self, expires_at_ms: u64) -> bool {
        expires_at_ms != 0 && expires_at_ms <= self.options.clock.now_ms()
    }

    /// Marks a record that stops being its key's current version (superseded by the
    /// write with sequence `superseded_at`) as garbage, and remembers it while snapshots
    /// that may still read it are open. Call it *before* the index stops pointing at the
    /// record, so a snapshot read never finds the record in neither place.
    pub fn supersede(&self, hash: u64, found: &Found, superseded_at: u64) {
        if found.header.kind.holds_data() {
            found.segment.sub_live(found.header.record_len());
        }
        if found.header.kind == RecordKind::Put {
            match found.header.codec {
                crate::codec::CHUNKED => self.retire_chunks(found, superseded_at),
                crate::codec::COLLECTION => self.note_head_superseded(found, superseded_at),
                _ => {}
            }
        }
        self.keep_for_snapshots(hash, found.address, superseded_at);
    }

    /// Remembers a superseded record for open snapshots (if any).
    pub fn keep_for_snapshots(&self, hash: u64, address: u64, superseded_at: u64) {
        if self.oldest_snapshot.load(Ordering::Acquire) != NO_SNAPSHOT {
            self.history.lock().entry(hash).or_default().push((address, superseded_at));
        }
    }
}
