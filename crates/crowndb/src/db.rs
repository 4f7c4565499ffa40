//! The public handle of an open store.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::background::Background;
use crate::batch::WriteBatch;
use crate::compaction::CompactionReport;
use crate::conditional::{Condition, PutOutcome, Update, UpdateOutcome};
use crate::entry::Entry;
use crate::error::Result;
use crate::hash::key_hash;
use crate::iter::Iter;
use crate::lock::DirLock;
use crate::options::{Options, WriteOptions};
use crate::record::RecordKind;
use crate::snapshot::Snapshot;
use crate::stats::{SegmentStats, Stats};
use crate::store::{Refusal, Store};
use crate::stream::{ValueReader, ValueWriter};

/// An open CrownDB store: a directory of append-only segments and an in-memory hash index.
///
/// `Db` is cheap to clone (clones share the store) and `Send + Sync`. The store closes
/// when the last clone is dropped, or explicitly with [`Db::close`].
///
/// ```
/// use crowndb::{Db, Options};
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// db.put(b"hello", b"world").unwrap();
/// assert_eq!(db.get(b"hello").unwrap(), Some(b"world".to_vec()));
/// db.close().unwrap();
///
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// assert_eq!(db.get(b"hello").unwrap(), Some(b"world".to_vec()));
/// ```
#[derive(Clone)]
pub struct Db {
    shared: Arc<Shared>,
}

struct Shared {
    inner: Arc<Store>,
    background: Mutex<Option<Background>>,
    _lock: DirLock,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("dir", &self.shared.inner.dir).finish()
    }
}

/// One page of [`Db::scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPage {
    /// Pass this to the next call; 0 means the walk is complete.
    pub cursor: u64,
    pub keys: Vec<Vec<u8>>,
}

/// Where the unsynced part of a store was when [`Db::simulate_crash`] stopped it.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct CrashPoint {
    pub active_segment: std::path::PathBuf,
    /// Bytes of the active segment known to be on disk.
    pub synced_len: u64,
    /// Bytes of the active segment written (in the OS page cache).
    pub written_len: u64,
}

