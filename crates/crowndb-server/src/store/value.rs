//! Writes computed from a key's current value: append / prepend and integer counters. Each
//! runs in one [`Keys::update`], decided under the store's writer lock: two clients racing on
//! one key never lose an append or an increment. The key keeps its flags and deadline.

use crowndb::{Entry, Update, UpdateOutcome, WriteOptions};

use super::keys::Keys;

/// Which end of the value [`joined`] adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Append.
    Back,
    /// Prepend.
    Front,
}

/// The value would exceed the size limit: nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// `piece` added to `current`'s value on `side`, keeping its flags and deadline, unless the
/// result would be longer than `limit` bytes.
pub fn joined(current: &Entry, piece: &[u8], side: Side, limit: usize) -> Result<Update, TooLarge> {
    if current.value.len() + piece.len() > limit {
        return Err(TooLarge);
    }
    let mut value = Vec::with_capacity(current.value.len() + piece.len());
    let (first, second) = match side {
        Side::Back => (&current.value[..], piece),
        Side::Front => (piece, &current.value[..]),
    };
    value.extend_from_slice(first);
    value.extend_from_slice(second);
    Ok(Update::Put { value, flags: current.flags, expires_at_ms: current.expires_at_ms })
}

/// What [`append`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The value's new length.
    Len(usize),
    TooLarge,
}

/// Appends `piece` to the value of `key`; a missing key is created with `piece` alone (flags
/// 0, no deadline), as Redis's APPEND does.
pub fn append<K: Keys>(keys: &mut K, key: &[u8], piece: &[u8], limit: usize, opts: &WriteOptions) -> Result<Appended, K::Error> {
    let mut result = Appended::TooLarge;
    keys.update(key, opts, |current| {
        let empty = Entry { value: Vec::new(), version: 0, flags: 0, expires_at_ms: None };
        let current = current.unwrap_or(&empty);
        match joined(current, piece, Side::Back, limit) {
            Ok(update) => {
                result = Appended::Len(current.value.len() + piece.len());
                update
            }
            Err(TooLarge) => Update::Keep,
        }
    })?;
    Ok(result)
}

/// What [`add_i64`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// The new value, and its version.
    Done(i64, u64),
    /// The value is not an integer (by the caller's rule).
    NotInteger,
    /// The sum does not fit in an `i64`.
    Overflow,
}

/// Adds `delta` to the signed integer stored under `key` (a missing key counts as 0, created
/// with flags 0 and no deadline). `parse` is the protocol's rule for what an integer is.
pub fn add_i64<K: Keys>(
    keys: &mut K,
    key: &[u8],
    delta: i64,
    parse: impl FnOnce(&[u8]) -> Option<i64>,
    opts: &WriteOptions,
) -> Result<Added, K::Error> {
    let mut result = Added::NotInteger;
    let outcome = keys.update(key, opts, |current| {
        let (old, flags, deadline) = match current {
            None => (0, 0, None),
            Some(e) => match parse(&e.value) {
                Some(n) => (n, e.flags, e.expires_at_ms),
                None => return Update::Keep,
            },
        };
        let Some(new) = old.checked_add(delta) else {
            result = Added::Overflow;
            return Update::Keep;
        };
        result = Added::Done(new, 0);
        Update::Put { value: new.to_string().into_bytes(), flags, expires_at_ms: deadline }
    })?;
    if let (Added::Done(n, _), UpdateOutcome::Stored(version)) = (result, outcome) {
        result = Added::Done(n, version);
    }
    Ok(result)
}
