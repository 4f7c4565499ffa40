//! The write path: validate, append to the active segment under the writer lock, update
//! the index, and, for durable writes, wait for a group-committed `fdatasync`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::batch::{BatchOp, WriteBatch};
use crate::error::{Error, ErrorKind, Result};
use crate::hash::key_hash;
use crate::inner::{Inner, WriterState};
use crate::options::{Durability, WriteOptions};
use crate::record::{self, encoded_len, RecordKind, RecordMeta, HEADER_LEN};
use crate::segment::{Segment, SEGMENT_HEADER_LEN};

impl Inner {
    pub fn check_key(&self, key: &[u8]) -> Result<()> {
        let limit = self.options.max_key_size.min(u16::MAX as usize);
        if key.len() > limit {
            return Err(Error::TooLarge { what: "key", size: key.len() as u64, limit: limit as u64 });
        }
        Ok(())
    }

    /// Largest record that fits in an empty segment.
    fn max_record_len(&self) -> u64 {
        self.options.segment_size - SEGMENT_HEADER_LEN
    }

    pub fn check_value(&self, value: &[u8]) -> Result<()> {
        // Values over one chunk are stored as streams when a chunk fits in a segment;
        // otherwise a value must fit in one record.
        let one_record = self.max_record_len().saturating_sub(HEADER_LEN as u64 + u16::MAX as u64);
        let streamable = one_record >= crate::stream::CHUNK_SIZE as u64;
        let mut limit = self.options.max_value_size as u64;
        if !streamable {
            limit = limit.min(self.max_record_len().saturating_sub(HEADER_LEN as u64)).min(u32::MAX as u64);
        }
        if value.len() as u64 > limit {
            return Err(Error::TooLarge { what: "value", size: value.len() as u64, limit });
        }
        Ok(())
    }

    pub(crate) fn wants_sync(&self, opts: &WriteOptions) -> bool {
        opts.sync.unwrap_or(self.options.durability == Durability::Always)
    }

    /// Appends `len` bytes filled by `fill` to the active segment, rolling to a new segment
    /// first if it does not fit. Returns the segment and offset written.
    pub(crate) fn append(&self, w: &mut WriterState, len: usize, fill: impl FnOnce(&mut [u8])) -> Result<(Arc<Segment>, u64)> {
        if len as u64 > self.max_record_len() {
            return Err(Error::TooLarge { what: "record", size: len as u64, limit: self.max_record_len() });
        }
        if w.active.data_len() + len as u64 > w.active.capacity() {
            if let Err(e) = self.roll(w) {
                // The disk failed a write or sync of the new segment: stop accepting writes,
                // as after a failed sync. A full disk does not poison: nothing was written,
                // and writes resume once space is freed.
                return Err(if e.kind() == ErrorKind::Io { w.poison(&e) } else { e });
            }
        }
        let segment = w.active.clone();
        let offset = segment.data_len();
        // SAFETY: we hold the writer lock and write only past the published length.
        fill(unsafe { segment.reserve(offset, len) });
        segment.publish(offset + len as u64);
        w.log_end += len as u64;
        self.disk_bytes_written.fetch_add(len as u64, Ordering::Relaxed);
        Ok((segment, offset))
    }

