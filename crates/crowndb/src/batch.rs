//! An atomic group of writes: all of it survives a crash or none of it does.

use crate::record::encoded_len;

/// One write inside a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BatchOp {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
        flags: u32,
        expires_at_ms: u64,
    },
    Delete {
        key: Vec<u8>,
    },
    /// A collection head under a user key (a put with codec `COLLECTION`).
    Head {
        key: Vec<u8>,
        value: Vec<u8>,
        expires_at_ms: u64,
    },
    /// A collection page (kind `Page`, in the pages namespace).
    Page {
        key: Vec<u8>,
        value: Vec<u8>,
    },
}

impl BatchOp {
    pub(crate) fn key(&self) -> &[u8] {
        match self {
            BatchOp::Put { key, .. } | BatchOp::Delete { key } | BatchOp::Head { key, .. } | BatchOp::Page { key, .. } => key,
        }
    }

    /// The value written, if any.
    pub(crate) fn value(&self) -> &[u8] {
        match self {
            BatchOp::Put { value, .. } | BatchOp::Head { value, .. } | BatchOp::Page { value, .. } => value,
            BatchOp::Delete { .. } => &[],
        }
    }

    /// The namespace of its key.
    pub(crate) fn namespace(&self) -> crate::store::Namespace {
        match self {
            BatchOp::Page { .. } => crate::store::Namespace::Pages,
            _ => crate::store::Namespace::Keys,
        }
    }

    pub(crate) fn encoded_len(&self) -> usize {
        encoded_len(self.key().len(), self.value().len())
    }
}

/// Writes applied together by [`Db::write`](crate::Db::write): on disk they form one
/// checksummed envelope, so after a crash either every one of them is there or none is.
/// Later operations on the same key win over earlier ones.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
/// let mut batch = crowndb::WriteBatch::new();
/// batch.put(b"alice", b"10");
/// batch.put(b"bob", b"20");
/// batch.delete(b"carol");
/// db.write(&batch).unwrap();
/// assert_eq!(db.get(b"bob").unwrap().as_deref(), Some(&b"20"[..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub(crate) ops: Vec<BatchOp>,
    pub(crate) bytes: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Adds a put of `value` under `key`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> &mut WriteBatch {
        self.put_with(key, value, 0, None)
    }

    /// Adds a put with client flags and an optional expiry deadline (Unix ms).
    pub fn put_with(&mut self, key: &[u8], value: &[u8], flags: u32, expires_at_ms: Option<u64>) -> &mut WriteBatch {
        self.push(BatchOp::Put { key: key.to_vec(), value: value.to_vec(), flags, expires_at_ms: expires_at_ms.unwrap_or(0) })
    }

    /// Adds a delete of `key`.
    pub fn delete(&mut self, key: &[u8]) -> &mut WriteBatch {
        self.push(BatchOp::Delete { key: key.to_vec() })
    }

    /// Adds a collection head (engine-internal: collection transactions write these).
    pub(crate) fn head(&mut self, key: &[u8], value: &[u8], expires_at_ms: u64) -> &mut WriteBatch {
        self.push(BatchOp::Head { key: key.to_vec(), value: value.to_vec(), expires_at_ms })
    }

    /// Adds a collection page.
    pub(crate) fn page(&mut self, key: &[u8], value: &[u8]) -> &mut WriteBatch {
        self.push(BatchOp::Page { key: key.to_vec(), value: value.to_vec() })
    }

    /// The batch without operations a later operation of the batch on the same key (and
    /// namespace) replaces: a transaction that rewrites a page or head twice writes it once.
    pub(crate) fn without_superseded(self) -> WriteBatch {
        // Walked from the end: an operation is kept if no later one names its key. Keys are
        // borrowed, and a batch without repeats (a command's head and page) is returned as is.
        let mut seen = std::collections::HashSet::with_capacity(self.ops.len());
        let keep: Vec<bool> = self.ops.iter().rev().map(|op| seen.insert((op.namespace(), op.key()))).collect();
        if keep.iter().all(|&k| k) {
            return self;
        }
        let mut out = WriteBatch::new();
        for (op, keep) in self.ops.into_iter().zip(keep.into_iter().rev()) {
            if keep {
                out.push(op);
            }
        }
        out
    }

    fn push(&mut self, op: BatchOp) -> &mut WriteBatch {
        self.bytes += op.encoded_len();
        self.ops.push(op);
        self
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True if the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Removes every operation.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.bytes = 0;
    }
}
