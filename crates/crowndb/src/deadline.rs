//! Deadline changes on [`Db`] beyond the plain `touch`: with write options, and decided
//! atomically from the current deadline (Redis's EXPIRE NX / XX / GT / LT, PERSIST).

use crate::db::Db;
use crate::error::Result;
use crate::options::WriteOptions;

impl Db {
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
}
