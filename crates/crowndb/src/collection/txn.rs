//! A read-write transaction on the store: holds the writer lock from start to commit, so no
//! other write comes between what it reads and what it writes; its reads see its own staged
//! writes; its writes are appended as one batch (one envelope: a crash leaves all of them or
//! none). Collection commands, MULTI/EXEC and scripts run in one.

use std::collections::HashMap;

use parking_lot::MutexGuard;

use super::access::{CollectionLimits, KeyState, ReadRecords, WriteRecords};
use super::head::{page_key, Head};
use super::members::Members;
use super::page;
use crate::batch::WriteBatch;
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::hash::key_hash;
use crate::options::WriteOptions;
use crate::record::{RecordKind, HEADER_LEN};
use crate::store::{Namespace, Store, WriterState};

/// What the transaction has staged for a key.
#[derive(Debug, Clone)]
enum Staged {
    Absent,
    String(Entry),
    Head(Head, u64),
    /// A page, encoded (decoded again only if the transaction reads it back).
    Page(Vec<u8>),
}

/// A read-write transaction; see the module documentation. Get one from
/// [`Db::transaction`](crate::Db::transaction).
pub struct Txn<'a> {
    store: &'a Store,
    w: MutexGuard<'a, WriterState>,
    batch: WriteBatch,
    staged: HashMap<(Namespace, Vec<u8>), Staged>,
}

impl<'a> Txn<'a> {
    pub(crate) fn begin(store: &'a Store) -> Result<Txn<'a>> {
        let w = store.writer.lock();
        w.check_writable()?;
        Ok(Txn { store, w, batch: WriteBatch::new(), staged: HashMap::new() })
    }

    /// Appends the staged writes as one batch; returns the log position a sync must reach,
    /// or `None` if nothing was staged.
    pub(crate) fn commit(mut self) -> Result<Option<(WriteBatch, u64)>> {
        if self.batch.is_empty() {
            return Ok(None);
        }
        let batch = std::mem::take(&mut self.batch).without_superseded();
        let mut prepared = self.store.prepare_batch(&batch)?;
        let end = self.store.append_batch(&mut self.w, &batch, &mut prepared)?;
        drop(prepared);
        Ok(Some((batch, end)))
    }

    /// The key's live string value with its metadata; `WrongType` if it holds a collection.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Entry>> {
        match self.staged.get(&(Namespace::Keys, key.to_vec())) {
            Some(Staged::String(e)) if staged_expired(self.store, e) => return Ok(None),
            Some(Staged::String(e)) => return Ok(Some(e.clone())),
            Some(Staged::Absent) => return Ok(None),
            Some(Staged::Head(..)) => return Err(Error::WrongType),
            Some(Staged::Page(_)) | None => {}
        }
        self.store.read_entry(key)
    }

    /// Stages a put of a string value (overwriting whatever the key holds).
    pub fn put(&mut self, key: &[u8], value: &[u8], opts: &WriteOptions) -> Result<()> {
        self.store.check_key(key)?;
        self.store.check_value(value)?;
        self.batch.put_with(key, value, opts.flags, opts.expires_at_ms);
        let entry = Entry { value: value.to_vec(), version: 0, flags: opts.flags, expires_at_ms: opts.expires_at_ms };
        self.staged.insert((Namespace::Keys, key.to_vec()), Staged::String(entry));
        Ok(())
    }

