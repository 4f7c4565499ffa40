//! Compaction: copy the live records of mostly-dead segments into new segments, point the
//! index at the copies, and delete the old files once no snapshot can read them.
//!
//! Rules that keep it correct:
//! - A copy is byte-for-byte the original (same sequence number, same checksum), so after a
//!   crash with both on disk, recovery keeps one (equal sequence numbers are one version).
//! - The index is updated only where it still points at the original (`Index::replace` on
//!   the exact old address), under the writer lock and with no I/O: a concurrent overwrite
//!   always wins, and readers never wait for compaction's I/O.
//! - A tombstone (or an expired put, rewritten as a tombstone) is dropped only if every
//!   other segment on disk holds only newer puts (`min_put_seq`), so no older version of
//!   its key can come back at the next open. Otherwise it is copied forward.
//! - An old segment is deleted only after its copies are synced, after every write that
//!   superseded one of its records is synced (else a power failure could lose both the new
//!   version and the old one), and only once no open snapshot is older than the
//!   compaction (it may hold versions a snapshot reads).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::footer::FooterEntry;
use crate::record::{self, RecordKind, RecordMeta, HEADER_LEN};
use crate::segment::{self, Role, Segment, SEGMENT_HEADER_LEN};
use crate::store::{Store, NO_SNAPSHOT};

/// Records are planned, copied and switched in the index this many at a time.
const WINDOW_RECORDS: usize = 4096;

/// What one compaction pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Segments compacted (and retired).
    pub segments: usize,
    /// Bytes of records copied forward.
    pub bytes_copied: u64,
    /// Bytes the compacted segments held.
    pub bytes_reclaimed: u64,
}

/// A record's fate, decided while scanning a window of a victim segment.
enum Plan {
    /// A live put: copy it and move the index entry.
    Move { hash: u64, old: u64, offset: u64, len: u64, seq: u64 },
    /// A tombstone that may still hide an older version: copy it.
    KeepTombstone { offset: u64, len: u64, seq: u64 },
    /// A live but expired put: drop it from the index; keep a tombstone if needed.
    Expire { hash: u64, old: u64, offset: u64, len: u64, seq: u64, keep_tombstone: bool },
    /// A page of a dead collection incarnation: drop it from the index (no tombstone: an
    /// older copy of it is dead too, and open sweeps it).
    DropPage { hash: u64, old: u64, len: u64 },
}

/// A compacted segment waiting to be deleted.
pub(crate) struct Retired {
    pub segment: Arc<Segment>,
    /// Next sequence number when it was retired: snapshots older than that may read it.
    pub retire_seq: u64,
    /// Segments and lengths that must be synced first (the writes that superseded its
    /// records are among them).
    pub wait_for: Vec<(Arc<Segment>, u64)>,
}

/// Settings shared by every segment of one compaction pass.
#[derive(Clone, Copy)]
struct Pass {
    /// Lowest sequence number outside the victims: older tombstones hide nothing.
    others_min_seq: u64,
    bytes_per_sec: Option<u64>,
    started: Instant,
    /// Test-only: stop dead after this many bytes copied.
    budget: Option<u64>,
}

/// Why the compaction of one segment stopped before its end.
enum Stop {
    /// The store is closing.
    Closing,
    /// The test-only byte budget ran out.
    Interrupted,
    /// A damaged record or an I/O error.
    Failed(Error),
}
use Stop::Interrupted;

/// The segment copies go to, created on first use, and those already filled.
struct Output {
    segment: Option<Arc<Segment>>,
    finished: Vec<Arc<Segment>>,
}

