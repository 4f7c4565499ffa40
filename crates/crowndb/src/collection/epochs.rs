//! Which collection incarnations are alive, and freeing the pages of dead ones.
//!
//! A page's key names its epoch, not its collection's key (so RENAME moves only the head).
//! A page is live while a current head names its epoch: `Store::epochs` counts the current
//! heads of each paged epoch (normally one; RENAME briefly makes it two, then one). When the
//! count drops to zero (DEL, overwrite, expiry dropped by compaction), the epoch is queued as
//! dead and the command that killed it returns: its pages become garbage at once, which
//! compaction skips, and a background pass takes their index entries out and counts their
//! bytes dead (`free_dead_epochs`, under the compaction lock, once no snapshot can read
//! them). After a crash the queue is gone; open finds the pages of dead epochs itself
//! (`sweep_pages_at_open`).
//!
//! REQUIRES: `note_head_indexed` and `note_head_superseded` are called under the writer
//! lock, as every index change of a head is.

use std::sync::atomic::Ordering;

use super::head::{self, page_key, parse_page_key};
use crate::hash::key_hash;
use crate::segment::Segment;
use crate::store::{Found, Namespace, Store};

/// The epoch of a paged head record at `offset`, if it is one.
fn paged_epoch_of(segment: &Segment, offset: u64, codec: u8) -> Option<u64> {
    if codec != crate::codec::COLLECTION {
        return None;
    }
    // The layout byte first, without verifying the whole record: an inline head (the common
    // case, rewritten by every command on a small collection) needs nothing more.
    let (header, key) = segment.key_at(offset).ok()?;
    let value_at = offset + crate::record::HEADER_LEN as u64 + key.len() as u64;
    if !head::is_paged(segment.raw_bytes(value_at, u64::from(header.value_len).min(3))) {
        return None;
    }
    let rec = segment.record_at(offset).ok()?;
    head::paged_state(rec.value).map(|(epoch, _)| epoch)
}

/// A paged incarnation with current heads.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LiveEpoch {
    heads: u32,
    /// Buckets of the newest head: the pages that may exist.
    buckets: u64,
}

/// An incarnation whose pages wait to be freed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeadEpoch {
    epoch: u64,
    buckets: u64,
    /// Sequence number of the write that killed it: snapshots older than it may read it.
    died_at: u64,
}

impl Store {
    /// A head record became current.
    pub(crate) fn note_head_indexed(&self, value: &[u8]) {
        // Every write of a head passes here: its fixed fields only, no member decoded.
        if let Some((epoch, buckets)) = head::paged_state(value) {
            let mut epochs = self.epochs.lock();
            let e = epochs.entry(epoch).or_default();
            e.heads += 1;
            e.buckets = e.buckets.max(buckets);
        }
    }

    /// A head record stopped being current (superseded, deleted, expired and dropped).
    pub(crate) fn note_head_superseded(&self, found: &Found, superseded_at: u64) {
        let (_, offset) = self.codec.decode(found.address);
        self.note_head_gone(&found.segment, offset, found.header.codec, superseded_at);
    }

    /// `note_head_superseded` for the record at `offset` of `segment`, whose codec is `codec`.
    pub(crate) fn note_head_gone(&self, segment: &Segment, offset: u64, codec: u8, superseded_at: u64) {
        let Some(epoch) = paged_epoch_of(segment, offset, codec) else { return };
        let mut epochs = self.epochs.lock();
        let Some(e) = epochs.get_mut(&epoch) else { return };
        e.heads = e.heads.saturating_sub(1);
        if e.heads == 0 {
            let buckets = e.buckets;
            epochs.remove(&epoch);
            self.dead_epochs.lock().push(DeadEpoch { epoch, buckets, died_at: superseded_at });
        }
    }

    /// True while a current head names this epoch.
    pub(crate) fn epoch_is_live(&self, epoch: u64) -> bool {
        self.epochs.lock().contains_key(&epoch)
    }

    /// Takes the pages of dead epochs out of the index and counts their bytes dead, for the
    /// epochs no open snapshot can still read. Returns the pages freed.
    /// REQUIRES: the compaction lock (compaction moves pages; this must not race it).
    pub(crate) fn free_dead_epochs(&self) -> u64 {
        let oldest_snapshot = self.oldest_snapshot.load(Ordering::Acquire);
        let ready: Vec<DeadEpoch> = {
            let mut dead = self.dead_epochs.lock();
            let (ready, wait) = dead.drain(..).partition(|d| d.died_at < oldest_snapshot);
            *dead = wait;
            ready
        };
        let mut freed = 0;
        for d in ready {
            if self.epoch_is_live(d.epoch) {
                continue; // a head naming it came back (RENAME deletes then writes in one batch)
            }
            for bucket in 0..d.buckets {
                let key = page_key(d.epoch, bucket);
                let hash = key_hash(&key);
                if let Some(found) = self.current_record_in(Namespace::Pages, &key, hash) {
                    if self.index.remove(hash, found.address) {
                        found.segment.sub_live(found.header.record_len());
                        self.page_entries.fetch_sub(1, Ordering::Relaxed);
                        freed += 1;
                    }
                }
            }
        }
        freed
    }

    /// At open: learns the live epochs from the current paged heads, then takes out of the
    /// index every page of another epoch (left by a DEL whose pages were not yet freed when
    /// the process stopped, or by a command a crash cut before its head was written).
    /// `heads` and `pages` are (hash, address) of the footer entries of those kinds.
    pub(crate) fn sweep_pages_at_open(&self, heads: &[(u64, u64)], pages: &[(u64, u64)]) {
        let table = self.table.load();
        let read = |address: u64| {
            let (slot, offset) = self.codec.decode(address);
            table.get(slot).and_then(|s| s.record_at(offset).ok().map(|r| (r.header, r.value.to_vec(), r.key.to_vec(), s.clone())))
        };
        for &(hash, address) in heads {
            if !self.index.contains_exact(hash, address) {
                continue;
            }
            if let Some((h, value, _, _)) = read(address) {
                if !self.is_expired(h.expires_at_ms) {
                    self.note_head_indexed(&value);
                }
            }
        }
        let mut live_pages = 0;
        for &(hash, address) in pages {
            if !self.index.contains_exact(hash, address) {
                continue; // an older version of a page
            }
            let (slot, offset) = self.codec.decode(address);
            let Some(segment) = table.get(slot) else { continue };
            let Ok((header, key)) = segment.key_at(offset) else {
                live_pages += 1; // unreadable: kept, so reads report the damage
                continue;
            };
            match parse_page_key(key) {
                Some((epoch, _)) if self.epoch_is_live(epoch) => live_pages += 1,
                _ => {
                    if self.index.remove(hash, address) {
                        segment.sub_live(header.record_len());
                    }
                }
            }
        }
        self.page_entries.store(live_pages, Ordering::Relaxed);
    }
}
