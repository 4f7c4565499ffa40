//! The store as commands see it, and the transaction overlay that makes EXEC one batch on disk.
//!
//! Commands reach keys only through the `Ctx` methods below (`entry`, `contains`, `put`,
//! `update`, `delete`, `touch`, `write`, `write_if`), which are also `Ctx`'s implementation of
//! the store layer's [`Keys`], so the store functions (append, counters, deadline changes) run
//! on either. Outside a transaction they are the `Db` calls of the same names. Inside an atomic EXEC they read and write a [`Txn`]: an overlay seeded with the
//! live entries of every key the queued commands name (read under the store's writer lock by
//! `Db::write_if`), where each write replaces the key's entry. When the queue has run, the keys
//! written become one `WriteBatch`, appended by that same `write_if` as one checksummed envelope:
//! after a crash the transaction is on disk whole or not at all, and no other writer (another
//! protocol, a background expiry) comes between its reads and its writes.

use std::collections::HashMap;

use bytes::Bytes;
use crowndb::{Entry, Update, UpdateOutcome, WriteBatch, WriteOptions};

use super::dispatch::{lookup, Ctx};
use super::reply::{self, MAX_KEY_LEN};
use crate::resp::Frame;
use crate::store::{now_ms, to_batch, Keys, Op};

/// One key of the overlay.
struct Slot {
    /// Whether the key had a live entry when the transaction started (a delete must remove it).
    stored: bool,
    /// The key's entry as the transaction sees it now.
    now: Option<Entry>,
    /// When the transaction first wrote the key (the batch keeps that order), if it did.
    written: Option<usize>,
}

/// The keys of one transaction: their entries as it sees them, and what it wrote.
pub struct Txn {
    slots: HashMap<Bytes, Slot>,
    writes: usize,
}

impl Txn {
    /// An overlay over `keys`, whose live entries are `entries`.
    pub fn new(keys: &[Bytes], entries: &[Option<Entry>]) -> Txn {
        let slots =
            keys.iter().zip(entries).map(|(k, e)| (k.clone(), Slot { stored: e.is_some(), now: e.clone(), written: None })).collect();
        Txn { slots, writes: 0 }
    }

    fn slot(&mut self, key: &[u8]) -> Result<&mut Slot, Frame> {
        // Every key a queued command names is seeded (`declared_keys`); a miss is a bug, and
        // reading the store here would deadlock on the writer lock `write_if` holds.
        self.slots.get_mut(key).ok_or_else(|| Frame::err("internal error: a command inside EXEC used a key not among its arguments"))
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Entry>, Frame> {
        let slot = self.slot(key)?;
        // A deadline set earlier in the transaction may have passed since.
        if slot.now.as_ref().is_some_and(|e| e.expires_at_ms.is_some_and(|at| at <= now_ms())) {
            slot.now = None;
        }
        Ok(slot.now.clone())
    }

    fn set(&mut self, key: &[u8], entry: Option<Entry>) -> Result<(), Frame> {
        let order = self.writes;
        let slot = self.slot(key)?;
        slot.now = entry;
        if slot.written.is_none() {
            slot.written = Some(order);
            self.writes += 1;
        }
        Ok(())
    }

    fn apply(&mut self, ops: Vec<Op>) -> Result<(), Frame> {
        for op in ops {
            match op {
                Op::Put { key, value, flags, expires_at_ms } => {
                    self.set(key, Some(Entry { value: value.into_owned(), version: 0, flags, expires_at_ms }))?
                }
                Op::Delete { key } => self.set(key, None)?,
            }
        }
        Ok(())
    }

    /// The transaction's writes: the last state of every key it wrote, in first-write order.
    /// A key that did not exist and does not exist now needs nothing.
    pub fn into_batch(self) -> WriteBatch {
        let mut written: Vec<(usize, Bytes, Slot)> =
            self.slots.into_iter().filter_map(|(k, s)| s.written.map(|order| (order, k, s))).collect();
        written.sort_by_key(|w| w.0);
        let mut batch = WriteBatch::new();
        for (_, key, slot) in written {
            match slot.now {
                Some(e) => {
                    batch.put_with(&key, &e.value, e.flags, e.expires_at_ms);
                }
                None if slot.stored => {
                    batch.delete(&key);
                }
                None => {}
            }
        }
        batch
    }
}

/// Commands without keys that an atomic EXEC may run: they touch neither the store nor
/// anything the store's writer lock guards. Any other keyless command (KEYS, SCAN, DBSIZE,
/// RANDOMKEY, FLUSHALL, INFO, SAVE, CONFIG, CLIENT ...) makes EXEC run its queue the old way.
const KEYLESS_IN_ATOMIC_EXEC: &[&str] = &["ping", "echo", "time", "select", "lastsave"];

/// Whether the queued command can run on the overlay.
pub fn runs_on_overlay(args: &[Bytes]) -> bool {
    lookup(&args[0]).is_some_and(|spec| spec.keys != (0, 0, 0) || KEYLESS_IN_ATOMIC_EXEC.contains(&spec.name))
}

/// The keys a queued command names, from the command table's key positions (as Redis's
/// COMMAND GETKEYS); keys too long to store are left out (commands treat them as absent).
pub fn declared_keys(args: &[Bytes], into: &mut Vec<Bytes>) {
    let Some(spec) = lookup(&args[0]) else { return };
    let (first, last, step) = spec.keys;
    if first <= 0 || step <= 0 {
        return;
    }
    let argc = args.len() as i64;
    let last = if last < 0 { argc + i64::from(last) } else { i64::from(last) };
    let mut i = i64::from(first);
    while i <= last && i < argc {
        let key = &args[i as usize];
        if key.len() <= MAX_KEY_LEN {
            into.push(key.clone());
        }
        i += i64::from(step);
    }
}

impl Ctx<'_> {
    /// The live entry of `key` (a key too long to store is absent).
    pub fn entry(&mut self, key: &[u8]) -> Result<Option<Entry>, Frame> {
        if key.len() > MAX_KEY_LEN {
            return Ok(None);
        }
        match &mut self.txn {
            Some(txn) => txn.get(key),
            None => self.shared.db.get_entry(key).map_err(reply::engine),
        }
    }

