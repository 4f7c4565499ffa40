//! The write path: validate, append to the active segment under the writer lock, update
//! the index, and, for durable writes, wait for a group-committed `fdatasync`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use std::borrow::Cow;

use crate::batch::{BatchOp, WriteBatch};
use crate::codec;
use crate::envelope::{self, Prepared, PreparedBatch};
use crate::error::{Error, ErrorKind, Result};
use crate::hash::key_hash;
use crate::options::{Durability, WriteOptions};
use crate::record::{self, encoded_len, RecordKind, RecordMeta, HEADER_LEN};
use crate::segment::{Segment, SEGMENT_HEADER_LEN};
use crate::store::{Found, Store, WriterState};
use crate::stream::{self, CHUNK_SIZE};

impl Store {
    pub fn check_key(&self, key: &[u8]) -> Result<()> {
        let limit = self.options.max_key_size.min(u16::MAX as usize);
        if key.len() > limit {
            return Err(Error::TooLarge { what: "key", size: key.len() as u64, limit: limit as u64 });
        }
        Ok(())
    }

    /// Largest record that fits in an empty segment.
    pub(crate) fn max_record_len(&self) -> u64 {
        self.options.segment_size - SEGMENT_HEADER_LEN
    }

    pub fn check_value(&self, value: &[u8]) -> Result<()> {
        // Values over one chunk are stored as streams when a chunk fits in a segment;
        // otherwise a value must fit in one record.
        let one_record = self.max_record_len().saturating_sub(HEADER_LEN as u64 + u16::MAX as u64);
        let streamable = one_record >= CHUNK_SIZE as u64;
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
        // SAFETY: `reserve`'s contract: we hold the writer lock (the single writer), the range
        // starts at the published length, fits below capacity (checked above), and is
        // handed out once: it is published right after `fill`.
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

    /// Points the index at a new record of `key` (a Put) and marks `old`, the key's
    /// previous record (as [`Store::current_record`] gives it), superseded.
    /// REQUIRES: the writer lock.
    #[allow(clippy::too_many_arguments)] // the record's facts, each used once
    fn index_put(&self, hash: u64, old: Option<Found>, superseded: Superseded, address: u64, segment: &Segment, len: usize, seq: u64) {
        match old {
            Some(old) => {
                // Remembered for snapshots before the index stops pointing at it.
                match superseded {
                    Superseded::WithChunks => self.supersede(hash, &old, seq),
                    // The new record takes over the old one's chunks (touch).
                    Superseded::KeepChunks => {
                        old.segment.sub_live(old.header.record_len());
                        self.keep_for_snapshots(hash, old.address, seq);
                    }
                }
                if !self.index.replace(hash, old.address, address) {
                    self.index.insert(hash, address);
                }
            }
            None => self.index.insert(hash, address),
        }
        segment.add_live(len as u64);
    }

    /// The locked append-and-index step of every single-key put: appends a Put record of
    /// `key` holding `stored` (already in its stored form, `put.codec`), points the index at
    /// it and supersedes `old` (the key's current record). Returns the sequence number.
    /// REQUIRES: the writer lock (`w`), held since `old` was looked up.
    #[allow(clippy::too_many_arguments)] // the record's facts, each used once
    pub(crate) fn append_indexed_put(
        &self,
        w: &mut WriterState,
        key: &[u8],
        hash: u64,
        stored: &[u8],
        put: PutMeta,
        old: Option<Found>,
        superseded: Superseded,
    ) -> Result<u64> {
        w.check_writable()?;
        let seq = w.next_seq;
        let meta = RecordMeta { kind: RecordKind::Put, codec: put.codec, flags: put.flags, seq, expires_at_ms: put.expires_at_ms };
        let len = encoded_len(key.len(), stored.len());
        let (segment, offset) = self.append(w, len, |buf| record::encode_into(buf, meta, key, stored))?;
        segment.note_put_seq(seq);
        w.next_seq += 1;
        self.index_put(hash, old, superseded, self.codec.encode(segment.slot, offset), &segment, len, seq);
        Ok(seq)
    }

    /// The locked append-and-index step of every single-key delete: appends a tombstone of
    /// `key` and takes `old` (its current record) out of the index. Returns the sequence
    /// number. REQUIRES: the writer lock (`w`), held since `old` was looked up.
    pub(crate) fn append_indexed_delete(&self, w: &mut WriterState, key: &[u8], hash: u64, old: &Found) -> Result<u64> {
        w.check_writable()?;
        let seq = w.next_seq;
        let meta = RecordMeta { kind: RecordKind::Delete, codec: codec::RAW, flags: 0, seq, expires_at_ms: 0 };
        self.append(w, encoded_len(key.len(), 0), |buf| record::encode_into(buf, meta, key, &[]))?;
        w.next_seq += 1;
        self.supersede(hash, old, seq);
        self.index.remove(hash, old.address);
        Ok(seq)
    }

    /// Stores `value` under `key`; see [`Db::put`](crate::Db::put) for the rule every
    /// write path follows (values over [`CHUNK_SIZE`] are streamed).
    pub fn put(&self, key: &[u8], value: &[u8], opts: &WriteOptions) -> Result<u64> {
        self.check_key(key)?;
        self.check_value(value)?;
        if stream::is_streamed(value.len()) {
            // Chunk by chunk, each under its own short hold of the writer lock, so other
            // writers are not held up by one large value; the head commits it.
            return self.put_chunked(key, value, opts);
        }
        let (stored, codec) = codec::encode(value, self.options.compression);
        let (seq, end) = self.append_put(key, &stored, codec, value.len(), opts)?;
        if self.wants_sync(opts) {
            self.sync_to(end)?;
        }
        Ok(seq)
    }

    /// Appends and indexes a put whose value is already in its stored form (`codec`),
    /// without the sync: readers see it from now on. `user_len` is the value's length as
    /// the caller gave it, for the write-amplification figures. Returns its sequence
    /// number and the log position a sync must reach.
    pub(crate) fn append_put(&self, key: &[u8], stored: &[u8], codec: u8, user_len: usize, opts: &WriteOptions) -> Result<(u64, u64)> {
        let hash = key_hash(key);
        let put = PutMeta { codec, flags: opts.flags, expires_at_ms: opts.expires_at_ms.unwrap_or(0) };
        let (seq, end) = {
            let mut w = self.writer.lock();
            w.check_writable()?;
            let old = self.current_record(key, hash);
            let seq = self.append_indexed_put(&mut w, key, hash, stored, put, old, Superseded::WithChunks)?;
            (seq, w.log_end)
        };
        self.note_user_bytes(key.len() + user_len);
        Ok((seq, end))
    }

    pub fn delete(&self, key: &[u8], opts: &WriteOptions) -> Result<bool> {
        self.check_key(key)?;
        let hash = key_hash(key);
        let (existed, end) = {
            let mut w = self.writer.lock();
            w.check_writable()?;
            let Some(old) = self.current_record(key, hash) else { return Ok(false) };
            self.append_indexed_delete(&mut w, key, hash, &old)?;
            (!self.is_expired(old.header.expires_at_ms), w.log_end)
        };
        self.note_user_bytes(key.len());
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
        let mut prepared = self.prepare_batch(batch)?;
        let end = {
            let mut w = self.writer.lock();
            self.append_batch(&mut w, batch, &mut prepared)?
        };
        self.finish_batch(batch, end, opts)
    }

    /// Checks a batch's keys, values and size, and encodes each value: the record lengths
    /// [`Store::append_batch`] lays out. A value over [`CHUNK_SIZE`] is streamed when the
    /// batch is appended; the envelope holds its head.
    pub(crate) fn prepare_batch<'b>(&self, batch: &'b WriteBatch) -> Result<PreparedBatch<'b>> {
        for op in &batch.ops {
            self.check_key(op.key())?;
            if let BatchOp::Put { key, value, .. } = op {
                self.check_value(value)?;
                if stream::is_streamed(value.len()) {
                    self.check_key(&stream::chunk_key(0, 0, key))?;
                }
            }
        }
        let prepared: PreparedBatch<'b> = batch
            .ops
            .iter()
            .map(|op| match op {
                BatchOp::Put { key, value, .. } if stream::is_streamed(value.len()) => {
                    // The manifest is written once the chunks are (stream ids are taken
                    // under the writer lock); its length is known now.
                    Prepared { stored: Cow::Borrowed(&[][..]), codec: codec::CHUNKED, len: encoded_len(key.len(), stream::MANIFEST_LEN) }
                }
                BatchOp::Put { key, value, .. } => {
                    let (stored, codec) = codec::encode(value, self.options.compression);
                    let len = encoded_len(key.len(), stored.len());
                    Prepared { stored, codec, len }
                }
                BatchOp::Delete { key } => Prepared { stored: Cow::Borrowed(&[][..]), codec: codec::RAW, len: encoded_len(key.len(), 0) },
                BatchOp::Head { key, value, .. } => {
                    Prepared { stored: Cow::Borrowed(&value[..]), codec: codec::COLLECTION, len: encoded_len(key.len(), value.len()) }
                }
                BatchOp::Page { key, value } => {
                    let (stored, codec) = codec::encode(value, self.options.compression);
                    let len = encoded_len(key.len(), stored.len());
                    Prepared { stored, codec, len }
                }
            })
            .collect();
        let total = HEADER_LEN + prepared.iter().map(|p| p.len).sum::<usize>();
        if batch.ops.len() > u32::MAX as usize || total as u64 > self.max_record_len() {
            return Err(Error::TooLarge { what: "batch", size: total as u64, limit: self.max_record_len() });
        }
        Ok(prepared)
    }

    /// Appends a prepared batch and updates the index; the caller holds the writer lock.
    /// First the chunks of its streamed values (invisible: no head names them yet), then
    /// one envelope holding every other record and the heads of the streamed values: the
    /// envelope is the batch's commit record, so after a crash either all of it is there or
    /// none of it (chunks without a head are dropped at open). Returns the log position to
    /// sync to.
    pub(crate) fn append_batch(&self, w: &mut WriterState, batch: &WriteBatch, prepared: &mut PreparedBatch<'_>) -> Result<u64> {
        w.check_writable()?;
        let mut chunks = Vec::new();
        let result = (|| {
            for (op, p) in batch.ops.iter().zip(prepared.iter_mut()) {
                if let (BatchOp::Put { key, value, .. }, codec::CHUNKED) = (op, p.codec) {
                    let manifest = self.append_chunks(w, key, value, &mut chunks)?;
                    p.stored = Cow::Owned(manifest.to_vec());
                }
            }
            self.append_envelope(w, batch, prepared)
        })();
        result.inspect_err(|_| self.forget_chunks_locked(&chunks))
    }

    /// The envelope of [`Store::append_batch`], with every value in its stored form.
    fn append_envelope(&self, w: &mut WriterState, batch: &WriteBatch, prepared: &PreparedBatch<'_>) -> Result<u64> {
        let total = HEADER_LEN + prepared.iter().map(|p| p.len).sum::<usize>();
        let first_seq = w.next_seq;
        let (segment, offset) = self.append(w, total, |buf| envelope::encode(buf, batch, prepared, first_seq))?;
        segment.note_put_seq(first_seq);
        w.next_seq += batch.ops.len() as u64;
        let mut at = offset + HEADER_LEN as u64;
        // Readers of a collection see its head and pages from before the batch or after it.
        let collections = batch.ops.iter().any(|op| matches!(op, BatchOp::Head { .. } | BatchOp::Page { .. }));
        let _publishing = collections.then(|| self.publish.write());
        for (i, (op, p)) in batch.ops.iter().zip(prepared).enumerate() {
            let hash = key_hash(op.key());
            let seq = first_seq + i as u64;
            let old = self.current_record_in(op.namespace(), op.key(), hash);
            let address = self.codec.encode(segment.slot, at);
            match op {
                BatchOp::Put { .. } => self.index_put(hash, old, Superseded::WithChunks, address, &segment, p.len, seq),
                BatchOp::Head { value, .. } => {
                    // Counted before the old head is superseded: a head rewritten in place
                    // (same epoch) never makes its epoch look dead.
                    self.note_head_indexed(value);
                    self.index_put(hash, old, Superseded::WithChunks, address, &segment, p.len, seq)
                }
                BatchOp::Page { .. } => {
                    if old.is_none() {
                        self.page_entries.fetch_add(1, Ordering::Relaxed);
                    }
                    self.index_put(hash, old, Superseded::WithChunks, address, &segment, p.len, seq)
                }
                BatchOp::Delete { .. } => {
                    if let Some(old) = old {
                        self.supersede(hash, &old, seq);
                        self.index.remove(hash, old.address);
                    }
                }
            }
            at += p.len as u64;
        }
        Ok(w.log_end)
    }

    /// After a batch is appended: counts its bytes and syncs if the durability asks for it.
    pub(crate) fn finish_batch(&self, batch: &WriteBatch, end: u64, opts: &WriteOptions) -> Result<()> {
        let user: usize = batch.ops.iter().map(|op| op.key().len() + op.value().len()).sum();
        self.note_user_bytes(user);
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

/// What a put record carries besides its key and value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PutMeta {
    /// How the value bytes are stored (see `codec`).
    pub codec: u8,
    pub flags: u32,
    /// Unix ms; 0 = never.
    pub expires_at_ms: u64,
}

/// What becomes of the chunks of a streamed value whose head a put supersedes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Superseded {
    /// They go with it (an overwrite).
    WithChunks,
    /// The new head takes them over (a touch rewrites only the head).
    KeepChunks,
}
