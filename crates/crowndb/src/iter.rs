//! Iteration over every live (key, value) pair at a snapshot, unordered and streaming.
//!
//! It walks the records of the data segments and the retired (compacted, not yet deleted)
//! segments there were when it started, not compaction outputs in progress, and yields a
//! put when it is the version of its key the snapshot sees:
//!
//! - from a data segment, when it is at the address the store resolves that version to,
//!   or that address is outside the walked segments (compaction moved the version
//!   meanwhile: the copy the walk meets is the one to yield);
//! - from a retired segment, only for versions no longer current (found among the
//!   remembered superseded versions) and at exactly their address: current versions
//!   always have a copy in a data segment or an output.
//!
//! So each pair comes once. The one exception: a store reopened after a crash interrupted
//! a compaction (two copies of a version on disk) whose version is moved again while the
//! walk runs may yield it twice. Memory stays flat; writers and compaction run on.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::entry::Entry;
use crate::error::Result;
use crate::record::{self, RecordKind, RecordRef};
use crate::segment::{Role, Segment, SEGMENT_HEADER_LEN};
use crate::snapshot::Snapshot;

/// The walk shared by [`Iter`] and [`EntryIter`].
struct Walk {
    snapshot: Snapshot,
    /// Segments to walk, and whether each was retired when the walk started.
    segments: Vec<(Arc<Segment>, bool)>,
    segment: usize,
    offset: u64,
    ready: VecDeque<(Vec<u8>, Entry)>,
}

impl Walk {
    fn new(snapshot: Snapshot) -> Walk {
        let segments = {
            let _roles = snapshot.inner.roles_lock.lock();
            let all = snapshot.inner.table.load().by_generation();
            all.into_iter().filter(|s| s.role() != Role::CompactionOutput).map(|s| (s.clone(), s.role().is_leaving())).collect()
        };
        Walk { snapshot, segments, segment: 0, offset: SEGMENT_HEADER_LEN, ready: VecDeque::new() }
    }

    /// Reads the next record (or batch of records) and queues the visible ones.
    /// Returns false when every segment is done.
    fn advance(&mut self) -> Result<bool> {
        loop {
            let Some((segment, retired)) = self.segments.get(self.segment).cloned() else { return Ok(false) };
            if self.offset >= segment.data_len() {
                self.segment += 1;
                self.offset = SEGMENT_HEADER_LEN;
                continue;
            }
            let at = self.offset;
            let rec = segment.record_at(at)?;
            self.offset += rec.header.record_len();
            let codec = self.snapshot.inner.codec;
            if rec.header.kind == RecordKind::Batch {
                let mut inner_at = at + record::HEADER_LEN as u64;
                let mut inner = rec.value;
                while !inner.is_empty() {
                    let r = record::decode(inner).map_err(|e| crate::Error::corruption(&segment.path, inner_at, e.to_string()))?;
                    self.offer(codec.encode(segment.slot, inner_at), retired, &r)?;
                    let len = r.header.record_len();
                    inner = &inner[len as usize..];
                    inner_at += len;
                }
            } else {
                self.offer(codec.encode(segment.slot, at), retired, &rec)?;
            }
            return Ok(true);
        }
    }

    fn offer(&mut self, address: u64, retired: bool, rec: &RecordRef<'_>) -> Result<()> {
        let (key, seq) = (rec.key, rec.header.seq);
        if rec.header.kind != RecordKind::Put || seq > self.snapshot.sequence() {
            return Ok(());
        }
        let Some(visible) = self.snapshot.visible_version(key)? else { return Ok(()) };
        let take = visible.seq == seq
            && if retired {
                visible.from_history && visible.address == address
            } else {
                visible.address == address || !self.walks_segment_of(visible.address)
            };
        if take {
            let inner = &self.snapshot.inner;
            let (slot, offset) = inner.codec.decode(address);
            let table = inner.table.load();
            let segment =
                table.get(slot).ok_or_else(|| crate::Error::corruption(&inner.dir, offset, "record of a segment no longer open"))?;
            let snapshot = &self.snapshot;
            self.ready.push_back((key.to_vec(), Entry::from_record(inner, rec, segment, offset, |k| snapshot.visible_chunk(k))?));
        }
        Ok(())
    }

    /// True if `address` is in a segment this iterator walks.
    fn walks_segment_of(&self, address: u64) -> bool {
        let inner = &self.snapshot.inner;
        let (slot, _) = inner.codec.decode(address);
        let table = inner.table.load();
        table.get(slot).is_some_and(|s| self.segments.iter().any(|(w, _)| Arc::ptr_eq(w, s)))
    }
}

impl Walk {
    fn next_entry(&mut self) -> Option<Result<(Vec<u8>, Entry)>> {
        while self.ready.is_empty() {
            match self.advance() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    // Skip the damaged segment's rest rather than loop on it.
                    self.segment += 1;
                    self.offset = SEGMENT_HEADER_LEN;
                    return Some(Err(e));
                }
            }
        }
        self.ready.pop_front().map(Ok)
    }
}

/// An iterator over `(key, value)` pairs at a snapshot; see [`Db::iter`](crate::Db::iter).
pub struct Iter {
    walk: Walk,
}

impl Iter {
    pub(crate) fn new(snapshot: Snapshot) -> Iter {
        Iter { walk: Walk::new(snapshot) }
    }

    /// The snapshot being iterated.
    pub fn snapshot(&self) -> &Snapshot {
        &self.walk.snapshot
    }

    /// The same walk, yielding each value with its version, flags and deadline.
    pub fn with_metadata(self) -> EntryIter {
        EntryIter { walk: self.walk }
    }
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.walk.next_entry().map(|r| r.map(|(k, e)| (k, e.value)))
    }
}

/// An iterator over `(key, entry)` pairs at a snapshot; see [`Iter::with_metadata`].
pub struct EntryIter {
    walk: Walk,
}

impl Iterator for EntryIter {
    type Item = Result<(Vec<u8>, Entry)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.walk.next_entry()
    }
}