    /// Whether `key` has a live value (a key too long to store has none).
    pub fn contains(&mut self, key: &[u8]) -> Result<bool, Frame> {
        if key.len() > MAX_KEY_LEN {
            return Ok(false);
        }
        match &mut self.txn {
            Some(txn) => Ok(txn.get(key)?.is_some()),
            None => self.shared.db.contains_key(key).map_err(reply::engine),
        }
    }

    /// Stores `value` with `opts.flags` and `opts.expires_at_ms`; the new version (0 inside EXEC).
    pub fn put(&mut self, key: &[u8], value: &[u8], opts: &WriteOptions) -> Result<u64, Frame> {
        match &mut self.txn {
            Some(txn) => txn
                .set(key, Some(Entry { value: value.to_vec(), version: 0, flags: opts.flags, expires_at_ms: opts.expires_at_ms }))
                .map(|()| 0),
            None => self.shared.db.put_opt(key, value, opts).map_err(reply::engine),
        }
    }

    /// `Db::touch`: a new deadline for a live key, rewriting only its record; the new version
    /// (0 inside EXEC), or `None` if the key has no live value.
    pub fn touch(&mut self, key: &[u8], expires_at_ms: Option<u64>) -> Result<Option<u64>, Frame> {
        let Some(txn) = &mut self.txn else {
            return self.shared.db.touch(key, expires_at_ms).map_err(reply::engine);
        };
        let Some(entry) = txn.get(key)? else { return Ok(None) };
        txn.set(key, Some(Entry { expires_at_ms, ..entry }))?;
        Ok(Some(0))
    }

    /// `Db::update`: `f` decides from the key's live entry, with no other write in between.
    pub fn update(&mut self, key: &[u8], opts: &WriteOptions, f: impl FnOnce(Option<&Entry>) -> Update) -> Result<UpdateOutcome, Frame> {
        let Some(txn) = &mut self.txn else {
            return self.shared.db.update(key, opts, f).map_err(reply::engine);
        };
        let current = txn.get(key)?;
        match f(current.as_ref()) {
            Update::Keep => Ok(UpdateOutcome::Kept),
            Update::Put { value, flags, expires_at_ms } => {
                txn.set(key, Some(Entry { value, version: 0, flags, expires_at_ms }))?;
                Ok(UpdateOutcome::Stored(0))
            }
            Update::Delete if current.is_some() => {
                txn.set(key, None)?;
                Ok(UpdateOutcome::Deleted)
            }
            Update::Delete => Ok(UpdateOutcome::Kept),
        }
    }

    /// Deletes `key`; whether it had a live value.
    pub fn delete(&mut self, key: &[u8], opts: &WriteOptions) -> Result<bool, Frame> {
        let Some(txn) = &mut self.txn else {
            return self.shared.db.delete_opt(key, opts).map_err(reply::engine);
        };
        let existed = txn.get(key)?.is_some();
        if existed {
            txn.set(key, None)?;
        }
        Ok(existed)
    }

