//! Streamed large values: written and read as chunks, never buffered whole.
//!
//! A [`ValueWriter`] appends the value as chunk records (kind `Chunk`, up to 1 MiB each,
//! each checksummed and optionally compressed) whose keys are
//! `stream id (u64 LE) | chunk number (u32 LE) | user key`, in an index namespace user keys
//! never match. [`ValueWriter::finish`] then writes the *head*: an ordinary put of the user
//! key whose codec is `CHUNKED` and whose value is a manifest
//! `stream id u64 | total length u64 | chunk count u32 | chunk size u32` (all LE). The value
//! becomes visible atomically with the head. Chunks without a head (an abandoned writer, a
//! crash mid-stream) are removed from the index when the writer is dropped or at the next
//! open, and compaction reclaims their space. Superseding the head retires its chunks.
//!
//! A [`ValueReader`] reads through a snapshot, so the chunks it needs stay readable however
//! the key is overwritten meanwhile; it implements `Read` and `Seek`.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::codec;
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::hash::key_hash;
use crate::options::WriteOptions;
use crate::record::{self, encoded_len, RecordKind, RecordMeta};
use crate::snapshot::Snapshot;
use crate::store::{Found, Namespace, Store, WriterState};
use crate::write::{PutMeta, Superseded};

/// Bytes of value per chunk record.
pub const CHUNK_SIZE: usize = 1 << 20;
/// Bytes of a head record's value (the manifest).
pub(crate) const MANIFEST_LEN: usize = 24;

/// The one rule of every write path (put, update, conditional puts, batches): a value
/// longer than one chunk is stored as a stream, chunks first, then its head.
pub(crate) fn is_streamed(value_len: usize) -> bool {
    value_len > CHUNK_SIZE
}

/// The head record's value for a streamed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub stream_id: u64,
    pub total_len: u64,
    pub chunks: u32,
    pub chunk_size: u32,
}

