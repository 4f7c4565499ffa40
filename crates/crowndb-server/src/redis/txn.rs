//! The store as commands see it: directly, or inside EXEC through the one engine transaction
//! (`crowndb::Txn`) the whole queue runs in.
//!
//! Commands reach keys only through the `Ctx` methods below: the string operations (`entry`,
//! `contains`, `put`, `update`, `delete`, `touch`, `write`, `write_if`, also `Ctx`'s
//! implementation of the store layer's [`Keys`]), the type-aware ones (`key_type`,
//! `deadline`, `retime_with`), and for collections `transaction` and `read`. Outside EXEC they
//! are the `Db` calls of the same names (a collection command is one `Db::transaction`: one
//! batch). Inside EXEC (`cmd/transaction.rs`) every one of them reads and stages on the same
//! `crowndb::Txn`, which holds the store's writer lock until the queue has run and then
//! appends everything it staged as one batch: after a crash the transaction is on disk whole
//! or not at all, whatever mix of strings, hashes and sets it wrote.

use bytes::Bytes;
use crowndb::{Entry, KeyState, KeyType, ReadRecords, Update, UpdateOutcome, WriteOptions};

use super::dispatch::{lookup, Ctx};
use super::reply::{self, MAX_KEY_LEN};
use crate::resp::Frame;
use crate::store::{to_batch, Keys, Op};

/// Commands without keys in the table (SINTERCARD's are after a count) that an EXEC transaction may run: they touch neither the store nor
/// anything the store's writer lock guards. Any other keyless command (KEYS, SCAN, DBSIZE,
/// RANDOMKEY, FLUSHALL, INFO, SAVE, CONFIG, CLIENT ...) makes EXEC run its queue command by
/// command (isolated by the exec lock, not one batch).
const KEYLESS_IN_ATOMIC_EXEC: &[&str] = &["ping", "echo", "time", "select", "lastsave", "sintercard"];

/// Whether the queued command can run inside EXEC's engine transaction.
pub fn runs_on_overlay(args: &[Bytes]) -> bool {
    lookup(&args[0]).is_some_and(|spec| spec.keys != (0, 0, 0) || KEYLESS_IN_ATOMIC_EXEC.contains(&spec.name))
}

/// What `key` holds, from a transaction or a read view.
pub fn key_type_in(r: &mut dyn ReadRecords, key: &[u8]) -> crowndb::Result<Option<KeyType>> {
    Ok(match r.key_state(key)? {
        KeyState::Absent => None,
        KeyState::Other => Some(KeyType::String),
        KeyState::Collection { head, .. } => Some(KeyType::from(head.kind)),
    })
}

