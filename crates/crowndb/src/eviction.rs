//! Cache mode: with a disk budget (`Options::max_disk_bytes`), the oldest sealed segments
//! are dropped whole when the store's segments outgrow it, the way a segment-structured
//! cache (Pelikan's) evicts: no per-key bookkeeping, one file at a time.
//!
//! Dropping a segment removes its keys from the index (counted as evictions). A dropped
//! record may have hidden older puts of its key held elsewhere (copies compaction made
//! before a newer write), so for each dropped record that some remaining segment could
//! still hold an older put for (its lowest put sequence is below the record's), a
//! tombstone with the dropped record's sequence number is written: after a restart, an
//! evicted key stays evicted rather than coming back stale.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::compaction::Retired;
use crate::error::Result;
use crate::record::{self, encoded_len, RecordKind, RecordMeta};
use crate::segment::{Role, Segment, SEGMENT_HEADER_LEN};
use crate::store::{Store, NO_SNAPSHOT};

impl Store {
    /// Bytes of the segments' data, retired and evicted ones (about to be deleted)
    /// excepted: what the disk budget is compared with.
    fn data_bytes(&self) -> u64 {
        self.table.load().by_generation().iter().filter(|s| !s.role().is_leaving()).map(|s| s.data_len()).sum()
    }

    /// Drops oldest segments while the store is over its disk budget. Returns how many.
    pub fn evict_over_budget(&self) -> Result<usize> {
        let Some(budget) = self.options.max_disk_bytes else { return Ok(0) };
        let mut dropped = 0;
        while self.data_bytes() > budget {
            let Some(oldest) = self.all_sealed().into_iter().next() else { break };
            self.evict_segment(&oldest)?;
            dropped += 1;
        }
        Ok(dropped)
    }

    fn evict_segment(&self, victim: &Arc<Segment>) -> Result<()> {
        let _one_at_a_time = self.compaction_lock.lock();
        if victim.role() != Role::Data {
            return Ok(());
        }
        let entries = victim.read_footer_entries()?;
        let others_min_seq = self
            .table
            .load()
            .by_generation()
            .iter()
            .filter(|s| s.generation != victim.generation && s.role() != Role::Evicted)
            .map(|s| s.min_put_seq())
            .min()
            .unwrap_or(u64::MAX);
        let mut evicted = 0u64;
        for chunk in entries.chunks(4096) {
            // Read what is needed first: no disk read happens under the writer lock.
            let mut planned = Vec::with_capacity(chunk.len());
            for e in chunk {
                let (header, key) = victim.key_at(e.offset)?;
                planned.push((e, self.codec.encode(victim.slot, e.offset), header.seq, key));
            }
            let mut w = self.writer.lock();
            w.check_writable()?;
            for (e, address, seq, key) in planned {
                let current = e.kind.holds_data() && self.index.contains_exact(e.hash, address);
                if current {
                    if self.oldest_snapshot.load(Ordering::Acquire) != NO_SNAPSHOT {
                        self.history.lock().entry(e.hash).or_default().push((address, w.next_seq));
                    }
                    self.index.remove(e.hash, address);
                    if e.kind == RecordKind::Chunk {
                        self.chunk_entries.fetch_sub(1, Ordering::Relaxed);
                    } else if e.kind == RecordKind::Page {
                        // A cache drops part of a large collection with its segment
                        // (docs/architecture.md, "Cache mode and collections").
                        self.page_entries.fetch_sub(1, Ordering::Relaxed);
                    } else {
                        if let Ok(h) = victim.header_at(e.offset) {
                            self.note_head_gone(victim, e.offset, h.codec, w.next_seq);
                        }
                        evicted += 1;
                    }
                }
                // A record older ones may hide behind must keep hiding them once it is gone.
                if (e.kind == RecordKind::Put && current || e.kind == RecordKind::Delete) && seq >= others_min_seq {
                    let meta = RecordMeta { kind: RecordKind::Delete, codec: 0, flags: 0, seq, expires_at_ms: 0 };
                    self.append(&mut w, encoded_len(key.len(), 0), |buf| record::encode_into(buf, meta, key, &[]))?;
                }
            }
        }
        victim.sub_live(victim.live_bytes());
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
        let (retire_seq, wait_for) = self.retirement_point();
        {
            let _roles = self.roles_lock.lock();
            victim.set_role(Role::Evicted);
        }
        self.retired.lock().push(Retired { segment: victim.clone(), retire_seq, wait_for });
        tracing::debug!("evicted {} ({} keys, {} bytes)", victim.path.display(), evicted, victim.data_len() - SEGMENT_HEADER_LEN);
        Ok(())
    }
}