impl Db {
    /// Opens the store in `dir`, creating it if allowed by `options.create_if_missing`.
    /// Fails with [`ErrorKind::Locked`](crate::ErrorKind::Locked) if another process has it open.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Db> {
        let (inner, lock) = crate::recovery::open(dir.as_ref(), options)?;
        let inner = Arc::new(inner);
        let background = Background::start(&inner);
        Ok(Db { shared: Arc::new(Shared { inner, background: Mutex::new(Some(background)), _lock: lock }) })
    }

    pub(crate) fn inner(&self) -> &Store {
        &self.shared.inner
    }

    /// The value of `key`, or `None` if it is absent, deleted or expired.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// assert_eq!(db.get(b"missing").unwrap(), None);
    /// ```
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.get_entry(key)?.map(|e| e.value))
    }

    /// The value of `key` with its version, flags and expiry.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// let opts = crowndb::WriteOptions { flags: 42, ..Default::default() };
    /// let version = db.put_opt(b"k", b"v", &opts).unwrap();
    /// let entry = db.get_entry(b"k").unwrap().unwrap();
    /// assert_eq!((entry.flags, entry.version), (42, version));
    /// ```
    ///
    /// A key holding a collection (a hash or set) is [`Error::WrongType`](crate::Error::WrongType):
    /// read it through [`Db::read`].
    pub fn get_entry(&self, key: &[u8]) -> Result<Option<Entry>> {
        self.inner().read_entry(key)
    }

    /// True if `key` has a live value.
    pub fn contains_key(&self, key: &[u8]) -> Result<bool> {
        let inner = self.inner();
        let live = inner
            .lookup(key, key_hash(key), |_, _, rec| rec.header.kind == RecordKind::Put && !inner.is_expired(rec.header.expires_at_ms))?;
        Ok(live.unwrap_or(false))
    }

    /// The version (sequence number of the live record) of whatever `key` holds, a string or
    /// a collection's head; `None` if it has no live value. Redis's WATCH compares it.
    pub fn version(&self, key: &[u8]) -> Result<Option<u64>> {
        let inner = self.inner();
        let found = inner.lookup(key, key_hash(key), |_, _, rec| {
            (rec.header.kind == RecordKind::Put && !inner.is_expired(rec.header.expires_at_ms)).then_some(rec.header.seq)
        })?;
        Ok(found.flatten())
    }

    /// Stores `value` under `key` with the store's default durability; returns the new version.
    ///
    /// Value sizes (the same rule for every write path: `put`, `put_if`, `update`,
    /// `increment`, `append`, `write`, `write_if`): a value may be up to
    /// [`Options::max_value_size`] bytes (default 64 MiB), even above `segment_size`; a
    /// value over 1 MiB is stored as a stream (chunk records, then a small head that
    /// commits it, as [`Db::put_stream`] writes), so a later [`Db::touch`] rewrites only the
    /// head. In a batch, the envelope holds the heads: it stays all or nothing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// let v1 = db.put(b"k", b"one").unwrap();
    /// let v2 = db.put(b"k", b"two").unwrap();
    /// assert!(v2 > v1);
    /// ```
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<u64> {
        self.inner().put(key, value, &WriteOptions::default())
    }

    /// Stores `value` under `key` with per-write options (durability, flags, expiry).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// // Returns only once the write is on disk.
    /// db.put_opt(b"k", b"v", &crowndb::WriteOptions::synced()).unwrap();
    /// ```
    pub fn put_opt(&self, key: &[u8], value: &[u8], opts: &WriteOptions) -> Result<u64> {
        self.inner().put(key, value, opts)
    }

    /// Writes `value` only if `condition` holds, atomically with respect to every other write.
    /// Values follow the size rule of [`Db::put`] (over 1 MiB: streamed).
    ///
    /// ```
    /// use crowndb::{Condition, PutOutcome, WriteOptions};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// let opts = WriteOptions::default();
    /// let PutOutcome::Stored(v1) = db.put_if(b"k", b"first", Condition::IfAbsent, &opts).unwrap() else { panic!() };
    /// assert_eq!(db.put_if(b"k", b"again", Condition::IfAbsent, &opts).unwrap(), PutOutcome::ConditionFailed);
    /// assert!(matches!(db.put_if(b"k", b"cas", Condition::IfVersion(v1), &opts).unwrap(), PutOutcome::Stored(_)));
    /// assert_eq!(db.put_if(b"k", b"stale", Condition::IfVersion(v1), &opts).unwrap(), PutOutcome::ConditionFailed);
    /// assert_eq!(db.put_if(b"nope", b"x", Condition::IfPresent, &opts).unwrap(), PutOutcome::NotFound);
    /// ```
    pub fn put_if(&self, key: &[u8], value: &[u8], condition: Condition, opts: &WriteOptions) -> Result<PutOutcome> {
        self.inner().put_if(key, value, condition, opts)
    }

    /// Gives `key` a new expiry deadline (Unix ms; `None`: never) without rewriting a
    /// large value: only its record (for values over 1 MiB, stored as streams, only the
    /// small head) is rewritten. Returns the new version, or `None` if the key has no
    /// live value.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// db.put(b"session", b"data").unwrap();
    /// assert!(db.touch(b"session", Some(u64::MAX / 2)).unwrap().is_some());
    /// assert_eq!(db.get_entry(b"session").unwrap().unwrap().expires_at_ms, Some(u64::MAX / 2));
    /// assert_eq!(db.touch(b"missing", None).unwrap(), None);
    /// ```
    pub fn touch(&self, key: &[u8], expires_at_ms: Option<u64>) -> Result<Option<u64>> {
        self.inner().touch(key, expires_at_ms, &WriteOptions::default())
    }

    /// [`Db::touch`] with write options (`sync`: a server defers a pipeline's sync to its end).
    pub fn touch_opt(&self, key: &[u8], expires_at_ms: Option<u64>, opts: &WriteOptions) -> Result<Option<u64>> {
        self.inner().touch(key, expires_at_ms, opts)
    }

    /// A deadline change decided atomically (Redis's EXPIRE NX / XX / GT / LT, PERSIST):
    /// `decide` gets the key's current deadline (`None`: none) and returns the new one
    /// (`Some(None)` removes it), or `None` to write nothing. Returns `None` if the key has
    /// no live value; else its deadline before the call and the new version if one was
    /// written. Works on strings and collections alike (only the record or head is rewritten).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// db.put(b"k", b"v").unwrap();
    /// // EXPIRE k 100 NX: only if it has no deadline.
    /// let nx = |current: Option<u64>| current.is_none().then_some(Some(4_000_000_000_000));
    /// assert!(db.touch_with(b"k", &Default::default(), nx).unwrap().unwrap().1.is_some());
    /// assert!(db.touch_with(b"k", &Default::default(), nx).unwrap().unwrap().1.is_none());
    /// ```
    pub fn touch_with(
        &self,
        key: &[u8],
        opts: &WriteOptions,
        decide: impl FnOnce(Option<u64>) -> Option<Option<u64>>,
    ) -> Result<Option<(Option<u64>, Option<u64>)>> {
        self.inner().touch_with(key, opts, decide)
    }

    /// Starts writing a value of any size as a stream: write it through the returned
    /// [`ValueWriter`] (an `io::Write`) in pieces of any size, then call
    /// [`ValueWriter::finish`]; memory stays flat. The value becomes visible atomically at
    /// `finish`; dropping the writer unfinished, or a crash before `finish`, leaves no trace.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// let mut w = db.put_stream(b"video", &Default::default()).unwrap();
    /// for _ in 0..3 {
    ///     w.write_all(&[7u8; 1 << 20]).unwrap();
    /// }
    /// w.finish().unwrap();
    /// let mut r = db.get_stream(b"video").unwrap().unwrap();
    /// assert_eq!(r.len(), 3 << 20);
    /// let mut first = [0u8; 4];
    /// r.read_exact(&mut first).unwrap();
    /// assert_eq!(first, [7; 4]);
    /// ```
    pub fn put_stream(&self, key: &[u8], opts: &WriteOptions) -> Result<ValueWriter> {
        ValueWriter::new(self.shared.inner.clone(), key, *opts)
    }

    /// Reads a value of any size as a stream (`io::Read + io::Seek`), through a snapshot
    /// taken now: later writes do not affect it. Works for values written with `put` too.
    pub fn get_stream(&self, key: &[u8]) -> Result<Option<ValueReader>> {
        ValueReader::open(self.snapshot(), key)
    }

    /// Atomic read-modify-write: `f` sees the key's live entry (`None` if absent or
    /// expired) and returns what to do; no other write can come in between. `f` runs under
    /// the store's writer lock: keep it short.
    /// Values follow the size rule of [`Db::put`] (over 1 MiB: streamed).
    ///
    /// ```
    /// use crowndb::{Update, UpdateOutcome, WriteOptions};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// let incr = |e: Option<&crowndb::Entry>| {
    ///     let n: u64 = e.map_or(0, |e| std::str::from_utf8(&e.value).unwrap().parse().unwrap());
    ///     Update::Put { value: (n + 1).to_string().into_bytes(), flags: 0, expires_at_ms: None }
    /// };
    /// db.update(b"counter", &WriteOptions::default(), incr).unwrap();
    /// db.update(b"counter", &WriteOptions::default(), incr).unwrap();
    /// assert_eq!(db.get(b"counter").unwrap(), Some(b"2".to_vec()));
    /// ```
    pub fn update<F>(&self, key: &[u8], opts: &WriteOptions, f: F) -> Result<UpdateOutcome>
    where
        F: FnOnce(Option<&Entry>) -> Update,
    {
        self.inner().update(key, opts, f)
    }

    /// Reads the live entries of several keys and writes the batch `f` builds from them,
    /// atomically with respect to every other write of the store: no write can come between
    /// the read and the batch (Redis's MSETNX, RENAME, COPY). `f` gets the entries in the
    /// order of `keys` (`None`: no live value) and returns the batch, or `None` to write
    /// nothing. Returns whether a batch was written. `f` runs under the writer lock: keep it
    /// short.
    /// Values follow the size rule of [`Db::put`] (over 1 MiB: streamed).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// db.put(b"from", b"v").unwrap();
    /// // Move "from" to "to" unless "to" exists.
    /// let moved = db.write_if(&[b"from", b"to"], &Default::default(), |entries| match entries {
    ///     [Some(from), None] => {
    ///         let mut batch = crowndb::WriteBatch::new();
    ///         batch.put(b"to", &from.value).delete(b"from");
    ///         Some(batch)
    ///     }
    ///     _ => None,
    /// }).unwrap();
    /// assert!(moved);
    /// assert_eq!(db.get(b"to").unwrap(), Some(b"v".to_vec()));
    /// ```
    pub fn write_if<F>(&self, keys: &[&[u8]], opts: &WriteOptions, f: F) -> Result<bool>
    where
        F: FnOnce(&[Option<Entry>]) -> Option<WriteBatch>,
    {
        self.inner().write_if(keys, opts, f)
    }

    /// Adds `delta` to the decimal integer stored under `key` (a missing key counts as 0)
    /// and returns the result, atomically (no update is lost under concurrency). Fails with
    /// `InvalidArgument` if the value is not a decimal integer that fits in an `i64`, or if
    /// the result would overflow. The key keeps its flags and deadline.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// assert_eq!(db.increment(b"hits", 5).unwrap(), 5);
    /// assert_eq!(db.increment(b"hits", -7).unwrap(), -2);
    /// db.put(b"name", b"ada").unwrap();
    /// assert!(db.increment(b"name", 1).is_err());
    /// ```
    pub fn increment(&self, key: &[u8], delta: i64) -> Result<i64> {
        let mut result = Ok(0);
        self.update(key, &WriteOptions::default(), |current| {
            let (n, flags, expires_at_ms) = match current {
                None => (0i64, 0, None),
                Some(e) => match std::str::from_utf8(&e.value).ok().and_then(|s| s.parse::<i64>().ok()) {
                    Some(n) => (n, e.flags, e.expires_at_ms),
                    None => {
                        result = Err(crate::Error::InvalidArgument("value is not an integer or out of range".into()));
                        return Update::Keep;
                    }
                },
            };
            match n.checked_add(delta) {
                Some(sum) => {
                    result = Ok(sum);
                    Update::Put { value: sum.to_string().into_bytes(), flags, expires_at_ms }
                }
                None => {
                    result = Err(crate::Error::InvalidArgument("increment or decrement would overflow".into()));
                    Update::Keep
                }
            }
        })?;
        result
    }

    /// Appends `suffix` to the value of `key` (or prepends it, with `at_front`), atomically;
    /// the key keeps its flags and deadline. Returns the new length, or `None` (and writes
    /// nothing) if the key has no live value, as memcached's `append` does.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// db.put(b"log", b"b").unwrap();
    /// db.append(b"log", b"c", false).unwrap();
    /// assert_eq!(db.append(b"log", b"a", true).unwrap(), Some(3));
    /// assert_eq!(db.get(b"log").unwrap(), Some(b"abc".to_vec()));
    /// assert_eq!(db.append(b"missing", b"x", false).unwrap(), None);
    /// ```
    pub fn append(&self, key: &[u8], suffix: &[u8], at_front: bool) -> Result<Option<usize>> {
        let mut len = None;
        self.update(key, &WriteOptions::default(), |current| {
            let Some(e) = current else { return Update::Keep };
            let value = if at_front { [suffix, &e.value].concat() } else { [&e.value, suffix].concat() };
            len = Some(value.len());
            Update::Put { value, flags: e.flags, expires_at_ms: e.expires_at_ms }
        })?;
        Ok(len)
    }

    /// Deletes `key`; returns whether it had a live value.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// db.put(b"k", b"v").unwrap();
    /// assert!(db.delete(b"k").unwrap());
    /// assert!(!db.delete(b"k").unwrap());
    /// ```
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.inner().delete(key, &WriteOptions::default())
    }

    /// Deletes `key` with per-write durability.
    pub fn delete_opt(&self, key: &[u8], opts: &WriteOptions) -> Result<bool> {
        self.inner().delete(key, opts)
    }

    /// Applies every operation of `batch` atomically (see [`WriteBatch`]).
    /// Values follow the size rule of [`Db::put`] (over 1 MiB: streamed).
    pub fn write(&self, batch: &WriteBatch) -> Result<()> {
        self.inner().write_batch(batch, &WriteOptions::default())
    }

    /// Applies a batch with per-write durability.
    pub fn write_opt(&self, batch: &WriteBatch, opts: &WriteOptions) -> Result<()> {
        self.inner().write_batch(batch, opts)
    }

    /// Makes every write made so far durable (`fdatasync`), whatever the durability setting.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// db.put(b"k", b"v").unwrap();
    /// db.sync().unwrap();
    /// ```
    pub fn sync(&self) -> Result<()> {
        self.inner().sync_all()
    }

    /// Figures of the store: keys, live and dead bytes, segments, index memory.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// db.put(b"k", b"v").unwrap();
    /// let stats = db.stats();
    /// assert_eq!(stats.keys, 1);
    /// assert!(stats.live_bytes > 0);
    /// ```
    pub fn stats(&self) -> Stats {
        let inner = self.inner();
        let table = inner.table.load();
        let segments: Vec<SegmentStats> = table
            .by_generation()
            .iter()
            .map(|s| SegmentStats {
                generation: s.generation,
                data_bytes: s.data_len(),
                live_bytes: s.live_bytes(),
                dead_bytes: s.dead_bytes(),
                sealed: s.is_sealed(),
            })
            .collect();
        Stats {
            keys: (inner.index.len() as u64)
                .saturating_sub(inner.chunk_entries.load(std::sync::atomic::Ordering::Relaxed))
                .saturating_sub(inner.page_entries.load(std::sync::atomic::Ordering::Relaxed)),
            live_bytes: segments.iter().map(|s| s.live_bytes).sum(),
            dead_bytes: segments.iter().map(|s| s.dead_bytes).sum(),
            segments,
            index_memory_bytes: inner.index.memory_bytes() as u64,
            user_bytes_written: inner.user_bytes_written.load(std::sync::atomic::Ordering::Relaxed),
            disk_bytes_written: inner.disk_bytes_written.load(std::sync::atomic::Ordering::Relaxed),
            syncs: inner.commit.stats().syncs,
            sync: inner.commit.stats(),
            false_candidate_reads: inner.false_candidate_reads.load(std::sync::atomic::Ordering::Relaxed),
            bytes_compacted: inner.bytes_compacted.load(std::sync::atomic::Ordering::Relaxed),
            segments_deleted: inner.segments_deleted.load(std::sync::atomic::Ordering::Relaxed),
            evictions: inner.evictions.load(std::sync::atomic::Ordering::Relaxed),
            last_sequence: inner.writer.lock().next_seq - 1,
        }
    }

    /// A consistent read-only view of the store as it is now (see [`Snapshot`]).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::take(&self.shared.inner)
    }

    /// Every live `(key, value)` pair, as of now (a snapshot is taken), in no particular
    /// order. Streams: memory stays flat whatever the store's size; writes and compaction
    /// continue meanwhile and do not affect what it returns. (A hash store has no ordered
    /// range scans.)
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// db.put(b"a", b"1").unwrap();
    /// db.put(b"b", b"2").unwrap();
    /// let mut all: Vec<_> = db.iter().map(|kv| kv.unwrap()).collect();
    /// all.sort();
    /// assert_eq!(all, vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"2".to_vec())]);
    /// ```
    pub fn iter(&self) -> Iter {
        Iter::new(self.snapshot())
    }

    /// One page of a resumable key walk, the way Redis `SCAN` works: start with cursor 0,
    /// pass the returned cursor back, stop when it is 0 again. Each page has about `count`
    /// keys. A key live for the whole walk is returned at least once (possibly more);
    /// keys written or deleted meanwhile may or may not be. No snapshot is held between
    /// pages.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// for i in 0..100 { db.put(format!("k{i}").as_bytes(), b"v").unwrap(); }
    /// let (mut cursor, mut seen) = (0, std::collections::HashSet::new());
    /// loop {
    ///     let page = db.scan(cursor, 10).unwrap();
    ///     seen.extend(page.keys);
    ///     cursor = page.cursor;
    ///     if cursor == 0 { break; }
    /// }
    /// assert_eq!(seen.len(), 100);
    /// ```
    pub fn scan(&self, cursor: u64, count: usize) -> Result<ScanPage> {
        let inner = self.inner();
        loop {
            let table = inner.table.load();
            let mut addresses = Vec::with_capacity(count + 8);
            let next = inner.index.scan(cursor, count, &mut addresses);
            if !std::ptr::eq(Arc::as_ptr(&table), Arc::as_ptr(&inner.table.load())) {
                continue;
            }
            let mut keys = Vec::with_capacity(addresses.len());
            for address in addresses {
                let (slot, offset) = inner.codec.decode(address);
                let Some(segment) = table.get(slot) else { continue };
                let rec = segment.record_at(offset)?;
                if rec.header.kind == RecordKind::Put && !inner.is_expired(rec.header.expires_at_ms) {
                    keys.push(rec.key.to_vec());
                }
            }
            return Ok(ScanPage { cursor: next, keys });
        }
    }

    /// Compacts every sealed segment now, whatever its garbage, without rate limit:
    /// live records are copied forward, tombstones with nothing left to hide are dropped,
    /// and the old files are deleted (once no open snapshot needs them). Returns what it did.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let options = crowndb::Options { segment_size: 64 << 10, background_compaction: false, ..Default::default() };
    /// let db = crowndb::Db::open(dir.path(), options).unwrap();
    /// for i in 0..2000u32 {
    ///     db.put(b"same key", &i.to_le_bytes().repeat(25)).unwrap();
    /// }
    /// let before = db.stats().space_amplification();
    /// let report = db.compact().unwrap();
    /// assert!(report.segments > 0);
    /// assert!(db.stats().space_amplification() < before);
    /// assert_eq!(db.get(b"same key").unwrap(), Some(1999u32.to_le_bytes().repeat(25)));
    /// ```
    pub fn compact(&self) -> Result<CompactionReport> {
        let inner = self.inner();
        inner.wait_for_seals();
        inner.compact_segments(inner.all_sealed(), None, true)
    }

    /// Like [`Db::compact`], copying at most `bytes_per_sec` (0: unlimited), so a manual
    /// compaction leaves room for foreground traffic.
    pub fn compact_with_limit(&self, bytes_per_sec: u64) -> Result<CompactionReport> {
        let inner = self.inner();
        inner.wait_for_seals();
        inner.compact_segments(inner.all_sealed(), Some(bytes_per_sec).filter(|r| *r > 0), true)
    }

    /// Starts a full compaction and abandons it after `bytes` are copied, leaving the files
    /// as a crash at that moment would. For crash tests, with [`Db::simulate_crash`].
    #[doc(hidden)]
    pub fn compact_interrupted(&self, bytes: u64) -> Result<CompactionReport> {
        let inner = self.inner();
        inner.compact_with_budget(inner.all_sealed(), None, Some(bytes), true)
    }

    /// The directory this store lives in.
    pub fn path(&self) -> &Path {
        &self.inner().dir
    }

    /// Syncs every write, seals the active segment (so the next open reads only footers)
    /// and stops the background threads. Writes through other clones fail afterwards;
    /// the directory lock is released when the last clone is dropped.
    pub fn close(self) -> Result<()> {
        self.shared.shutdown(true)
    }

    /// Stops the store the way a killed process would: no sync, no seal. For crash tests.
    #[doc(hidden)]
    pub fn simulate_crash(self) -> CrashPoint {
        let inner = &self.shared.inner;
        let active = inner.writer.lock().active.clone();
        let _ = self.shared.shutdown(false);
        CrashPoint { active_segment: active.path.clone(), synced_len: active.synced_len(), written_len: active.data_len() }
    }
}

impl Shared {
    fn shutdown(&self, clean: bool) -> Result<()> {
        let Some(background) = self.background.lock().take() else { return Ok(()) };
        background.stop(&self.inner);
        if !clean {
            self.inner.writer.lock().refusal = Some(Refusal::Closed);
            return Ok(());
        }
        let synced = self.inner.sync_all();
        let mut w = self.inner.writer.lock();
        // A store that stopped accepting writes after a failed write or sync says so again
        // rather than report a clean close; its active segment is left for the next open
        // to scan rather than sealed on a disk that failed.
        if let Some(refusal) = w.poisoned() {
            return Err(refusal);
        }
        if w.refusal.is_none() {
            w.refusal = Some(Refusal::Closed);
        }
        synced?;
        let active = w.active.clone();
        drop(w);
        active.write_footer(active.data_len())
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown(true) {
            tracing::error!("closing {}: {e}", self.inner.dir.display());
        }
    }
}