    /// Applies `ops` together (one batch: all or nothing, even across a crash).
    pub fn write(&mut self, ops: Vec<Op>, opts: &WriteOptions) -> Result<(), Frame> {
        match &mut self.txn {
            Some(txn) => txn.apply(ops),
            None => self.shared.db.write_opt(&to_batch(&ops), opts).map_err(reply::engine),
        }
    }

    /// `Db::write_if`: reads the live entries of `keys` and applies the writes `f` decides,
    /// with no other write in between. Returns whether anything was written.
    pub fn write_if<'k>(
        &mut self,
        keys: &[&'k [u8]],
        opts: &WriteOptions,
        f: impl FnOnce(&[Option<Entry>]) -> Option<Vec<Op<'k>>>,
    ) -> Result<bool, Frame> {
        let Some(txn) = &mut self.txn else {
            return self.shared.db.write_if(keys, opts, |entries| f(entries).map(|ops| to_batch(&ops))).map_err(reply::engine);
        };
        let entries = keys.iter().map(|key| txn.get(key)).collect::<Result<Vec<_>, Frame>>()?;
        match f(&entries) {
            Some(ops) if !ops.is_empty() => {
                txn.apply(ops)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// The store layer's functions run on a command's context: on the store, or inside EXEC on
/// the transaction's overlay.
impl Keys for Ctx<'_> {
    type Error = Frame;

    fn entry(&mut self, key: &[u8]) -> Result<Option<Entry>, Frame> {
        Ctx::entry(self, key)
    }

    fn contains(&mut self, key: &[u8]) -> Result<bool, Frame> {
        Ctx::contains(self, key)
    }

    fn put(&mut self, key: &[u8], value: &[u8], opts: &WriteOptions) -> Result<u64, Frame> {
        Ctx::put(self, key, value, opts)
    }

    fn update(&mut self, key: &[u8], opts: &WriteOptions, f: impl FnOnce(Option<&Entry>) -> Update) -> Result<UpdateOutcome, Frame> {
        Ctx::update(self, key, opts, f)
    }

    fn delete(&mut self, key: &[u8], opts: &WriteOptions) -> Result<bool, Frame> {
        Ctx::delete(self, key, opts)
    }

    fn touch(&mut self, key: &[u8], expires_at_ms: Option<u64>) -> Result<Option<u64>, Frame> {
        Ctx::touch(self, key, expires_at_ms)
    }

    fn write(&mut self, ops: Vec<Op>, opts: &WriteOptions) -> Result<(), Frame> {
        Ctx::write(self, ops, opts)
    }

    fn write_if<'k>(
        &mut self,
        keys: &[&'k [u8]],
        opts: &WriteOptions,
        f: impl FnOnce(&[Option<Entry>]) -> Option<Vec<Op<'k>>>,
    ) -> Result<bool, Frame> {
        Ctx::write_if(self, keys, opts, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    #[test]
    fn declared_keys_follow_the_command_table() {
        let mut keys = Vec::new();
        declared_keys(&args(&["MSET", "a", "1", "b", "2"]), &mut keys);
        declared_keys(&args(&["copy", "c", "d", "REPLACE"]), &mut keys);
        declared_keys(&args(&["del", "e", "f", "g"]), &mut keys);
        declared_keys(&args(&["ping"]), &mut keys);
        assert_eq!(keys, args(&["a", "b", "c", "d", "e", "f", "g"]));
        assert!(runs_on_overlay(&args(&["get", "a"])));
        assert!(runs_on_overlay(&args(&["PING"])));
        assert!(!runs_on_overlay(&args(&["keys", "*"])));
        assert!(!runs_on_overlay(&args(&["flushall"])));
    }

    #[test]
    fn the_batch_holds_the_last_state_of_each_written_key() {
        let keys = args(&["a", "b", "c"]);
        let entry = |v: &str| Some(Entry { value: v.as_bytes().to_vec(), version: 7, flags: 0, expires_at_ms: None });
        let mut txn = Txn::new(&keys, &[entry("1"), None, None]);
        txn.set(b"c", entry("x")).unwrap();
        txn.set(b"c", None).unwrap();
        txn.set(b"a", entry("2")).unwrap();
        txn.set(b"a", None).unwrap();
        txn.set(b"b", entry("3")).unwrap();
        assert!(txn.get(b"zzz").is_err());
        // c: created and deleted (nothing); a: deleted; b: put.
        let mut expected = WriteBatch::new();
        expected.delete(b"a").put(b"b", b"3");
        assert_eq!(txn.into_batch(), expected);
    }
}
