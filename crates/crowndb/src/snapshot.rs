//! Snapshots: read-only views of the store as of one sequence number.
//!
//! Taking one copies nothing. The index keeps only each key's newest record, so while
//! snapshots are open, writers remember every record they supersede (`Store::history`,
//! with the sequence number that superseded it), and compaction keeps the segments those
//! records live in (`Store::retired`). A snapshot at sequence `S` sees, for each key, the
//! record with the highest sequence `<= S` among the current one and the remembered ones
//! still valid at `S` (superseded after `S`). Dropping the last snapshot forgets all that.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::entry::Entry;
use crate::error::Result;
use crate::hash::key_hash;
use crate::record::{RecordKind, RecordRef};
use crate::segment::Segment;
use crate::store::{Namespace, Store, NO_SNAPSHOT};

/// A consistent, read-only view of a store at the moment it was taken. Cheap to take,
/// holds no copy of the data; release it (drop it) when done, since compaction cannot
/// delete files an open snapshot may need.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
/// db.put(b"k", b"old").unwrap();
/// let snap = db.snapshot();
/// db.put(b"k", b"new").unwrap();
/// db.delete(b"k").unwrap();
/// assert_eq!(snap.get(b"k").unwrap(), Some(b"old".to_vec()));
/// assert_eq!(db.get(b"k").unwrap(), None);
/// ```
pub struct Snapshot {
    pub(crate) inner: Arc<Store>,
    seq: u64,
    taken_at_ms: u64,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("sequence", &self.seq).finish()
    }
}

impl Snapshot {
    pub(crate) fn take(inner: &Arc<Store>) -> Snapshot {
        // Registering under the writer lock orders the snapshot against every write:
        // writes before it are at or below `seq`; writes after it see it registered.
        let w = inner.writer.lock();
        let seq = w.next_seq - 1;
        let mut open = inner.snapshots.lock();
        *open.entry(seq).or_default() += 1;
        let oldest = *open.keys().next().expect("just inserted");
        inner.oldest_snapshot.store(oldest, Ordering::Release);
        drop(open);
        drop(w);
        Snapshot { inner: inner.clone(), seq, taken_at_ms: inner.options.clock.now_ms() }
    }

    /// Every live `(key, value)` pair at this snapshot, unordered, streaming.
    pub fn iter(self) -> crate::Iter {
        crate::Iter::new(self)
    }

    /// The sequence number of the last write this snapshot sees.
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// The value `key` had when the snapshot was taken.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.get_entry(key)?.map(|e| e.value))
    }

    /// The value of `key`, with its metadata, when the snapshot was taken.
    pub fn get_entry(&self, key: &[u8]) -> Result<Option<Entry>> {
        let taken_at = self.taken_at_ms;
        let inner = &self.inner;
        self.visible(Namespace::Keys, key, |address, segment, _, rec| {
            let expires = rec.header.expires_at_ms;
            let live = rec.header.kind == RecordKind::Put && (expires == 0 || expires > taken_at);
            live.then(|| Entry::from_record(inner, rec, segment, inner.codec.decode(address).1, |k| self.visible_chunk(k)))
        })?
        .transpose()
    }

    /// The visible put of `key` in stored form: its metadata (empty value), codec and bytes.
    pub(crate) fn visible_raw(&self, key: &[u8]) -> Result<Option<(Entry, u8, Vec<u8>)>> {
        let taken_at = self.taken_at_ms;
        self.visible(Namespace::Keys, key, |_, _, _, rec| {
            let expires = rec.header.expires_at_ms;
            let live = rec.header.kind == RecordKind::Put && (expires == 0 || expires > taken_at);
            let meta = Entry {
                value: Vec::new(),
                version: rec.header.seq,
                flags: rec.header.flags,
                expires_at_ms: (expires != 0).then_some(expires),
            };
            live.then(|| (meta, rec.header.codec, rec.value.to_vec()))
        })
    }

    /// The decoded bytes of the chunk with this key, as of the snapshot.
    pub(crate) fn visible_chunk(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let inner = &self.inner;
        self.visible(Namespace::Chunks, key, |address, segment, _, rec| {
            Some(rec.decoded_value().map_err(|why| crate::Error::corruption(&segment.path, inner.codec.decode(address).1, why)))
        })?
        .transpose()
    }

    /// Where the version of `key` this snapshot sees is, if it sees one.
    pub(crate) fn visible_version(&self, key: &[u8]) -> Result<Option<Visible>> {
        let taken_at = self.taken_at_ms;
        self.visible(Namespace::Keys, key, |address, _, from_history, rec| {
            let expires = rec.header.expires_at_ms;
            (rec.header.kind == RecordKind::Put && (expires == 0 || expires > taken_at)).then_some(Visible {
                seq: rec.header.seq,
                address,
                from_history,
            })
        })
    }

    /// Finds the record of `key` visible at this snapshot and maps it with `f`.
    /// `f` gets the record's address, whether it came from the remembered history (rather
    /// than the index), and the record.
    fn visible<T>(
        &self,
        namespace: Namespace,
        key: &[u8],
        f: impl Fn(u64, &Segment, bool, &RecordRef<'_>) -> Option<T>,
    ) -> Result<Option<T>> {
        let inner = &self.inner;
        let hash = key_hash(key);
        let current = inner.lookup_namespace(namespace, key, hash, |address, segment, rec| {
            (rec.header.seq <= self.seq).then(|| f(address, segment, false, rec))
        })?;
        if let Some(Some(found)) = current {
            return Ok(found);
        }
        // The current version is newer than the snapshot (or gone): look among the
        // superseded versions remembered for open snapshots.
        let remembered: Vec<(u64, u64)> = inner.history.lock().get(&hash).cloned().unwrap_or_default();
        let table = inner.table.load();
        let mut best: Option<(u64, Option<T>)> = None;
        for (address, superseded_at) in remembered {
            if superseded_at <= self.seq {
                continue;
            }
            let (slot, offset) = inner.codec.decode(address);
            let Some(segment) = table.get(slot) else { continue };
            let rec = segment.record_at(offset)?;
            if rec.key == key
                && Namespace::of(rec.header.kind) == namespace
                && rec.header.seq <= self.seq
                && best.as_ref().is_none_or(|(s, _)| *s < rec.header.seq)
            {
                best = Some((rec.header.seq, f(address, segment, true, &rec)));
            }
        }
        Ok(best.and_then(|(_, v)| v))
    }
}

/// The location of the version of a key a snapshot sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Visible {
    pub seq: u64,
    pub address: u64,
    /// Found among superseded versions (not current in the index any more).
    pub from_history: bool,
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.inner.release_snapshot(self.seq);
    }
}

impl Store {
    fn release_snapshot(&self, seq: u64) {
        let oldest = {
            let mut open = self.snapshots.lock();
            if let Some(n) = open.get_mut(&seq) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&seq);
                }
            }
            let oldest = open.keys().next().copied().unwrap_or(NO_SNAPSHOT);
            self.oldest_snapshot.store(oldest, Ordering::Release);
            oldest
        };
        {
            let mut history = self.history.lock();
            if oldest == NO_SNAPSHOT {
                history.clear();
            } else {
                // A remembered record is visible only to snapshots older than the write
                // that superseded it.
                history.retain(|_, versions| {
                    versions.retain(|&(_, superseded_at)| superseded_at > oldest);
                    !versions.is_empty()
                });
            }
        }
        self.delete_retired_segments();
    }
}