    /// Starts a new active segment; the old one is sealed in the background.
    pub fn roll(&self, w: &mut WriterState) -> Result<()> {
        let table = self.table.load_full();
        let max = self.codec.max_slots();
        let slot = table.free_slot(max).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the store has {max} segments open, the most its segment size allows; compact it or reopen with a larger segment_size"
            ))
        })?;
        let segment = Arc::new(Segment::create(&self.dir, w.next_generation, slot, self.options.segment_size)?);
        w.next_generation += 1;
        self.table.store(Arc::new(table.with(segment.clone())));
        let old = std::mem::replace(&mut w.active, segment);
        // Sealed segments are synced; only the others still need a sync to cover them.
        w.unsynced.retain(|s| !s.is_sealed());
        w.unsynced.push(old.clone());
        self.seal_later(old);
        Ok(())
    }

    /// Points the index at a new record of `key` (a Put), retiring the previous version.
    fn index_put(&self, hash: u64, key: &[u8], address: u64, segment: &Segment, len: usize, seq: u64) {
        match self.find_for_write(key, hash) {
            Some(old) => {
                // Remembered for snapshots before the index stops pointing at it.
                self.retire(hash, &old, seq);
                if !self.index.replace(hash, old.address, address) {
                    self.index.insert(hash, address);
                }
            }
            None => self.index.insert(hash, address),
        }
        segment.add_live(len as u64);
    }

    pub fn put(&self, key: &[u8], value: &[u8], opts: &WriteOptions) -> Result<u64> {
        self.check_key(key)?;
        self.check_value(value)?;
        if value.len() > crate::stream::CHUNK_SIZE {
            // Large values are stored as streams: a later touch rewrites only the head.
            return self.put_chunked(key, value, opts);
        }
        let (stored, codec) = crate::codec::encode(value, self.options.compression);
        self.put_encoded(key, &stored, codec, value.len(), opts)
    }

    /// Writes a put whose value is already in its stored form (`codec`); `user_len` is the
    /// value's length as the caller gave it, for the write-amplification figures.
    pub(crate) fn put_encoded(&self, key: &[u8], stored: &[u8], codec: u8, user_len: usize, opts: &WriteOptions) -> Result<u64> {
        let (seq, end) = self.append_put(key, stored, codec, user_len, opts)?;
        if self.wants_sync(opts) {
            self.sync_to(end)?;
        }
        Ok(seq)
    }

    /// `put_encoded` without the sync: appends and indexes the record (readers see it from
    /// now on) and returns its sequence number and the log position a sync must reach.
    pub(crate) fn append_put(&self, key: &[u8], stored: &[u8], codec: u8, user_len: usize, opts: &WriteOptions) -> Result<(u64, u64)> {
        let hash = key_hash(key);
        let len = encoded_len(key.len(), stored.len());
        let (seq, end) = {
            let mut w = self.writer.lock();
            w.check_writable()?;
            let seq = w.next_seq;
            let meta = RecordMeta { kind: RecordKind::Put, codec, flags: opts.flags, seq, expires_at_ms: opts.expires_at_ms.unwrap_or(0) };
            let (segment, offset) = self.append(&mut w, len, |buf| record::encode_into(buf, meta, key, stored))?;
            segment.note_put_seq(seq);
            w.next_seq += 1;
            self.index_put(hash, key, self.codec.encode(segment.slot, offset), &segment, len, seq);
            (seq, w.log_end)
        };
        self.user_bytes_written.fetch_add((key.len() + user_len) as u64, Ordering::Relaxed);
        Ok((seq, end))
    }

    pub fn delete(&self, key: &[u8], opts: &WriteOptions) -> Result<bool> {
        self.check_key(key)?;
        let hash = key_hash(key);
        let (existed, end) = {
            let mut w = self.writer.lock();
            w.check_writable()?;
            let Some(old) = self.find_for_write(key, hash) else { return Ok(false) };
            let seq = w.next_seq;
            let meta = RecordMeta { kind: RecordKind::Delete, codec: 0, flags: 0, seq, expires_at_ms: 0 };
            self.append(&mut w, encoded_len(key.len(), 0), |buf| record::encode_into(buf, meta, key, &[]))?;
            w.next_seq += 1;
            self.retire(hash, &old, seq);
            self.index.remove(hash, old.address);
            (!self.is_expired(old.header.expires_at_ms), w.log_end)
        };
        self.user_bytes_written.fetch_add(key.len() as u64, Ordering::Relaxed);
        if self.wants_sync(opts) {
            self.sync_to(end)?;
        }
        Ok(existed)
    }

    pub fn write_batch(&self, batch: &WriteBatch, opts: &WriteOptions) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // Checked and compressed before taking the writer lock.
        let prepared = self.prepare_batch(batch)?;
        let end = {
            let mut w = self.writer.lock();
            self.append_batch(&mut w, batch, &prepared)?
        };
        self.finish_batch(batch, end, opts)
    }

    /// Checks a batch's keys, values and size, and encodes each value: the record lengths
    /// [`Inner::append_batch`] lays out.
    pub(crate) fn prepare_batch<'b>(&self, batch: &'b WriteBatch) -> Result<PreparedBatch<'b>> {
        for op in &batch.ops {
            self.check_key(op.key())?;
            if let BatchOp::Put { value, .. } = op {
                self.check_value(value)?;
            }
        }
        let prepared: PreparedBatch<'b> = batch
            .ops
            .iter()
            .map(|op| match op {
                BatchOp::Put { key, value, .. } => {
                    let (stored, codec) = crate::codec::encode(value, self.options.compression);
                    let len = encoded_len(key.len(), stored.len());
                    (stored, codec, len)
                }
                BatchOp::Delete { key } => (std::borrow::Cow::Borrowed(&[][..]), crate::codec::RAW, encoded_len(key.len(), 0)),
            })
            .collect();
        let total = HEADER_LEN + prepared.iter().map(|p| p.2).sum::<usize>();
        if batch.ops.len() > u32::MAX as usize || total as u64 > self.max_record_len() {
            return Err(Error::TooLarge { what: "batch", size: total as u64, limit: self.max_record_len() });
        }
        Ok(prepared)
    }

    /// Appends a prepared batch as one envelope and updates the index; the caller holds the
    /// writer lock. Returns the log position to sync to.
    pub(crate) fn append_batch(&self, w: &mut WriterState, batch: &WriteBatch, prepared: &PreparedBatch<'_>) -> Result<u64> {
        w.check_writable()?;
        let total = HEADER_LEN + prepared.iter().map(|p| p.2).sum::<usize>();
        let first_seq = w.next_seq;
        let (segment, offset) = self.append(w, total, |buf| encode_batch(buf, batch, prepared, first_seq))?;
        segment.note_put_seq(first_seq);
        w.next_seq += batch.ops.len() as u64;
        let mut at = offset + HEADER_LEN as u64;
        for (i, (op, (_, _, len))) in batch.ops.iter().zip(prepared).enumerate() {
            let hash = key_hash(op.key());
            let seq = first_seq + i as u64;
            match op {
                BatchOp::Put { key, .. } => self.index_put(hash, key, self.codec.encode(segment.slot, at), &segment, *len, seq),
                BatchOp::Delete { key } => {
                    if let Some(old) = self.find_for_write(key, hash) {
                        self.retire(hash, &old, seq);
                        self.index.remove(hash, old.address);
                    }
                }
            }
            at += *len as u64;
        }
        Ok(w.log_end)
    }

    /// After a batch is appended: counts its bytes and syncs if the durability asks for it.
    pub(crate) fn finish_batch(&self, batch: &WriteBatch, end: u64, opts: &WriteOptions) -> Result<()> {
        let user: usize =
            batch.ops.iter().map(|op| op.key().len() + if let BatchOp::Put { value, .. } = op { value.len() } else { 0 }).sum();
        self.user_bytes_written.fetch_add(user as u64, Ordering::Relaxed);
        if self.wants_sync(opts) {
            self.sync_to(end)?;
        }
        Ok(())
    }

    /// Returns once every byte appended up to log position `end` is on disk. One caller
    /// syncs for all that wait (group commit, see `group_commit.rs`).
    pub fn sync_to(&self, end: u64) -> Result<()> {
        self.commit.wait_for(end, || self.sync_appended())
    }

    /// Syncs every segment holding bytes appended so far; returns the log position covered.
    /// Runs on the group-commit leader only.
    fn sync_appended(&self) -> Result<u64> {
        let (target, segments) = {
            let mut w = self.writer.lock();
            if let Some(refusal) = w.poisoned() {
                return Err(refusal);
            }
            let mut segments = std::mem::take(&mut w.unsynced);
            segments.push(w.active.clone());
            (w.log_end, segments)
        };
        for segment in &segments {
            if let Err(e) = segment.sync() {
                // What is in the page cache may never reach the disk, and Linux reports a
                // writeback error only once (a retried sync can succeed with the data lost):
                // refuse every further write rather than acknowledge what might not be durable.
                return Err(self.writer.lock().poison(&e));
            }
        }
        Ok(target)
    }

    pub(crate) fn note_user_bytes(&self, bytes: usize) {
        self.user_bytes_written.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Syncs everything appended so far.
    pub fn sync_all(&self) -> Result<()> {
        let end = self.writer.lock().log_end;
        self.sync_to(end)
    }
}

