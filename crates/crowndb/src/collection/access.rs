//! What collection operations need from the store: read a key's state and a page, and
//! stage writes. The engine's collection transaction (`txn.rs`) implements both under the
//! writer lock; the read-only view (`read.rs`) implements the reading half without it.

use super::head::Head;
use super::members::Members;
use crate::error::Result;

/// What a key holds, as a collection operation sees it.
#[derive(Debug, Clone)]
pub enum KeyState {
    /// No live value.
    Absent,
    /// A value that is not a collection (a string).
    Other,
    /// A collection; its head and expiry deadline (0: none).
    Collection { head: Head, expires_at_ms: u64 },
}

/// Limits that choose a collection's layout, with Redis's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionLimits {
    /// `hash-max-listpack-entries`: a hash with more fields is paged.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`: a hash with a longer field or value is paged.
    pub hash_max_listpack_value: usize,
    /// `set-max-intset-entries`: a set of integers stays inline up to this many members.
    pub set_max_intset_entries: usize,
    /// `set-max-listpack-entries`: another set stays inline up to this many members.
    pub set_max_listpack_entries: usize,
    /// `set-max-listpack-value`: a set with a longer member is paged.
    pub set_max_listpack_value: usize,
    /// Average bytes of members per page before a bucket is split.
    pub page_size: usize,
}

impl Default for CollectionLimits {
    fn default() -> CollectionLimits {
        CollectionLimits {
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            page_size: 1024,
        }
    }
}

/// Reading a key's state and pages.
pub trait ReadRecords {
    fn key_state(&mut self, key: &[u8]) -> Result<KeyState>;
    /// The members of a page; empty if the page was never written.
    fn page(&mut self, epoch: u64, bucket: u64, with_values: bool) -> Result<Members>;

    /// One member's value (empty for sets) in a page, if it is there. Readers answer it
    /// from the page's bytes without decoding every member.
    fn find_in_page(&mut self, epoch: u64, bucket: u64, member: &[u8], with_values: bool) -> Result<Option<Vec<u8>>> {
        Ok(self.page(epoch, bucket, with_values)?.get(member).map(<[u8]>::to_vec))
    }
}

/// Staging writes; they take effect together when the transaction commits.
pub trait WriteRecords: ReadRecords {
    fn write_head(&mut self, key: &[u8], head: &Head, expires_at_ms: u64) -> Result<()>;
    fn write_page(&mut self, epoch: u64, bucket: u64, members: &Members) -> Result<()>;
    /// Deletes the key (a collection's pages die with its epoch).
    fn delete_key(&mut self, key: &[u8]) -> Result<()>;
    /// A sequence number no other incarnation uses, for a new collection's epoch.
    fn new_epoch(&mut self) -> u64;
    fn limits(&self) -> CollectionLimits;
    /// Largest encoded member (with its value) a page can hold.
    fn max_member_bytes(&self) -> usize;
}
