//! Collections (hashes and sets) on the hash store: a head record under the key, and for
//! large collections pages in their own namespace. See docs/architecture.md, "Collections".
//!
//! - `head.rs`, `members.rs`, `page.rs`, `varint.rs`: the layouts of heads and pages.
//! - `linear.rs`: linear hashing, which places members in pages.
//! - `handle.rs`: [`Collection`], one collection as a command reads and changes it.
//! - `access.rs`: what a collection needs from the store ([`ReadRecords`], [`WriteRecords`]).
//! - `txn.rs`: [`Txn`], the read-write transaction commands run in (one batch each).
//! - `read.rs`: [`ReadView`], consistent reads without the writer lock.
//! - `epochs.rs`: which incarnations are alive; freeing the pages of dead ones.

pub(crate) mod access;
mod api;
pub(crate) mod epochs;
pub(crate) mod handle;
pub(crate) mod head;
pub(crate) mod linear;
pub(crate) mod members;
pub(crate) mod page;
pub(crate) mod read;
pub(crate) mod txn;
pub(crate) mod varint;

pub use access::{CollectionLimits, KeyState, ReadRecords, WriteRecords};
pub use handle::{is_intset, parse_canonical_i64, Collection};
pub use head::{CollectionType, Head, Layout};
pub use members::Members;
pub use read::ReadView;
pub use txn::Txn;

/// What a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    String,
    Hash,
    Set,
}

impl From<CollectionType> for KeyType {
    fn from(kind: CollectionType) -> KeyType {
        match kind {
            CollectionType::Hash => KeyType::Hash,
            CollectionType::Set => KeyType::Set,
        }
    }
}

impl KeyType {
    /// The name Redis's TYPE answers.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Hash => "hash",
            KeyType::Set => "set",
        }
    }
}
