//! Conditional writes and atomic read-modify-write: decided under the writer lock, so no
//! other write to the store can come between the read and the write (memcached's add,
//! replace, cas, incr, append; Redis's SETNX, INCR, APPEND, GETSET...).

use crate::batch::WriteBatch;
use crate::entry::Entry;
use crate::error::Result;
use crate::hash::key_hash;
use crate::options::WriteOptions;
use crate::record::RecordKind;
use crate::store::{Found, Store};
use crate::write::{PutMeta, Superseded};
use crate::{codec, stream};

/// When [`Db::put_if`](crate::Db::put_if) writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Always (a plain put).
    Always,
    /// Only if the key has no live value (memcached `add`, Redis `SET NX`).
    IfAbsent,
    /// Only if the key has a live value (memcached `replace`, Redis `SET XX`).
    IfPresent,
    /// Only if the key's current version is this one (memcached `cas`).
    IfVersion(u64),
}

/// What [`Db::put_if`](crate::Db::put_if) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written; the new version.
    Stored(u64),
    /// Not written: the key exists (`IfAbsent`), or has another version (`IfVersion`).
    ConditionFailed,
    /// Not written: the key has no live value (`IfPresent`, `IfVersion`).
    NotFound,
}

/// The decision of an [`Db::update`](crate::Db::update) function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Leave the key as it is.
    Keep,
    /// Store this value, flags and deadline.
    Put { value: Vec<u8>, flags: u32, expires_at_ms: Option<u64> },
    /// Delete the key.
    Delete,
}

/// What [`Db::update`](crate::Db::update) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Nothing was written.
    Kept,
    /// A new value was written; its version.
    Stored(u64),
    /// The key was deleted.
    Deleted,
}

impl Store {
    /// Runs `f` on the key's live entry and applies its decision, atomically with respect
    /// to every other write of the store. A key holding a collection is `WrongType`.
    pub fn update(&self, key: &[u8], opts: &WriteOptions, f: impl FnOnce(Option<&Entry>) -> Update) -> Result<UpdateOutcome> {
        self.update_any(key, opts, false, f)
    }

    /// `update`; with `whole_values`, a collection is passed to `f` as an entry holding its
    /// head (for decisions on existence and version only: `put_if`).
    fn update_any(
        &self,
        key: &[u8],
        opts: &WriteOptions,
        whole_values: bool,
        f: impl FnOnce(Option<&Entry>) -> Update,
    ) -> Result<UpdateOutcome> {
        self.check_key(key)?;
        let hash = key_hash(key);
        let (outcome, end, user_bytes) = {
            let mut w = self.writer.lock();
            w.check_writable()?;
            let (found, current, collection) = self.current_entry(key, hash);
            if collection && !whole_values {
                return Err(crate::Error::WrongType);
            }
            match f(current.as_ref()) {
                Update::Keep => return Ok(UpdateOutcome::Kept),
                Update::Put { value, flags, expires_at_ms } => {
                    self.check_value(&value)?;
                    let put = PutMeta { codec: codec::RAW, flags, expires_at_ms: expires_at_ms.unwrap_or(0) };
                    // The one rule of every write path: over one chunk, a value is streamed
                    // (under the lock held since the read; the head commits it).
                    let seq = if stream::is_streamed(value.len()) {
                        self.check_key(&stream::chunk_key(0, 0, key))?;
                        let mut chunks = Vec::new();
                        let written = self.append_chunks(&mut w, key, &value, &mut chunks).and_then(|manifest| {
                            let put = PutMeta { codec: codec::CHUNKED, ..put };
                            self.append_indexed_put(&mut w, key, hash, &manifest, put, found, Superseded::WithChunks)
                        });
                        written.inspect_err(|_| self.forget_chunks_locked(&chunks))?
                    } else {
                        let (stored, codec) = codec::encode(&value, self.options.compression);
                        self.append_indexed_put(&mut w, key, hash, &stored, PutMeta { codec, ..put }, found, Superseded::WithChunks)?
                    };
                    (UpdateOutcome::Stored(seq), w.log_end, key.len() + value.len())
                }
                Update::Delete => {
                    let Some(old) = found else { return Ok(UpdateOutcome::Kept) };
                    self.append_indexed_delete(&mut w, key, hash, &old)?;
                    let outcome = if current.is_some() { UpdateOutcome::Deleted } else { UpdateOutcome::Kept };
                    (outcome, w.log_end, key.len())
                }
            }
        };
        self.note_user_bytes(user_bytes);
        if self.wants_sync(opts) {
            self.sync_to(end)?;
        }
        Ok(outcome)
    }

