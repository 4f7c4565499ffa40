//! CrownDB: a persistent key-value store for SSDs.
//!
//! A hash index in RAM (about 10 bytes per key, no keys held) over append-only,
//! checksummed log segments on disk. Writes are appended by one writer and grouped under
//! one `fdatasync` when they ask for durability; reads take one lookup and one mapped
//! read. See `docs/architecture.md` for the design and `docs/format.md` for every byte on
//! disk.
//!
//! ```
//! use crowndb::{Db, Options, WriteBatch};
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default()).unwrap();
//! db.put(b"user:1", b"ada").unwrap();
//! let mut batch = WriteBatch::new();
//! batch.put(b"user:2", b"grace").delete(b"user:1");
//! db.write(&batch).unwrap();
//! assert_eq!(db.get(b"user:1").unwrap(), None);
//! assert_eq!(db.get(b"user:2").unwrap().as_deref(), Some(&b"grace"[..]));
//! ```
//!
//! This is a hash store: there are no ordered range scans.

mod background;
mod batch;
pub mod check;
mod clock;
mod codec;
mod collection;
mod compaction;
mod conditional;
mod db;
mod deadline;
mod entry;
mod envelope;
mod error;
mod eviction;
mod footer;
mod group_commit;
mod hash;
mod index;
mod iter;
mod lock;
mod options;
mod record;
mod recovery;
pub mod repair;
mod segment;
mod segment_table;
mod snapshot;
mod stats;
mod store;
mod stream;
mod write;

pub use batch::WriteBatch;
pub use clock::{Clock, ManualClock, SystemClock};
pub use collection::{
    is_intset, parse_canonical_i64, Collection, CollectionLimits, CollectionType, Head, KeyState, KeyType, Layout, Members, ReadRecords,
    ReadView, Txn, WriteRecords,
};
pub use compaction::CompactionReport;
pub use conditional::{Condition, PutOutcome, Update, UpdateOutcome};
pub use db::{CrashPoint, Db, ScanPage};
pub use entry::Entry;
pub use error::{Error, ErrorKind, Result};
pub use group_commit::{Durable, SyncStats};
pub use iter::{EntryIter, Iter};
pub use options::{Compression, Durability, Options, WriteOptions};
pub use snapshot::Snapshot;
pub use stats::{SegmentStats, Stats};
pub use stream::{ValueReader, ValueWriter};

/// Segment file helpers for tools that inspect a data directory (the CLI's `check`).
#[doc(hidden)]
pub mod format {
    pub use crate::footer::{FooterEntry, Trailer, ENTRY_LEN, TRAILER_LEN};
    pub use crate::record::{decode as decode_record, RecordHeader, RecordKind, HEADER_LEN};
    pub use crate::segment::{
        file_name as segment_file_name, parse_file_name as parse_segment_file_name, FORMAT_VERSION, SEGMENT_HEADER_LEN, SEGMENT_MAGIC,
    };
}
