//! Deadline changes: memcached's touch, gat and meta `T`, Redis's EXPIRE family, PERSIST and
//! GETEX. A new deadline goes through [`Keys::touch`] (`Db::touch`), which rewrites only the
//! key's record (of a value streamed in chunks, only its head), never the value through a
//! read-modify-write; a deadline already past deletes the key (a tombstone, no value copied).

use crowndb::{Entry, Update, WriteOptions};

use super::keys::Keys;
use super::now_ms;

/// When a value stops being live, in store terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    Never,
    /// Unix milliseconds.
    At(u64),
    /// Already past: giving it to a key means removing the key.
    Expired,
}

impl Deadline {
    /// A deadline in Unix milliseconds as Redis gives it (0 or negative: already past).
    pub fn at_unix_ms(at: i64, now_ms: u64) -> Deadline {
        if at <= now_ms as i64 {
            Deadline::Expired
        } else {
            Deadline::At(at as u64)
        }
    }

    /// The store's deadline for a live item (`Expired` has none: it is never stored).
    pub fn expires_at_ms(self) -> Option<u64> {
        match self {
            Deadline::At(ms) => Some(ms),
            Deadline::Never | Deadline::Expired => None,
        }
    }

    /// The deadline an entry has now.
    pub fn of(entry: &Entry) -> Deadline {
        entry.expires_at_ms.map_or(Deadline::Never, Deadline::At)
    }
}

/// What a deadline change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retimed {
    /// The key has no live value: nothing written.
    Missing,
    /// The condition of [`retime_if`] refused: nothing written.
    Refused,
    /// The key has its new deadline; its new version.
    Touched(u64),
    /// The deadline was past: the key was deleted.
    Deleted,
}

impl Retimed {
    /// Whether the key's deadline changed (or the key went, for a past one).
    pub fn done(self) -> bool {
        matches!(self, Retimed::Touched(_) | Retimed::Deleted)
    }
}

/// Gives `key` the deadline `to`, without reading its value.
pub fn retime<K: Keys>(keys: &mut K, key: &[u8], to: Deadline, opts: &WriteOptions) -> Result<Retimed, K::Error> {
    match to {
        Deadline::Expired => Ok(if keys.delete(key, opts)? { Retimed::Deleted } else { Retimed::Missing }),
        deadline => Ok(keys.touch(key, deadline.expires_at_ms(), opts)?.map_or(Retimed::Missing, Retimed::Touched)),
    }
}

/// Gives `key` the deadline `to` if `allow` holds for its live entry (Redis's NX, XX, GT, LT;
/// PERSIST only of a key with a deadline). The check reads the entry, then the change is a
/// [`retime`]: a write by another client between the two can make the check stale; Redis's
/// EXPIRE flags use `Db::touch_with`, which decides under the writer lock.
pub fn retime_if<K: Keys>(
    keys: &mut K,
    key: &[u8],
    to: Deadline,
    opts: &WriteOptions,
    allow: impl FnOnce(&Entry) -> bool,
) -> Result<Retimed, K::Error> {
    match keys.entry(key)? {
        None => Ok(Retimed::Missing),
        Some(entry) if !allow(&entry) => Ok(Retimed::Refused),
        Some(_) => retime(keys, key, to, opts),
    }
}

/// Reads `key` and gives it the deadline `to` (memcached gat and meta `T`, Redis GETEX): the
/// entry as it is afterwards, with its new version and deadline. A past deadline deletes the
/// key and returns the entry as it was.
///
/// The touch comes first and the read after, so the entry returned is never older than the
/// touch: a client that uses its version for a `cas` cannot overwrite a value it has not seen.
pub fn get_and_retime<K: Keys>(keys: &mut K, key: &[u8], to: Deadline, opts: &WriteOptions) -> Result<Option<Entry>, K::Error> {
    if to == Deadline::Expired {
        let mut found = None;
        keys.update(key, opts, |current| match current {
            Some(entry) => {
                found = Some(entry.clone());
                Update::Delete
            }
            None => Update::Keep,
        })?;
        return Ok(found);
    }
    if keys.touch(key, to.expires_at_ms(), opts)?.is_none() {
        return Ok(None);
    }
    keys.entry(key)
}

/// Whether a deadline in Unix milliseconds is already past.
pub fn is_past(at_ms: i64) -> bool {
    at_ms <= now_ms() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_deadline_keeps_value_and_flags_and_a_past_one_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
        let opts = WriteOptions { flags: 7, ..WriteOptions::default() };
        let v1 = db.put_opt(b"k", b"value", &opts).unwrap();
        let later = now_ms() + 60_000;
        let Retimed::Touched(v2) = retime(&mut db, b"k", Deadline::At(later), &WriteOptions::default()).unwrap() else { panic!() };
        assert!(v2 > v1);
        let entry = get_and_retime(&mut db, b"k", Deadline::Never, &WriteOptions::default()).unwrap().unwrap();
        assert_eq!((&entry.value[..], entry.flags, entry.expires_at_ms), (&b"value"[..], 7, None));
        assert!(entry.version > v2, "the entry returned is the touched one");
        let gone = get_and_retime(&mut db, b"k", Deadline::Expired, &WriteOptions::default()).unwrap().unwrap();
        assert_eq!(gone.version, entry.version, "a past deadline returns the entry as it was");
        assert_eq!(retime(&mut db, b"k", Deadline::At(later), &WriteOptions::default()).unwrap(), Retimed::Missing);
        assert_eq!(retime_if(&mut db, b"k", Deadline::Never, &WriteOptions::default(), |_| true).unwrap(), Retimed::Missing);
    }
}