    /// Deletes the key, whatever it holds, if its live value's version is at most `version`
    /// (a flush that must not remove what was written after it began). True if deleted.
    pub fn delete_if_not_newer(&self, key: &[u8], version: u64, opts: &WriteOptions) -> Result<bool> {
        let outcome = self.update_any(key, opts, true, |current| match current {
            Some(entry) if entry.version <= version => Update::Delete,
            _ => Update::Keep,
        })?;
        Ok(outcome == UpdateOutcome::Deleted)
    }

    /// Writes `value` if `condition` holds for the key's live entry.
    pub fn put_if(&self, key: &[u8], value: &[u8], condition: Condition, opts: &WriteOptions) -> Result<PutOutcome> {
        let mut verdict = PutOutcome::NotFound;
        let outcome = self.update_any(key, opts, true, |current| {
            verdict = match (condition, current) {
                (Condition::Always, _) | (Condition::IfAbsent, None) => PutOutcome::Stored(0),
                (Condition::IfPresent, Some(_)) => PutOutcome::Stored(0),
                (Condition::IfVersion(v), Some(e)) if e.version == v => PutOutcome::Stored(0),
                (Condition::IfAbsent, Some(_)) | (Condition::IfVersion(_), Some(_)) => PutOutcome::ConditionFailed,
                (Condition::IfPresent, None) | (Condition::IfVersion(_), None) => PutOutcome::NotFound,
            };
            match verdict {
                PutOutcome::Stored(_) => Update::Put { value: value.to_vec(), flags: opts.flags, expires_at_ms: opts.expires_at_ms },
                _ => Update::Keep,
            }
        })?;
        Ok(match outcome {
            UpdateOutcome::Stored(version) => PutOutcome::Stored(version),
            _ => verdict,
        })
    }

    /// Reads the live entries of `keys` and writes the batch `f` builds from them (nothing if
    /// it returns `None`), atomically with respect to every other write of the store.
    /// Returns whether a batch was written.
    pub fn write_if(&self, keys: &[&[u8]], opts: &WriteOptions, f: impl FnOnce(&[Option<Entry>]) -> Option<WriteBatch>) -> Result<bool> {
        for key in keys {
            self.check_key(key)?;
        }
        let (batch, end) = {
            let mut w = self.writer.lock();
            w.check_writable()?;
            let mut current: Vec<Option<Entry>> = Vec::with_capacity(keys.len());
            for key in keys {
                let (_, entry, collection) = self.current_entry(key, key_hash(key));
                if collection {
                    return Err(crate::Error::WrongType);
                }
                current.push(entry);
            }
            let Some(batch) = f(&current) else { return Ok(false) };
            if batch.is_empty() {
                return Ok(false);
            }
            // Values are encoded under the lock here: the batch depends on what was read.
            let mut prepared = self.prepare_batch(&batch)?;
            let end = self.append_batch(&mut w, &batch, &mut prepared)?;
            drop(prepared);
            (batch, end)
        };
        self.finish_batch(&batch, end, opts)?;
        Ok(true)
    }

    /// The key's current record (live or not), its live entry, and whether that entry is a
    /// collection head (its value the head's bytes), for a writer.
    fn current_entry(&self, key: &[u8], hash: u64) -> (Option<Found>, Option<Entry>, bool) {
        let read = self.lookup(key, hash, |address, segment, rec| {
            let live = rec.header.kind == RecordKind::Put && !self.is_expired(rec.header.expires_at_ms);
            let entry = live.then(|| Entry::from_record(self, rec, segment, self.codec.decode(address).1, |k| self.read_chunk(k)));
            (Found { address, segment: segment.clone(), header: rec.header }, entry, live && rec.header.codec == codec::COLLECTION)
        });
        match read {
            Ok(Some((found, Some(Err(e)), _))) => {
                tracing::warn!("treating an undecodable value as absent while writing: {e}");
                (Some(found), None, false)
            }
            Ok(Some((found, entry, collection))) => (Some(found), entry.map(|e| e.expect("errors handled above")), collection),
            Ok(None) => (None, None, false),
            Err(e) => {
                tracing::warn!("treating an unreadable record as absent while writing: {e}");
                (None, None, false)
            }
        }
    }
}

impl crate::Db {
    /// Deletes `key`, whatever it holds (a string, a hash, a set), if its live value's
    /// version is at most `version`; true if it did. A flush (memcached `flush_all`, Redis
    /// FLUSHALL) removes what existed when it began and nothing written after.
    pub fn delete_if_not_newer(&self, key: &[u8], version: u64, opts: &WriteOptions) -> Result<bool> {
        self.inner().delete_if_not_newer(key, version, opts)
    }
}