impl Store {
    /// Segments worth compacting now, best first: sealed data segments whose dead share is
    /// at least the configured ratio, when the store's space amplification is above the
    /// trigger or a segment is mostly dead. Empty if there is nothing to do.
    pub fn pick_victims(&self, limit: usize) -> Vec<Arc<Segment>> {
        let table = self.table.load();
        let active = self.writer.lock().active.generation;
        let all = table.by_generation();
        let (mut data, mut live) = (0u64, 0u64);
        for s in &all {
            data += s.data_len().saturating_sub(SEGMENT_HEADER_LEN);
            live += s.live_bytes();
        }
        let space_amp = if live == 0 { f64::INFINITY } else { data as f64 / live as f64 };
        let ratio = |s: &Segment| s.dead_bytes() as f64 / (s.data_len().saturating_sub(SEGMENT_HEADER_LEN)).max(1) as f64;
        let mut candidates: Vec<_> = all
            .into_iter()
            .filter(|s| s.generation != active && s.is_sealed() && s.role() == Role::Data)
            .filter(|s| ratio(s) >= self.options.compaction_min_dead_ratio)
            .collect();
        candidates.sort_by(|a, b| ratio(b).total_cmp(&ratio(a)));
        let urgent = candidates.first().is_some_and(|s| ratio(s) >= 0.5);
        if !(urgent || space_amp > self.options.compaction_space_amp_trigger) {
            return Vec::new();
        }
        candidates.truncate(limit);
        candidates
    }

    /// Every sealed data segment, for a full compaction.
    pub fn all_sealed(&self) -> Vec<Arc<Segment>> {
        let active = self.writer.lock().active.generation;
        self.table
            .load()
            .by_generation()
            .into_iter()
            .filter(|s| s.generation != active && s.is_sealed() && s.role() == Role::Data)
            .collect()
    }

    /// Compacts `victims`, copying at most `bytes_per_sec` (if given). With `sync_now`,
    /// the old files are deleted at once (after a sync); otherwise once the log is synced.
    pub fn compact_segments(&self, victims: Vec<Arc<Segment>>, bytes_per_sec: Option<u64>, sync_now: bool) -> Result<CompactionReport> {
        self.compact_with_budget(victims, bytes_per_sec, None, sync_now)
    }

    /// Compacts `victims`; with a `budget`, stops dead once that many bytes are copied and
    /// leaves everything as a crash at that moment would (output unsealed, nothing retired).
    pub fn compact_with_budget(
        &self,
        victims: Vec<Arc<Segment>>,
        bytes_per_sec: Option<u64>,
        budget: Option<u64>,
        sync_now: bool,
    ) -> Result<CompactionReport> {
        let _one_at_a_time = self.compaction_lock.lock();
        self.free_dead_epochs();
        // After a failed write or sync nothing may be deleted: a source's copy may be lost.
        if let Some(refused) = self.poisoned() {
            return Err(refused);
        }
        // Chosen before the lock was ours: another pass may have compacted some meanwhile.
        let victims: Vec<_> = victims.into_iter().filter(|v| v.role() == Role::Data && v.is_sealed()).collect();
        let mut report = CompactionReport::default();
        if victims.is_empty() {
            return Ok(report);
        }
        // A tombstone in a victim can go if every other segment holds only newer puts.
        // Other victims count too: they are deleted one file at a time, and a crash
        // between two deletions must not leave an older record without its tombstone.
        let segments = self.table.load().by_generation();
        let others_min_seq: Vec<u64> = victims
            .iter()
            .map(|v| segments.iter().filter(|s| s.generation != v.generation).map(|s| s.min_put_seq()).min().unwrap_or(u64::MAX))
            .collect();
        drop(segments);
        let mut output = Output { segment: None, finished: Vec::new() };
        let started = Instant::now();
        let mut done = Vec::new();
        for (victim, &others_min_seq) in victims.iter().zip(&others_min_seq) {
            let pass = Pass { others_min_seq, bytes_per_sec, started, budget };
            match self.compact_one(victim, &pass, &mut output, &mut report) {
                Ok(()) => done.push(victim.clone()),
                Err(Interrupted) if budget.is_some() => return Ok(report),
                Err(Stop::Closing) => break,
                Err(Interrupted) => break,
                Err(Stop::Failed(e)) => {
                    tracing::error!("compaction of {} stopped: {e}; the segment is left as it is", victim.path.display());
                    break;
                }
            }
            if let Some(refused) = self.poisoned() {
                return Err(refused);
            }
        }
        // A pass that did not get through every victim retires none (their live records are
        // in the outputs by now; the next pass finds them dead and retires them).
        if done.len() != victims.len() {
            done.clear();
        }
        if let Some(out) = output.segment.take() {
            self.finish_output(&out)?;
            output.finished.push(out);
        }
        // Records were judged dead because newer writes superseded them; those writes
        // must be on disk before the old versions can go, or a power failure that loses
        // them would lose the key. A manual compaction syncs now; the background one
        // waits for the log to be synced anyway (durability interval, or segment seal).
        if sync_now {
            self.sync_all()?;
        }
        let (retire_seq, wait_for) = self.retirement_point();
        {
            let _roles = self.roles_lock.lock();
            for out in &output.finished {
                out.set_role(Role::Data);
            }
            for victim in &done {
                victim.set_role(Role::Retired);
                report.segments += 1;
                report.bytes_reclaimed += victim.data_len();
            }
        }
        self.retired.lock().extend(done.into_iter().map(|segment| Retired { segment, retire_seq, wait_for: wait_for.clone() }));
        self.delete_retired_segments();
        // Collections whose heads expired in this pass free their pages now.
        self.free_dead_epochs();
        Ok(report)
    }