impl Manifest {
    fn encode(&self) -> [u8; MANIFEST_LEN] {
        let mut out = [0u8; MANIFEST_LEN];
        out[0..8].copy_from_slice(&self.stream_id.to_le_bytes());
        out[8..16].copy_from_slice(&self.total_len.to_le_bytes());
        out[16..20].copy_from_slice(&self.chunks.to_le_bytes());
        out[20..24].copy_from_slice(&self.chunk_size.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Manifest> {
        if bytes.len() != MANIFEST_LEN {
            return None;
        }
        Some(Manifest {
            stream_id: u64::from_le_bytes(bytes[0..8].try_into().ok()?),
            total_len: u64::from_le_bytes(bytes[8..16].try_into().ok()?),
            chunks: u32::from_le_bytes(bytes[16..20].try_into().ok()?),
            chunk_size: u32::from_le_bytes(bytes[20..24].try_into().ok()?),
        })
    }
}

/// The key of chunk `n` of stream `stream_id` of `user_key`.
pub(crate) fn chunk_key(stream_id: u64, n: u32, user_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(12 + user_key.len());
    k.extend_from_slice(&stream_id.to_le_bytes());
    k.extend_from_slice(&n.to_le_bytes());
    k.extend_from_slice(user_key);
    k
}

/// A new stream id: a sequence number, unique forever. REQUIRES: the writer lock (`w`).
fn new_stream_id(w: &mut WriterState) -> Result<u64> {
    w.check_writable()?;
    let id = w.next_seq;
    w.next_seq += 1;
    Ok(id)
}

/// Stream id and user key of a chunk key.
pub(crate) fn parse_chunk_key(key: &[u8]) -> Option<(u64, &[u8])> {
    Some((u64::from_le_bytes(key.get(0..8)?.try_into().ok()?), key.get(12..)?))
}

impl Store {
    /// Removes the chunks of a superseded streamed value from the index (remembering them
    /// for open snapshots). REQUIRES: the writer lock.
    pub(crate) fn retire_chunks(&self, head: &Found, superseded_at: u64) {
        let (_, offset) = self.codec.decode(head.address);
        let Ok(rec) = head.segment.record_at(offset) else { return };
        let Some(m) = Manifest::decode(rec.value) else { return };
        let user_key = rec.key.to_vec();
        for n in 0..m.chunks {
            let key = chunk_key(m.stream_id, n, &user_key);
            let hash = key_hash(&key);
            let found = self.lookup_namespace(Namespace::Chunks, &key, hash, |address, segment, rec| {
                (address, segment.clone(), rec.header.record_len())
            });
            if let Ok(Some((address, segment, len))) = found {
                self.keep_for_snapshots(hash, address, superseded_at);
                if self.index.remove(hash, address) {
                    self.chunk_entries.fetch_sub(1, Ordering::Relaxed);
                }
                segment.sub_live(len);
            }
        }
    }

    /// Reads a whole value for the one-buffer APIs (`get`…): inline values directly,
    /// streamed ones assembled from their chunks by `load_chunk`, if not over the limit.
    pub(crate) fn assemble_value(
        &self,
        key: &[u8],
        codec_byte: u8,
        stored: &[u8],
        load_chunk: impl Fn(&[u8]) -> Result<Option<Vec<u8>>>,
    ) -> Result<std::result::Result<Vec<u8>, String>> {
        if codec_byte != codec::CHUNKED {
            return Ok(codec::decode(codec_byte, stored));
        }
        let Some(m) = Manifest::decode(stored) else { return Ok(Err("damaged stream manifest".into())) };
        let limit = self.options.max_value_size as u64;
        if m.total_len > limit {
            return Err(Error::TooLarge { what: "streamed value (read it with Db::get_stream)", size: m.total_len, limit });
        }
        let mut value = Vec::with_capacity(m.total_len as usize);
        for n in 0..m.chunks {
            match load_chunk(&chunk_key(m.stream_id, n, key))? {
                Some(chunk) => value.extend_from_slice(&chunk),
                None => return Ok(Err(format!("chunk {n} of the streamed value of {:?} is missing", String::from_utf8_lossy(key)))),
            }
        }
        Ok(Ok(value))
    }

    /// The decoded bytes of the current chunk record with this key.
    pub(crate) fn read_chunk(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.lookup_namespace(Namespace::Chunks, key, key_hash(key), |address, segment, rec| {
            rec.decoded_value().map_err(|why| Error::corruption(&segment.path, self.codec.decode(address).1, why))
        })?
        .transpose()
    }

    /// Checks that `key` can name a stream's chunks and reserves a stream id for it.
    fn begin_stream(&self, key: &[u8]) -> Result<u64> {
        self.check_key(&chunk_key(0, 0, key))?;
        new_stream_id(&mut self.writer.lock())
    }

    /// Appends one chunk record and indexes it. Returns the log end after it.
    fn append_chunk(&self, key: &[u8], bytes: &[u8]) -> Result<u64> {
        let (stored, codec) = codec::encode(bytes, self.options.compression);
        let mut w = self.writer.lock();
        self.append_chunk_locked(&mut w, key, &stored, codec)?;
        Ok(w.log_end)
    }

    /// Appends one chunk record (value in its stored form) and indexes it.
    /// REQUIRES: the writer lock (`w`).
    fn append_chunk_locked(&self, w: &mut WriterState, key: &[u8], stored: &[u8], codec: u8) -> Result<()> {
        w.check_writable()?;
        let len = encoded_len(key.len(), stored.len());
        let meta = RecordMeta { kind: RecordKind::Chunk, codec, flags: 0, seq: w.next_seq, expires_at_ms: 0 };
        let (segment, offset) = self.append(w, len, |buf| record::encode_into(buf, meta, key, stored))?;
        w.next_seq += 1;
        self.index.insert(key_hash(key), self.codec.encode(segment.slot, offset));
        self.chunk_entries.fetch_add(1, Ordering::Relaxed);
        segment.add_live(len as u64);
        Ok(())
    }

    /// Appends the chunks of `value` as a new stream of `key`, all under the writer lock
    /// (`w`), for a write that must decide and commit under it (update, write_if, batches).
    /// Returns the manifest its head must hold; the head, written next by the caller, makes
    /// the value visible. Pushes each chunk key written to `written`, for
    /// [`Store::forget_chunks_locked`] if the head is never written.
    pub(crate) fn append_chunks(
        &self,
        w: &mut WriterState,
        key: &[u8],
        value: &[u8],
        written: &mut Vec<Vec<u8>>,
    ) -> Result<[u8; MANIFEST_LEN]> {
        let stream_id = new_stream_id(w)?;
        let mut chunks = 0u32;
        for (n, piece) in value.chunks(CHUNK_SIZE).enumerate() {
            let chunk = chunk_key(stream_id, n as u32, key);
            let (stored, codec) = codec::encode(piece, self.options.compression);
            self.append_chunk_locked(w, &chunk, &stored, codec)?;
            written.push(chunk);
            chunks += 1;
        }
        Ok(Manifest { stream_id, total_len: value.len() as u64, chunks, chunk_size: CHUNK_SIZE as u32 }.encode())
    }

    /// Writes a value given whole as a stream (values over one chunk): chunks, then head.
    pub(crate) fn put_chunked(&self, key: &[u8], value: &[u8], opts: &WriteOptions) -> Result<u64> {
        let stream_id = self.begin_stream(key)?;
        let mut written = Vec::new();
        let result = (|| {
            for (n, piece) in value.chunks(CHUNK_SIZE).enumerate() {
                let key = chunk_key(stream_id, n as u32, key);
                self.append_chunk(&key, piece)?;
                written.push(key);
            }
            let manifest =
                Manifest { stream_id, total_len: value.len() as u64, chunks: written.len() as u32, chunk_size: CHUNK_SIZE as u32 };
            self.append_put(key, &manifest.encode(), codec::CHUNKED, value.len(), opts)
        })();
        // Once the head is in the index its chunks must stay, even if the sync fails:
        // forgetting them would leave a visible head whose chunks cannot be found.
        let (seq, end) = result.inspect_err(|_| self.forget_chunks(&written))?;
        if self.wants_sync(opts) {
            self.sync_to(end)?;
        }
        Ok(seq)
    }

    /// Takes the chunks of an unfinished stream out of the index.
    fn forget_chunks(&self, keys: &[Vec<u8>]) {
        let _w = self.writer.lock();
        self.forget_chunks_locked(keys);
    }

    /// [`Store::forget_chunks`] for a caller that holds the writer lock.
    pub(crate) fn forget_chunks_locked(&self, keys: &[Vec<u8>]) {
        for key in keys {
            let hash = key_hash(key);
            let found = self.lookup_namespace(Namespace::Chunks, key, hash, |address, segment, rec| {
                (address, segment.clone(), rec.header.record_len())
            });
            if let Ok(Some((address, segment, len))) = found {
                if self.index.remove(hash, address) {
                    self.chunk_entries.fetch_sub(1, Ordering::Relaxed);
                }
                segment.sub_live(len);
            }
        }
    }

    /// Gives the key a new deadline (`None`: never expires) by rewriting only its record
    /// (for a streamed value, only the head: the chunks stay). Returns the new version, or
    /// `None` if the key has no live value.
    pub(crate) fn touch(&self, key: &[u8], expires_at_ms: Option<u64>, opts: &WriteOptions) -> Result<Option<u64>> {
        self.touch_with(key, opts, |_| Some(expires_at_ms)).map(|t| t.and_then(|(_, written)| written))
    }

    /// `touch` decided under the writer lock: `decide` gets the key's current deadline
    /// (`None`: none) and returns the new one, or `None` to leave the key as it is. Returns
    /// `None` if the key has no live value, else its current deadline and the new version if
    /// one was written.
    pub(crate) fn touch_with(
        &self,
        key: &[u8],
        opts: &WriteOptions,
        decide: impl FnOnce(Option<u64>) -> Option<Option<u64>>,
    ) -> Result<Option<(Option<u64>, Option<u64>)>> {
        self.check_key(key)?;
        let hash = key_hash(key);
        let (seq, end) = {
            let mut w = self.writer.lock();
            w.check_writable()?;
            let Some(old) = self.current_record(key, hash) else { return Ok(None) };
            if old.header.kind != RecordKind::Put || self.is_expired(old.header.expires_at_ms) {
                return Ok(None);
            }
            let current = Some(old.header.expires_at_ms).filter(|&at| at != 0);
            let Some(expires_at_ms) = decide(current) else { return Ok(Some((current, None))) };
            let (_, offset) = self.codec.decode(old.address);
            let stored = old.segment.record_at(offset)?.value.to_vec();
            let put = PutMeta { codec: old.header.codec, flags: old.header.flags, expires_at_ms: expires_at_ms.unwrap_or(0) };
            // The old record is superseded, but its chunks (if any) now belong to the new one.
            let seq = self.append_indexed_put(&mut w, key, hash, &stored, put, Some(old), Superseded::KeepChunks)?;
            (Some((current, Some(seq))), w.log_end)
        };
        if self.wants_sync(opts) {
            self.sync_to(end)?;
        }
        Ok(seq)
    }

    /// Removes chunks that belong to no current head (an abandoned or crashed stream).
    pub(crate) fn drop_orphan_chunks(&self, chunks: &[(u64, u64)]) {
        let indexed = chunks.iter().filter(|(hash, address)| self.index.contains_exact(*hash, *address)).count();
        self.chunk_entries.store(indexed as u64, Ordering::Relaxed);
        let table = self.table.load();
        for &(hash, address) in chunks {
            let (slot, offset) = self.codec.decode(address);
            let Some(segment) = table.get(slot) else { continue };
            let Ok((header, key)) = segment.key_at(offset) else { continue };
            if !self.index.contains_exact(hash, address) {
                continue; // an older copy of a chunk
            }
            let Some((stream_id, user_key)) = parse_chunk_key(key) else { continue };
            let owner = self.lookup(user_key, key_hash(user_key), |_, _, rec| {
                rec.header.codec == codec::CHUNKED && Manifest::decode(rec.value).is_some_and(|m| m.stream_id == stream_id)
            });
            if !matches!(owner, Ok(Some(true))) && self.index.remove(hash, address) {
                self.chunk_entries.fetch_sub(1, Ordering::Relaxed);
                segment.sub_live(header.record_len());
            }
        }
    }
}

/// Writes one value as a stream of chunks; see the module documentation. Get one from
/// [`Db::put_stream`](crate::Db::put_stream); call [`finish`](ValueWriter::finish) to make
/// the value visible. Dropping it unfinished leaves no trace.
pub struct ValueWriter {
    inner: Arc<Store>,
    key: Vec<u8>,
    opts: WriteOptions,
    stream_id: u64,
    buf: Vec<u8>,
    chunks: u32,
    total: u64,
    written: Vec<Vec<u8>>,
    finished: bool,
}

impl ValueWriter {
    pub(crate) fn new(inner: Arc<Store>, key: &[u8], opts: WriteOptions) -> Result<ValueWriter> {
        let stream_id = inner.begin_stream(key)?;
        Ok(ValueWriter {
            inner,
            key: key.to_vec(),
            opts,
            stream_id,
            buf: Vec::new(),
            chunks: 0,
            total: 0,
            written: Vec::new(),
            finished: false,
        })
    }

    fn flush_chunk(&mut self, len: usize) -> Result<()> {
        let key = chunk_key(self.stream_id, self.chunks, &self.key);
        self.inner.append_chunk(&key, &self.buf[..len])?;
        self.buf.drain(..len);
        self.chunks += 1;
        self.written.push(key);
        Ok(())
    }

    /// Writes the rest and the head: the value becomes visible, atomically. Returns its
    /// version.
    pub fn finish(mut self) -> Result<u64> {
        if !self.buf.is_empty() {
            self.flush_chunk(self.buf.len())?;
        }
        let manifest = Manifest { stream_id: self.stream_id, total_len: self.total, chunks: self.chunks, chunk_size: CHUNK_SIZE as u32 };
        let (version, end) = self.inner.append_put(&self.key, &manifest.encode(), codec::CHUNKED, self.total as usize, &self.opts)?;
        // The head is in the index: its chunks stay even if the sync below fails (dropping
        // an unfinished writer forgets them, which would leave the head without its chunks).
        self.finished = true;
        if self.inner.wants_sync(&self.opts) {
            self.inner.sync_to(end)?;
        }
        Ok(version)
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True if nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl Write for ValueWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        self.total += data.len() as u64;
        while self.buf.len() >= CHUNK_SIZE {
            self.flush_chunk(CHUNK_SIZE).map_err(io::Error::other)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ValueWriter {
    fn drop(&mut self) {
        if !self.finished {
            // Abandoned: its chunks leave the index now; compaction reclaims their space.
            self.inner.forget_chunks(&self.written);
        }
    }
}

/// Reads one value as a stream; see [`Db::get_stream`](crate::Db::get_stream).
pub struct ValueReader {
    snapshot: Snapshot,
    key: Vec<u8>,
    source: Source,
    pos: u64,
    /// The chunk last read, as (number, bytes).
    cached: Option<(u32, Vec<u8>)>,
    entry: Entry,
}

enum Source {
    Inline(Vec<u8>),
    Chunks(Manifest),
}

impl ValueReader {
    pub(crate) fn open(snapshot: Snapshot, key: &[u8]) -> Result<Option<ValueReader>> {
        let Some((entry_meta, codec_byte, stored)) = snapshot.visible_raw(key)? else { return Ok(None) };
        let source = if codec_byte == codec::CHUNKED {
            Source::Chunks(Manifest::decode(&stored).ok_or_else(|| Error::corruption("<stream manifest>", 0, "damaged stream manifest"))?)
        } else {
            Source::Inline(codec::decode(codec_byte, &stored).map_err(|why| Error::corruption("<value>", 0, why))?)
        };
        Ok(Some(ValueReader { snapshot, key: key.to_vec(), source, pos: 0, cached: None, entry: entry_meta }))
    }

    /// Length of the value in bytes.
    pub fn len(&self) -> u64 {
        match &self.source {
            Source::Inline(v) => v.len() as u64,
            Source::Chunks(m) => m.total_len,
        }
    }

    /// True for an empty value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Version, flags and deadline of the value (its `value` field is empty).
    pub fn metadata(&self) -> &Entry {
        &self.entry
    }

    fn chunk(&mut self, n: u32) -> io::Result<&[u8]> {
        if self.cached.as_ref().map(|c| c.0) != Some(n) {
            let Source::Chunks(m) = &self.source else { unreachable!("only streamed values have chunks") };
            let key = chunk_key(m.stream_id, n, &self.key);
            let pos = self.pos;
            let user_key = String::from_utf8_lossy(&self.key).into_owned();
            let bytes = self
                .snapshot
                .visible_chunk(&key)
                .map_err(|e| io::Error::other(format!("reading the value of {user_key:?} at offset {pos}: {e}")))?
                .ok_or_else(|| {
                    io::Error::other(format!("chunk {n} of the streamed value of {:?} is missing", String::from_utf8_lossy(&self.key)))
                })?;
            self.cached = Some((n, bytes));
        }
        Ok(&self.cached.as_ref().expect("just cached").1)
    }
}

impl Read for ValueReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let len = self.len();
        if self.pos >= len || out.is_empty() {
            return Ok(0);
        }
        let n = match &self.source {
            Source::Inline(v) => {
                let from = &v[self.pos as usize..];
                let n = from.len().min(out.len());
                out[..n].copy_from_slice(&from[..n]);
                n
            }
            Source::Chunks(m) => {
                let size = m.chunk_size as u64;
                let (index, within) = ((self.pos / size) as u32, (self.pos % size) as usize);
                let chunk = self.chunk(index)?;
                let from = chunk.get(within..).unwrap_or(&[]);
                if from.is_empty() {
                    return Err(io::Error::other("streamed value chunk shorter than its manifest says"));
                }
                let n = from.len().min(out.len());
                out[..n].copy_from_slice(&from[..n]);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ValueReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.len() as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the value"));
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}
