//! [`Keys`]: the key operations commands use, whatever they run on. The store itself
//! ([`Db`]) implements them; so does Redis's EXEC context, which sends them to the
//! transaction's overlay inside an atomic EXEC. The functions of this layer (`expiry.rs`,
//! `value.rs`) are written against the trait, so one implementation serves both.

use std::borrow::Cow;

use crowndb::{Db, Entry, Update, UpdateOutcome, WriteBatch, WriteOptions};

/// One write of [`Keys::write`] / [`Keys::write_if`] (a `WriteBatch` cannot be read back).
pub enum Op<'a> {
    Put { key: &'a [u8], value: Cow<'a, [u8]>, flags: u32, expires_at_ms: Option<u64> },
    Delete { key: &'a [u8] },
}

/// The batch of `ops`, in order.
pub fn to_batch(ops: &[Op]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for op in ops {
        match op {
            Op::Put { key, value, flags, expires_at_ms } => batch.put_with(key, value, *flags, *expires_at_ms),
            Op::Delete { key } => batch.delete(key),
        };
    }
    batch
}

/// The key operations of the store, as [`Db`] defines them.
pub trait Keys {
    /// What a failed operation returns (the engine's error, or a protocol's reply to it).
    type Error;

    /// The live entry of `key`.
    fn entry(&mut self, key: &[u8]) -> Result<Option<Entry>, Self::Error>;

    /// Whether `key` has a live value.
    fn contains(&mut self, key: &[u8]) -> Result<bool, Self::Error>;

    /// Stores `value` with `opts.flags` and `opts.expires_at_ms`; the new version.
    fn put(&mut self, key: &[u8], value: &[u8], opts: &WriteOptions) -> Result<u64, Self::Error>;

    /// `Db::update`: `f` decides from the key's live entry, with no other write in between.
    fn update(&mut self, key: &[u8], opts: &WriteOptions, f: impl FnOnce(Option<&Entry>) -> Update) -> Result<UpdateOutcome, Self::Error>;

    /// Deletes `key`; whether it had a live value.
    fn delete(&mut self, key: &[u8], opts: &WriteOptions) -> Result<bool, Self::Error>;

    /// `Db::touch_opt`: gives a live key a new deadline, rewriting only its record (of a
    /// streamed value, only the head); the new version, or `None` if the key has no live value.
    fn touch(&mut self, key: &[u8], expires_at_ms: Option<u64>, opts: &WriteOptions) -> Result<Option<u64>, Self::Error>;

    /// Applies `ops` together (one batch: all or nothing, even across a crash).
    fn write(&mut self, ops: Vec<Op>, opts: &WriteOptions) -> Result<(), Self::Error>;

    /// `Db::write_if`: reads the live entries of `keys` and applies the writes `f` decides,
    /// with no other write in between. Returns whether anything was written.
    fn write_if<'k>(
        &mut self,
        keys: &[&'k [u8]],
        opts: &WriteOptions,
        f: impl FnOnce(&[Option<Entry>]) -> Option<Vec<Op<'k>>>,
    ) -> Result<bool, Self::Error>;
}

impl Keys for Db {
    type Error = crowndb::Error;

    fn entry(&mut self, key: &[u8]) -> crowndb::Result<Option<Entry>> {
        self.get_entry(key)
    }

    fn contains(&mut self, key: &[u8]) -> crowndb::Result<bool> {
        self.contains_key(key)
    }

    fn put(&mut self, key: &[u8], value: &[u8], opts: &WriteOptions) -> crowndb::Result<u64> {
        self.put_opt(key, value, opts)
    }

    fn update(&mut self, key: &[u8], opts: &WriteOptions, f: impl FnOnce(Option<&Entry>) -> Update) -> crowndb::Result<UpdateOutcome> {
        Db::update(self, key, opts, f)
    }

    fn delete(&mut self, key: &[u8], opts: &WriteOptions) -> crowndb::Result<bool> {
        self.delete_opt(key, opts)
    }

    fn touch(&mut self, key: &[u8], expires_at_ms: Option<u64>, opts: &WriteOptions) -> crowndb::Result<Option<u64>> {
        // With the connection's options, a touch joins its batch's one sync (durability `always`).
        Db::touch_opt(self, key, expires_at_ms, opts)
    }

    fn write(&mut self, ops: Vec<Op>, opts: &WriteOptions) -> crowndb::Result<()> {
        self.write_opt(&to_batch(&ops), opts)
    }

    fn write_if<'k>(
        &mut self,
        keys: &[&'k [u8]],
        opts: &WriteOptions,
        f: impl FnOnce(&[Option<Entry>]) -> Option<Vec<Op<'k>>>,
    ) -> crowndb::Result<bool> {
        Db::write_if(self, keys, opts, |entries| f(entries).map(|ops| to_batch(&ops)))
    }
}