    fn compact_one(&self, victim: &Arc<Segment>, pass: &Pass, output: &mut Output, report: &mut CompactionReport) -> Result<(), Stop> {
        let Pass { others_min_seq, bytes_per_sec, started, budget } = *pass;
        // The footer lists every record with its hash: no record is parsed or hashed to
        // find the live ones, only their index entries are checked.
        victim.advise_sequential();
        let entries = victim.read_footer_entries().map_err(Stop::Failed)?;
        for window in entries.chunks(WINDOW_RECORDS) {
            if self.stopping.load(Ordering::Acquire) {
                return Err(Stop::Closing);
            }
            if budget.is_some_and(|b| report.bytes_copied >= b) {
                return Err(Interrupted);
            }
            let mut plan = Vec::new();
            for entry in window {
                self.plan_record(victim, entry, others_min_seq, &mut plan).map_err(Stop::Failed)?;
            }
            self.execute(victim, plan, output, report).map_err(Stop::Failed)?;
            if let Some(rate) = bytes_per_sec.filter(|r| *r > 0) {
                let due = Duration::from_secs_f64(report.bytes_copied as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
        Ok(())
    }

    /// Decides the fate of one record of a victim from its footer entry.
    fn plan_record(&self, victim: &Segment, e: &FooterEntry, others_min_seq: u64, plan: &mut Vec<Plan>) -> Result<()> {
        let (offset, len) = (e.offset, e.len as u64);
        let old = self.codec.encode(victim.slot, offset);
        match e.kind {
            RecordKind::Put => {
                if !self.index.contains_exact(e.hash, old) {
                    return Ok(()); // superseded: garbage
                }
                let header = victim.header_at(offset)?;
                let seq = header.seq;
                if self.is_expired(header.expires_at_ms) {
                    plan.push(Plan::Expire { hash: e.hash, old, offset, len, seq, keep_tombstone: seq >= others_min_seq });
                } else {
                    plan.push(Plan::Move { hash: e.hash, old, offset, len, seq });
                }
            }
            RecordKind::Delete => {
                let seq = victim.header_at(offset)?.seq;
                if seq >= others_min_seq {
                    plan.push(Plan::KeepTombstone { offset, len, seq });
                }
            }
            RecordKind::Chunk => {
                if self.index.contains_exact(e.hash, old) {
                    let seq = victim.header_at(offset)?.seq;
                    plan.push(Plan::Move { hash: e.hash, old, offset, len, seq });
                }
            }
            RecordKind::Page => {
                if self.index.contains_exact(e.hash, old) {
                    let (header, key) = victim.key_at(offset)?;
                    let live = crate::collection::head::parse_page_key(key).is_some_and(|(epoch, _)| self.epoch_is_live(epoch));
                    if live {
                        plan.push(Plan::Move { hash: e.hash, old, offset, len, seq: header.seq });
                    } else {
                        plan.push(Plan::DropPage { hash: e.hash, old, len });
                    }
                }
            }
            RecordKind::Batch => {}
        }
        Ok(())
    }

    /// Copies what `plan` keeps into the output, then applies the index changes in one
    /// short critical section of the writer lock (memory only).
    fn execute(&self, victim: &Segment, plan: Vec<Plan>, output: &mut Output, report: &mut CompactionReport) -> Result<()> {
        let mut moves = Vec::new();
        let mut expiries = Vec::new();
        let mut dropped_pages = Vec::new();
        for step in plan {
            match step {
                Plan::Move { hash, old, offset, len, seq } => {
                    let bytes = victim.raw_bytes(offset, len);
                    let (out, at) = self.copy_out(output, len, seq, RecordKind::Put, |buf| buf.copy_from_slice(bytes))?;
                    moves.push((hash, old, self.codec.encode(out.slot, at), len, out));
                    report.bytes_copied += len;
                }
                Plan::KeepTombstone { offset, len, seq } => {
                    let bytes = victim.raw_bytes(offset, len);
                    self.copy_out(output, len, seq, RecordKind::Delete, |buf| buf.copy_from_slice(bytes))?;
                    report.bytes_copied += len;
                }
                Plan::Expire { hash, old, offset, len, seq, keep_tombstone } => {
                    if keep_tombstone {
                        let rec = victim.record_at(offset)?;
                        let key = rec.key;
                        let tlen = HEADER_LEN + key.len();
                        let meta = RecordMeta { kind: RecordKind::Delete, codec: 0, flags: 0, seq, expires_at_ms: 0 };
                        self.copy_out(output, tlen as u64, seq, RecordKind::Delete, |buf| record::encode_into(buf, meta, key, &[]))?;
                        report.bytes_copied += tlen as u64;
                    }
                    expiries.push((hash, old, len, offset));
                }
                Plan::DropPage { hash, old, len } => dropped_pages.push((hash, old, len)),
            }
        }
        let w = self.writer.lock();
        for (hash, old, new, len, out) in moves {
            if self.index.replace(hash, old, new) {
                victim.sub_live(len);
                out.add_live(len);
            }
        }
        for (hash, old, len) in dropped_pages {
            if self.index.remove(hash, old) {
                victim.sub_live(len);
                self.page_entries.fetch_sub(1, Ordering::Relaxed);
            }
        }
        for (hash, old, len, offset) in expiries {
            if !self.index.contains_exact(hash, old) {
                continue;
            }
            // An expired collection head takes its incarnation's pages with it.
            if let Ok(header) = victim.header_at(offset) {
                self.note_head_gone(victim, offset, header.codec, w.next_seq);
            }
            // Remembered for snapshots before the index stops pointing at it.
            if self.oldest_snapshot.load(Ordering::Acquire) != NO_SNAPSHOT {
                self.history.lock().entry(hash).or_default().push((old, w.next_seq));
            }
            self.index.remove(hash, old);
            victim.sub_live(len);
        }
        Ok(())
    }

    /// Appends `len` bytes filled by `fill` to the output segment, starting a new one when
    /// it is full. Returns the segment and offset.
    fn copy_out(
        &self,
        output: &mut Output,
        len: u64,
        seq: u64,
        kind: RecordKind,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(Arc<Segment>, u64)> {
        if let Some(out) = &output.segment {
            if out.data_len() + len > out.capacity() {
                let full = output.segment.take().expect("checked");
                self.finish_output(&full)?;
                output.finished.push(full);
            }
        }
        if output.segment.is_none() {
            output.segment = Some(self.new_output()?);
        }
        let out = output.segment.clone().expect("just set");
        let at = out.data_len();
        // SAFETY: `reserve`'s contract: compaction is the only writer of its output segment
        // (compaction_lock), the range starts at the published length, fits (checked above),
        // and is published right after `fill`.
        fill(unsafe { out.reserve(at, len as usize) });
        if kind == RecordKind::Put {
            out.note_put_seq(seq);
        }
        out.publish(at + len);
        self.disk_bytes_written.fetch_add(len, Ordering::Relaxed);
        self.bytes_compacted.fetch_add(len, Ordering::Relaxed);
        Ok((out, at))
    }

    fn new_output(&self) -> Result<Arc<Segment>> {
        // Under the writer lock, like a roll: generations and slots come from one place.
        let mut w = self.writer.lock();
        let table = self.table.load_full();
        let slot = table
            .free_slot(self.codec.max_slots())
            .ok_or_else(|| Error::InvalidArgument("no free segment slot for compaction output".into()))?;
        let segment = Arc::new(Segment::create(&self.dir, w.next_generation, slot, self.options.segment_size)?);
        segment.set_role(Role::CompactionOutput);
        w.next_generation += 1;
        self.table.store(Arc::new(table.with(segment.clone())));
        Ok(segment)
    }

    /// Seals a full or final output segment (synced). It becomes a data segment when the
    /// pass ends, together with the retirement of its sources.
    fn finish_output(&self, out: &Arc<Segment>) -> Result<()> {
        let Err(e) = out.write_footer(out.data_len()) else { return Ok(()) };
        // The index already points at the copies in `out`, which may not be on disk. An I/O
        // error means the disk failed writing or syncing them: stop accepting writes (and
        // compactions, so no source is deleted). Otherwise (a full disk) they become ordinary
        // unsealed data, which the next sync covers before any source can be deleted.
        if e.kind() == crate::ErrorKind::Io {
            return Err(self.writer.lock().poison(&e));
        }
        {
            let _roles = self.roles_lock.lock();
            out.set_role(Role::Data);
        }
        self.writer.lock().unsynced.push(out.clone());
        Err(e)
    }

    /// True if a retired segment waits for the log to be synced.
    pub fn has_retired_waiting_for_sync(&self) -> bool {
        self.retired.lock().iter().any(|r| r.wait_for.iter().any(|(s, len)| s.synced_len() < *len))
    }

    /// The next sequence number, and the segments (with lengths) whose data must be synced
    /// before a segment retired now may be deleted.
    pub(crate) fn retirement_point(&self) -> (u64, Vec<(Arc<Segment>, u64)>) {
        let w = self.writer.lock();
        let wait_for = w.unsynced.iter().chain(std::iter::once(&w.active)).map(|s| (s.clone(), s.data_len())).collect();
        (w.next_seq, wait_for)
    }

    /// Deletes retired segments that no open snapshot can read any more.
    pub fn delete_retired_segments(&self) {
        let oldest = self.oldest_snapshot.load(Ordering::Acquire);
        let deletable: Vec<Arc<Segment>> = {
            let mut retired = self.retired.lock();
            let (gone, kept): (Vec<_>, Vec<_>) = retired.drain(..).partition(|r| {
                let unread = oldest == NO_SNAPSHOT || oldest >= r.retire_seq;
                unread && r.wait_for.iter().all(|(s, len)| s.synced_len() >= *len)
            });
            *retired = kept;
            gone.into_iter().map(|r| r.segment).collect()
        };
        if deletable.is_empty() {
            return;
        }
        {
            let _w = self.writer.lock();
            let mut table = (**self.table.load()).clone();
            for s in &deletable {
                table = table.without(s.slot);
            }
            self.table.store(Arc::new(table));
        }
        for s in deletable {
            match std::fs::remove_file(&s.path) {
                Ok(()) => {
                    self.segments_deleted.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::error!("could not delete compacted segment {}: {e}", s.path.display()),
            }
        }
        if let Err(e) = segment::sync_dir(&self.dir) {
            tracing::warn!("{e}");
        }
    }
}
