//! [`Entry`]: a value as a reader gets it, with its version, flags and deadline, and how
//! one is made from a put record (assembling a streamed value from its chunks).

use crate::error::{Error, Result};
use crate::record::RecordRef;
use crate::segment::Segment;
use crate::store::Store;

/// A value with the metadata stored alongside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Vec<u8>,
    /// The sequence number of the write that stored this value: a version that changes
    /// on every write of the key (memcached's CAS unique).
    pub version: u64,
    /// Client flags given at write time (0 if none).
    pub flags: u32,
    /// Expiry deadline in Unix milliseconds, if any.
    pub expires_at_ms: Option<u64>,
}

impl Entry {
    /// The entry a put record gives, its value decoded (`offset` locates it in `segment`,
    /// for the error message if the stored value does not decode). A streamed value is
    /// assembled from the chunks `load_chunk` returns.
    pub(crate) fn from_record(
        inner: &Store,
        rec: &RecordRef<'_>,
        segment: &Segment,
        offset: u64,
        load_chunk: impl Fn(&[u8]) -> Result<Option<Vec<u8>>>,
    ) -> Result<Entry> {
        let value = inner
            .assemble_value(rec.key, rec.header.codec, rec.value, load_chunk)?
            .map_err(|why| Error::corruption(&segment.path, offset, why))?;
        let expires = rec.header.expires_at_ms;
        Ok(Entry { value, version: rec.header.seq, flags: rec.header.flags, expires_at_ms: (expires != 0).then_some(expires) })
    }
}