/// Lays out a batch envelope: header, then each operation as a complete record.
/// Each operation of a batch: its stored (possibly compressed) value, codec and record length.
pub(crate) type PreparedBatch<'b> = Vec<(std::borrow::Cow<'b, [u8]>, u8, usize)>;

fn encode_batch(buf: &mut [u8], batch: &WriteBatch, prepared: &[(std::borrow::Cow<'_, [u8]>, u8, usize)], first_seq: u64) {
    let mut at = HEADER_LEN;
    for (i, (op, (stored, codec, len))) in batch.ops.iter().zip(prepared).enumerate() {
        let len = *len;
        let seq = first_seq + i as u64;
        let out = &mut buf[at..at + len];
        match op {
            BatchOp::Put { key, flags, expires_at_ms, .. } => record::encode_into(
                out,
                RecordMeta { kind: RecordKind::Put, codec: *codec, flags: *flags, seq, expires_at_ms: *expires_at_ms },
                key,
                stored,
            ),
            BatchOp::Delete { key } => {
                record::encode_into(out, RecordMeta { kind: RecordKind::Delete, codec: 0, flags: 0, seq, expires_at_ms: 0 }, key, &[])
            }
        }
        at += len;
    }
    let payload = (buf.len() - HEADER_LEN) as u32;
    buf[4] = RecordKind::Batch as u8;
    buf[5] = 0;
    buf[6..8].copy_from_slice(&0u16.to_le_bytes());
    buf[8..12].copy_from_slice(&payload.to_le_bytes());
    buf[12..16].copy_from_slice(&(batch.ops.len() as u32).to_le_bytes());
    buf[16..24].copy_from_slice(&first_seq.to_le_bytes());
    buf[24..32].copy_from_slice(&0u64.to_le_bytes());
    record::seal_checksum(buf);
}
