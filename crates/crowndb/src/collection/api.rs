//! Collections on [`Db`]: transactions, consistent reads, and the layout settings.

use crate::db::Db;
use crate::error::Result;
use crate::options::WriteOptions;

use super::access::CollectionLimits;
use super::read::ReadView;
use super::txn::Txn;

impl Db {
    /// Runs `f` in a read-write transaction: no other write comes between what it reads and
    /// what it writes, and what it stages is written as one batch (a crash leaves all of it
    /// or none) when `f` returns `Ok`; nothing is written if it fails. Syncs as `opts` and
    /// the store's durability ask. `f` runs under the writer lock: keep it short.
    ///
    /// ```
    /// use crowndb::{Collection, CollectionType};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    /// // HSET user:1 name ada lang rust
    /// db.transaction(&Default::default(), |txn| {
    ///     let mut user = Collection::open_or_create(txn, b"user:1", CollectionType::Hash)?;
    ///     user.insert(txn, b"name", b"ada")?;
    ///     user.insert(txn, b"lang", b"rust")?;
    ///     user.commit(txn)
    /// }).unwrap();
    /// // HGET user:1 name, without the writer lock
    /// let name = db.read(|view| match Collection::open(view, b"user:1", CollectionType::Hash)? {
    ///     Some(mut user) => user.get(view, b"name"),
    ///     None => Ok(None),
    /// }).unwrap();
    /// assert_eq!(name.as_deref(), Some(&b"ada"[..]));
    /// ```
    pub fn transaction<T>(&self, opts: &WriteOptions, f: impl FnOnce(&mut Txn<'_>) -> Result<T>) -> Result<T> {
        self.inner().transaction(opts, f)
    }

    /// Runs `f` on a consistent read-only view of collections (a head and its pages are
    /// seen from the same write), without the writer lock.
    pub fn read<T>(&self, f: impl FnOnce(&mut ReadView<'_>) -> Result<T>) -> Result<T> {
        f(&mut ReadView::new(self.inner()))
    }

    /// The thresholds that keep small collections inline (Redis's `hash-max-listpack-*`,
    /// `set-max-intset-entries`, `set-max-listpack-*`) and the page size of large ones.
    pub fn collection_limits(&self) -> CollectionLimits {
        *self.inner().collection_limits.read()
    }

    /// Changes them (CONFIG SET): collections written from now on follow them. A paged
    /// collection never goes back inline, as in Redis.
    pub fn set_collection_limits(&self, limits: CollectionLimits) {
        *self.inner().collection_limits.write() = CollectionLimits { page_size: limits.page_size.max(256), ..limits };
    }
}
