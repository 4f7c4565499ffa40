//! Storage commands: `set`, `add`, `replace`, `append`, `prepend`, `cas`, and the meta `ms`
//! modes, as one [`StoreRequest`]. Every conditional form goes through one `Db::update`,
//! which decides under the store's writer lock: two clients racing on one key can never both
//! win a `cas`; append and prepend are the store layer's [`joined`].

use bytes::BytesMut;
use crowndb::{Update, UpdateOutcome, WriteOptions};

use super::{deadline, engine_error, Handler};
use crate::memcache::command::{Store, StoreVerb};
use crate::memcache::reply;
use crate::stats::incr;
use crate::store::{joined, now_ms, Deadline, Side, TooLarge};

/// How a storage command treats the current item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StoreMode {
    Set,
    /// Only if absent.
    Add,
    /// Only if present.
    Replace,
    /// Add to the end of the present value, keeping its flags and deadline.
    Append,
    /// Add to the front of the present value, keeping its flags and deadline.
    Prepend,
}

/// A storage request in store terms: classic and meta storage commands both become one.
pub(super) struct StoreRequest<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub mode: StoreMode,
    pub flags: u32,
    pub deadline: Deadline,
    /// Store only if the item's version is this (cas, meta `C`).
    pub compare_cas: Option<u64>,
    /// Append/prepend on a missing item creates it with this deadline (meta `N`).
    pub vivify: Option<Deadline>,
}

/// What a storage request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StoreResult {
    /// Stored; the new version (0 if the item was stored already expired, that is removed).
    Stored(u64),
    /// The mode's condition failed (`NOT_STORED`, meta `NS`).
    NotStored,
    /// The compare-cas did not match (`EXISTS`, meta `EX`).
    Exists,
    /// The compare-cas found no item (`NOT_FOUND`, meta `NF`).
    NotFound,
    /// Append/prepend would exceed the item size limit.
    TooLarge,
}

impl Handler {
    pub(super) fn store(&mut self, s: Store<'_>, out: &mut BytesMut) {
        let counters = &self.stats.counters;
        incr(&counters.cmd_set);
        let (mode, compare_cas) = match s.verb {
            StoreVerb::Set => (StoreMode::Set, None),
            StoreVerb::Add => (StoreMode::Add, None),
            StoreVerb::Replace => (StoreMode::Replace, None),
            StoreVerb::Append => (StoreMode::Append, None),
            StoreVerb::Prepend => (StoreMode::Prepend, None),
            StoreVerb::Cas(unique) => (StoreMode::Set, Some(unique)),
        };
        let request = StoreRequest {
            key: s.key,
            value: s.value,
            mode,
            flags: s.flags,
            deadline: deadline(s.exptime, now_ms()),
            compare_cas,
            vivify: None,
        };
        let result = self.store_item(&request);
        let counters = &self.stats.counters;
        if compare_cas.is_some() {
            match result {
                Ok(StoreResult::Stored(_)) => incr(&counters.cas_hits),
                Ok(StoreResult::Exists) => incr(&counters.cas_badval),
                Ok(StoreResult::NotFound) => incr(&counters.cas_misses),
                _ => {}
            }
        }
        if s.noreply {
            return;
        }
        match result {
            Ok(StoreResult::Stored(_)) => reply::stored(out),
            Ok(StoreResult::NotStored) => reply::not_stored(out),
            Ok(StoreResult::Exists) => reply::exists(out),
            Ok(StoreResult::NotFound) => reply::not_found(out),
            Ok(StoreResult::TooLarge) => reply::server_error(out, "out of memory storing object"),
            Err(e) => engine_error(out, &e),
        }
    }

    /// Carries out a storage request, atomically with respect to other writes of the key.
    pub(super) fn store_item(&mut self, r: &StoreRequest<'_>) -> crowndb::Result<StoreResult> {
        let opts = self.writes.options();
        if r.mode == StoreMode::Set && r.compare_cas.is_none() {
            // The common case: no condition, so no read.
            return match r.deadline {
                Deadline::Expired => self.db.delete_opt(r.key, &opts).map(|_| StoreResult::Stored(0)),
                deadline => {
                    let opts = WriteOptions { flags: r.flags, expires_at_ms: deadline.expires_at_ms(), ..opts };
                    self.db.put_opt(r.key, r.value, &opts).map(StoreResult::Stored)
                }
            };
        }
        let max_item_size = self.config.max_item_size;
        let mut result = StoreResult::NotStored;
        let outcome = self.db.update(r.key, &opts, |current| {
            match (r.compare_cas, current) {
                (Some(_), None) => {
                    result = StoreResult::NotFound;
                    return Update::Keep;
                }
                (Some(cas), Some(e)) if e.version != cas => {
                    result = StoreResult::Exists;
                    return Update::Keep;
                }
                _ => {}
            }
            let (value, flags, deadline) = match (r.mode, current) {
                (StoreMode::Set, _) | (StoreMode::Add, None) | (StoreMode::Replace, Some(_)) => (r.value.to_vec(), r.flags, r.deadline),
                (StoreMode::Add, Some(_)) | (StoreMode::Replace, None) => return Update::Keep,
                (StoreMode::Append | StoreMode::Prepend, None) => match r.vivify {
                    Some(deadline) => (r.value.to_vec(), r.flags, deadline),
                    None => return Update::Keep,
                },
                (StoreMode::Append | StoreMode::Prepend, Some(e)) => {
                    let side = if r.mode == StoreMode::Append { Side::Back } else { Side::Front };
                    return match joined(e, r.value, side, max_item_size) {
                        Ok(update) => {
                            result = StoreResult::Stored(0);
                            update
                        }
                        Err(TooLarge) => {
                            result = StoreResult::TooLarge;
                            Update::Keep
                        }
                    };
                }
            };
            result = StoreResult::Stored(0);
            match deadline {
                Deadline::Expired if current.is_some() => Update::Delete,
                Deadline::Expired => Update::Keep,
                deadline => Update::Put { value, flags, expires_at_ms: deadline.expires_at_ms() },
            }
        })?;
        if let (StoreResult::Stored(_), UpdateOutcome::Stored(version)) = (result, outcome) {
            result = StoreResult::Stored(version);
        }
        Ok(result)
    }
}