    /// Stages a delete; true if the key had a live value.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let existed = !matches!(self.key_state(key)?, KeyState::Absent);
        if existed {
            self.delete_key(key)?;
        }
        Ok(existed)
    }

    /// Moves whatever `from` holds (a string or a whole collection, its deadline included)
    /// to `to`, replacing what `to` held. A collection moves by its head alone: its pages
    /// name its epoch, not its key. False if `from` has no live value.
    pub fn rename(&mut self, from: &[u8], to: &[u8]) -> Result<bool> {
        match self.key_state(from)? {
            KeyState::Absent => Ok(false),
            KeyState::Other => {
                let entry = self.get(from)?.expect("a live string");
                let opts = WriteOptions { flags: entry.flags, expires_at_ms: entry.expires_at_ms, ..WriteOptions::default() };
                self.delete_key(from)?;
                self.put(to, &entry.value, &opts)?;
                Ok(true)
            }
            KeyState::Collection { head, expires_at_ms } => {
                if from != to {
                    // The new head first: the epoch never looks dead in between.
                    self.write_head(to, &head, expires_at_ms)?;
                    self.delete_key(from)?;
                }
                Ok(true)
            }
        }
    }

    /// Copies whatever `from` holds to `to` (Redis COPY; the caller checks REPLACE): a
    /// string with its deadline and flags, or a collection as a new incarnation with every
    /// member (its pages are written in this transaction's batch, so a collection larger
    /// than one batch fails with `TooLarge`). False if `from` has no live value.
    pub fn copy(&mut self, from: &[u8], to: &[u8]) -> Result<bool> {
        match self.key_state(from)? {
            KeyState::Absent => Ok(false),
            KeyState::Other => {
                let entry = self.get(from)?.expect("a live string");
                let opts = WriteOptions { flags: entry.flags, expires_at_ms: entry.expires_at_ms, ..WriteOptions::default() };
                self.put(to, &entry.value, &opts)?;
                Ok(true)
            }
            KeyState::Collection { head, expires_at_ms } => {
                let mut source = super::Collection::open(self, from, head.kind)?.expect("a live collection");
                let members = source.all(self)?;
                self.delete_key(to)?;
                let mut copy = super::Collection::open_or_create(self, to, head.kind)?;
                for (m, v) in &members {
                    copy.insert(self, m, v)?;
                }
                copy.set_expiry(expires_at_ms);
                if source.converted() {
                    // Redis's COPY duplicates the encoding.
                    copy.mark_converted();
                }
                copy.commit(self)?;
                Ok(true)
            }
        }
    }

    /// The type of the key's live value.
    pub fn key_type(&mut self, key: &[u8]) -> Result<Option<crate::KeyType>> {
        Ok(match self.key_state(key)? {
            KeyState::Absent => None,
            KeyState::Other => Some(crate::KeyType::String),
            KeyState::Collection { head, .. } => Some(crate::KeyType::from(head.kind)),
        })
    }

    /// The collection's deadline (Unix ms, 0 for none) is changed by rewriting its head.
    pub fn set_collection_expiry(&mut self, key: &[u8], expires_at_ms: u64) -> Result<bool> {
        match self.key_state(key)? {
            KeyState::Collection { head, .. } => {
                self.write_head(key, &head, expires_at_ms)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Whether a string staged with a deadline already past (`SET k v PXAT 1` inside EXEC) has
/// expired: the transaction's later reads see it gone, as the store's reads do once it is
/// written.
fn staged_expired(store: &Store, e: &Entry) -> bool {
    e.expires_at_ms.is_some_and(|at| store.is_expired(at))
}

impl ReadRecords for Txn<'_> {
    fn key_state(&mut self, key: &[u8]) -> Result<KeyState> {
        match self.staged.get(&(Namespace::Keys, key.to_vec())) {
            Some(Staged::Absent) => Ok(KeyState::Absent),
            Some(Staged::String(e)) if staged_expired(self.store, e) => Ok(KeyState::Absent),
            Some(Staged::String(_)) => Ok(KeyState::Other),
            Some(Staged::Head(head, expires_at_ms)) => Ok(KeyState::Collection { head: head.clone(), expires_at_ms: *expires_at_ms }),
            Some(Staged::Page(_)) | None => self.store.read_key_state(key),
        }
    }

    fn page(&mut self, epoch: u64, bucket: u64, with_values: bool) -> Result<Members> {
        let key = page_key(epoch, bucket);
        if let Some(Staged::Page(bytes)) = self.staged.get(&(Namespace::Pages, key.to_vec())) {
            return page::decode(bytes, with_values).ok_or_else(|| Error::InvalidArgument("a staged page does not decode".into()));
        }
        self.store.read_page(epoch, bucket, with_values)
    }
}

impl WriteRecords for Txn<'_> {
    fn write_head(&mut self, key: &[u8], head: &Head, expires_at_ms: u64) -> Result<()> {
        self.store.check_key(key)?;
        self.batch.head(key, &head.encode(), expires_at_ms);
        self.staged.insert((Namespace::Keys, key.to_vec()), Staged::Head(head.clone(), expires_at_ms));
        Ok(())
    }

    fn write_page(&mut self, epoch: u64, bucket: u64, members: &Members) -> Result<()> {
        let key = page_key(epoch, bucket);
        let bytes = page::encode(members);
        self.batch.page(&key, &bytes);
        self.staged.insert((Namespace::Pages, key.to_vec()), Staged::Page(bytes));
        Ok(())
    }

    fn delete_key(&mut self, key: &[u8]) -> Result<()> {
        self.batch.delete(key);
        self.staged.insert((Namespace::Keys, key.to_vec()), Staged::Absent);
        Ok(())
    }

    fn new_epoch(&mut self) -> u64 {
        // A sequence number no record uses: later records get higher ones.
        let epoch = self.w.next_seq;
        self.w.next_seq += 1;
        epoch
    }

    fn limits(&self) -> CollectionLimits {
        *self.store.collection_limits.read()
    }

    fn max_member_bytes(&self) -> usize {
        // A page with that one member, its record header and key must fit in a segment.
        (self.store.max_record_len() as usize).saturating_sub(HEADER_LEN + 16 + 16) / 2
    }
}

impl Store {
    /// Runs `f` in a transaction and commits what it staged (nothing if `f` fails), then
    /// syncs as the durability asks.
    pub(crate) fn transaction<T>(&self, opts: &WriteOptions, f: impl FnOnce(&mut Txn<'_>) -> Result<T>) -> Result<T> {
        let (out, written) = {
            let mut txn = Txn::begin(self)?;
            let out = f(&mut txn)?;
            (out, txn.commit()?)
        };
        if let Some((batch, end)) = written {
            self.finish_batch(&batch, end, opts)?;
        }
        Ok(out)
    }

    /// The live string entry of a key; `WrongType` for a collection.
    pub(crate) fn read_entry(&self, key: &[u8]) -> Result<Option<Entry>> {
        let found = self.lookup(key, key_hash(key), |address, segment, rec| {
            if rec.header.kind != RecordKind::Put || self.is_expired(rec.header.expires_at_ms) {
                return Ok(None);
            }
            if rec.header.codec == crate::codec::COLLECTION {
                return Err(Error::WrongType);
            }
            Entry::from_record(self, rec, segment, self.codec.decode(address).1, |k| self.read_chunk(k)).map(Some)
        })?;
        found.unwrap_or(Ok(None))
    }

    /// What a key holds, for collection commands.
    pub(crate) fn read_key_state(&self, key: &[u8]) -> Result<KeyState> {
        let state = self.lookup(key, key_hash(key), |address, segment, rec| {
            if rec.header.kind != RecordKind::Put || self.is_expired(rec.header.expires_at_ms) {
                return Ok(KeyState::Absent);
            }
            if rec.header.codec != crate::codec::COLLECTION {
                return Ok(KeyState::Other);
            }
            let head = Head::decode(rec.value).map_err(|why| Error::corruption(&segment.path, self.codec.decode(address).1, why))?;
            Ok(KeyState::Collection { head, expires_at_ms: rec.header.expires_at_ms })
        })?;
        state.unwrap_or(Ok(KeyState::Absent))
    }

    /// `member`'s value in a page, read from the page's bytes.
    pub(crate) fn find_in_page(&self, epoch: u64, bucket: u64, member: &[u8], with_values: bool) -> Result<Option<Vec<u8>>> {
        let key = page_key(epoch, bucket);
        let found = self.lookup_namespace(Namespace::Pages, &key, key_hash(&key), |address, segment, rec| {
            let offset = self.codec.decode(address).1;
            let damaged = || Error::corruption(&segment.path, offset, format!("collection page {bucket} of epoch {epoch} does not decode"));
            if rec.header.codec == crate::codec::RAW {
                return page::find(rec.value, member, with_values).map(|v| v.map(<[u8]>::to_vec)).map_err(|()| damaged());
            }
            let bytes = rec.decoded_value().map_err(|why| Error::corruption(&segment.path, offset, why))?;
            page::find(&bytes, member, with_values).map(|v| v.map(<[u8]>::to_vec)).map_err(|()| damaged())
        })?;
        found.unwrap_or(Ok(None))
    }

    /// The members of a page (empty if it was never written).
    pub(crate) fn read_page(&self, epoch: u64, bucket: u64, with_values: bool) -> Result<Members> {
        let key = page_key(epoch, bucket);
        let page = self.lookup_namespace(Namespace::Pages, &key, key_hash(&key), |address, segment, rec| {
            let offset = self.codec.decode(address).1;
            let bytes = rec.decoded_value().map_err(|why| Error::corruption(&segment.path, offset, why))?;
            page::decode(&bytes, with_values).ok_or_else(|| {
                Error::corruption(&segment.path, offset, format!("collection page {bucket} of epoch {epoch} does not decode"))
            })
        })?;
        page.unwrap_or_else(|| Ok(Members::new(with_values)))
    }
}
