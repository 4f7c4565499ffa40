//! Reading collections without the writer lock: a view holds the store's `publish` lock
//! shared, so a batch that rewrites a head and its pages (a split moves members between
//! pages) is seen whole or not at all, while other readers go on in parallel.

use parking_lot::RwLockReadGuard;

use super::access::{KeyState, ReadRecords};
use super::members::Members;
use crate::error::Result;
use crate::store::Store;

/// A consistent read-only view of collections; get one from [`Db::read`](crate::Db::read).
/// Keep it short: writers of collections wait while views are open.
pub struct ReadView<'a> {
    store: &'a Store,
    _published: RwLockReadGuard<'a, ()>,
}

impl<'a> ReadView<'a> {
    pub(crate) fn new(store: &'a Store) -> ReadView<'a> {
        ReadView { store, _published: store.publish.read() }
    }

    /// The type of the key's live value.
    pub fn key_type(&mut self, key: &[u8]) -> Result<Option<crate::KeyType>> {
        Ok(match self.store.read_key_state(key)? {
            KeyState::Absent => None,
            KeyState::Other => Some(crate::KeyType::String),
            KeyState::Collection { head, .. } => Some(crate::KeyType::from(head.kind)),
        })
    }
}

impl ReadRecords for ReadView<'_> {
    fn key_state(&mut self, key: &[u8]) -> Result<KeyState> {
        self.store.read_key_state(key)
    }

    fn page(&mut self, epoch: u64, bucket: u64, with_values: bool) -> Result<Members> {
        self.store.read_page(epoch, bucket, with_values)
    }

    fn find_in_page(&mut self, epoch: u64, bucket: u64, member: &[u8], with_values: bool) -> Result<Option<Vec<u8>>> {
        self.store.find_in_page(epoch, bucket, member, with_values)
    }
}