impl Ctx<'_, '_> {
    /// Runs `f` in a read-write transaction: EXEC's, or one of its own (one batch, synced as
    /// the connection's writes are). Staging nothing writes nothing.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut crowndb::Txn<'_>) -> crowndb::Result<T>) -> Result<T, Frame> {
        if let Some(txn) = &mut self.txn {
            return f(txn).map_err(reply::engine);
        }
        let opts = self.write_options();
        self.shared.db.transaction(&opts, f).map_err(reply::engine)
    }

    /// Runs `f` on a consistent view: EXEC's transaction, or a `Db::read` without the writer lock.
    pub fn read<T>(&mut self, f: impl FnOnce(&mut dyn ReadRecords) -> crowndb::Result<T>) -> Result<T, Frame> {
        if let Some(txn) = &mut self.txn {
            return f(*txn).map_err(reply::engine);
        }
        self.shared.db.read(|view| f(view)).map_err(reply::engine)
    }

    /// What `key` holds (a key too long to store holds nothing).
    pub fn key_type(&mut self, key: &[u8]) -> Result<Option<KeyType>, Frame> {
        if key.len() > MAX_KEY_LEN {
            return Ok(None);
        }
        self.read(|r| key_type_in(r, key))
    }

    /// The deadline of whatever `key` holds: `None` if it holds nothing, `Some(None)` if it
    /// never expires.
    pub fn deadline(&mut self, key: &[u8]) -> Result<Option<Option<u64>>, Frame> {
        if key.len() > MAX_KEY_LEN {
            return Ok(None);
        }
        let state = self.read(|r| r.key_state(key))?;
        match state {
            KeyState::Absent => Ok(None),
            KeyState::Collection { expires_at_ms, .. } => Ok(Some((expires_at_ms != 0).then_some(expires_at_ms))),
            KeyState::Other => Ok(self.entry(key)?.map(|e| e.expires_at_ms)),
        }
    }

    /// A deadline change decided atomically on a key of any type (`Db::touch_with`):
    /// `decide` gets the current deadline and returns the new one (`Some(None)`: none) or
    /// `None` to write nothing. `None` if the key holds nothing; else whether it was changed.
    pub fn retime_with(&mut self, key: &[u8], decide: impl FnOnce(Option<u64>) -> Option<Option<u64>>) -> Result<Option<bool>, Frame> {
        let Some(txn) = &mut self.txn else {
            let opts = self.write_options();
            let done = self.shared.db.touch_with(key, &opts, decide).map_err(reply::engine)?;
            return Ok(done.map(|(_, written)| written.is_some()));
        };
        let state = txn.key_state(key).map_err(reply::engine)?;
        let current = match &state {
            KeyState::Absent => return Ok(None),
            KeyState::Collection { expires_at_ms, .. } => (*expires_at_ms != 0).then_some(*expires_at_ms),
            KeyState::Other => txn.get(key).map_err(reply::engine)?.and_then(|e| e.expires_at_ms),
        };
        let Some(to) = decide(current) else { return Ok(Some(false)) };
        set_deadline(txn, key, to).map_err(reply::engine)?;
        Ok(Some(true))
    }

    /// The live entry of `key` (a key too long to store is absent); WRONGTYPE for a collection.
    pub fn entry(&mut self, key: &[u8]) -> Result<Option<Entry>, Frame> {
        if key.len() > MAX_KEY_LEN {
            return Ok(None);
        }
        match &mut self.txn {
            Some(txn) => txn.get(key).map_err(reply::engine),
            None => self.shared.db.get_entry(key).map_err(reply::engine),
        }
    }

    /// The live entry of `key` if it holds a string; `None` for a collection (MGET).
    pub fn string_entry(&mut self, key: &[u8]) -> Result<Option<Entry>, Frame> {
        if key.len() > MAX_KEY_LEN {
            return Ok(None);
        }
        let found = match &mut self.txn {
            Some(txn) => txn.get(key),
            None => self.shared.db.get_entry(key),
        };
        match found {
            Err(crowndb::Error::WrongType) => Ok(None),
            other => other.map_err(reply::engine),
        }
    }

    /// Whether `key` has a live value of any type (a key too long to store has none).
    pub fn contains(&mut self, key: &[u8]) -> Result<bool, Frame> {
        if key.len() > MAX_KEY_LEN {
            return Ok(false);
        }
        match &mut self.txn {
            Some(txn) => Ok(!matches!(txn.key_state(key).map_err(reply::engine)?, KeyState::Absent)),
            None => self.shared.db.contains_key(key).map_err(reply::engine),
        }
    }

    /// Stores `value` with `opts.flags` and `opts.expires_at_ms`, replacing whatever the key
    /// held; the new version (0 inside EXEC).
    pub fn put(&mut self, key: &[u8], value: &[u8], opts: &WriteOptions) -> Result<u64, Frame> {
        match &mut self.txn {
            Some(txn) => txn.put(key, value, opts).map(|()| 0).map_err(reply::engine),
            None => self.shared.db.put_opt(key, value, opts).map_err(reply::engine),
        }
    }

    /// `Db::touch`: a new deadline for a live key of any type, rewriting only its record (or
    /// head); the new version (0 inside EXEC), or `None` if the key has no live value.
    pub fn touch(&mut self, key: &[u8], expires_at_ms: Option<u64>, opts: &WriteOptions) -> Result<Option<u64>, Frame> {
        if self.txn.is_none() {
            return self.shared.db.touch_opt(key, expires_at_ms, opts).map_err(reply::engine);
        }
        Ok(self.retime_with(key, |_| Some(expires_at_ms))?.map(|_| 0))
    }

    /// `Db::update`: `f` decides from the key's live entry, with no other write in between.
    pub fn update(&mut self, key: &[u8], opts: &WriteOptions, f: impl FnOnce(Option<&Entry>) -> Update) -> Result<UpdateOutcome, Frame> {
        let Some(txn) = &mut self.txn else {
            return self.shared.db.update(key, opts, f).map_err(reply::engine);
        };
        let current = txn.get(key).map_err(reply::engine)?;
        match f(current.as_ref()) {
            Update::Keep => Ok(UpdateOutcome::Kept),
            Update::Put { value, flags, expires_at_ms } => {
                let opts = WriteOptions { flags, expires_at_ms, ..WriteOptions::default() };
                txn.put(key, &value, &opts).map_err(reply::engine)?;
                Ok(UpdateOutcome::Stored(0))
            }
            Update::Delete if current.is_some() => {
                txn.delete(key).map_err(reply::engine)?;
                Ok(UpdateOutcome::Deleted)
            }
            Update::Delete => Ok(UpdateOutcome::Kept),
        }
    }

    /// Deletes `key`, whatever it holds; whether it had a live value.
    pub fn delete(&mut self, key: &[u8], opts: &WriteOptions) -> Result<bool, Frame> {
        match &mut self.txn {
            Some(txn) => txn.delete(key).map_err(reply::engine),
            None => self.shared.db.delete_opt(key, opts).map_err(reply::engine),
        }
    }

    /// Applies `ops` together (one batch: all or nothing, even across a crash).
    pub fn write(&mut self, ops: Vec<Op>, opts: &WriteOptions) -> Result<(), Frame> {
        match &mut self.txn {
            Some(txn) => apply(txn, ops).map_err(reply::engine),
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
        let entries = keys.iter().map(|key| txn.get(key)).collect::<crowndb::Result<Vec<_>>>().map_err(reply::engine)?;
        match f(&entries) {
            Some(ops) if !ops.is_empty() => {
                apply(txn, ops).map_err(reply::engine)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Stages `ops` in order.
fn apply(txn: &mut crowndb::Txn<'_>, ops: Vec<Op>) -> crowndb::Result<()> {
    for op in ops {
        match op {
            Op::Put { key, value, flags, expires_at_ms } => {
                txn.put(key, &value, &WriteOptions { flags, expires_at_ms, ..WriteOptions::default() })?
            }
            Op::Delete { key } => {
                txn.delete(key)?;
            }
        }
    }
    Ok(())
}

/// Gives a live key of any type a new deadline inside a transaction (a past one deletes it).
fn set_deadline(txn: &mut crowndb::Txn<'_>, key: &[u8], to: Option<u64>) -> crowndb::Result<()> {
    if to.is_some_and(|at| at <= crate::store::now_ms()) {
        txn.delete(key)?;
        return Ok(());
    }
    match txn.key_state(key)? {
        KeyState::Absent => {}
        KeyState::Collection { .. } => {
            txn.set_collection_expiry(key, to.unwrap_or(0))?;
        }
        KeyState::Other => {
            if let Some(e) = txn.get(key)? {
                txn.put(key, &e.value, &WriteOptions { flags: e.flags, expires_at_ms: to, ..WriteOptions::default() })?;
            }
        }
    }
    Ok(())
}

/// The store layer's functions run on a command's context: on the store, or inside EXEC on
/// its transaction.
impl Keys for Ctx<'_, '_> {
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

    fn touch(&mut self, key: &[u8], expires_at_ms: Option<u64>, opts: &WriteOptions) -> Result<Option<u64>, Frame> {
        Ctx::touch(self, key, expires_at_ms, opts)
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
    fn keyless_commands_that_walk_the_store_leave_the_transaction() {
        assert!(runs_on_overlay(&args(&["get", "a"])));
        assert!(runs_on_overlay(&args(&["HSET", "h", "f", "v"])));
        assert!(runs_on_overlay(&args(&["PING"])));
        assert!(!runs_on_overlay(&args(&["keys", "*"])));
        assert!(!runs_on_overlay(&args(&["flushall"])));
    }
}
