//! `incr` and `decr` (and meta `ma`): memcached's unsigned decimal counters, which wrap on
//! increment and stop at 0 on decrement, in one `Db::update` (no increment is lost).

use bytes::BytesMut;
use crowndb::{Update, UpdateOutcome};

use super::{engine_error, Handler};
use crate::memcache::command::ArithMode;
use crate::memcache::reply;
use crate::stats::incr;
use crate::store::Deadline;

/// What an arithmetic request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ArithResult {
    /// The new value and its version.
    Done(u64, u64, Option<u64>),
    NotFound,
    /// The compare-cas did not match.
    Exists,
    NonNumeric,
}

/// Parses a stored counter: decimal digits, optionally padded with trailing spaces (memcached
/// pads in place when a `decr` shortens a number).
fn parse_counter(value: &[u8]) -> Option<u64> {
    let end = value.iter().rposition(|&b| b != b' ')? + 1;
    let digits = &value[..end];
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl Handler {
    /// Increments or decrements a decimal counter. `vivify` creates a missing one with an
    /// initial value and deadline (meta `N`, `J`); `touch` gives it a new deadline (meta `T`).
    pub(super) fn arith_item(
        &mut self,
        key: &[u8],
        mode: ArithMode,
        delta: u64,
        compare_cas: Option<u64>,
        vivify: Option<(u64, Deadline)>,
        touch: Option<Deadline>,
    ) -> crowndb::Result<ArithResult> {
        let opts = self.writes.options();
        let mut result = ArithResult::NotFound;
        let outcome = self.db.update(key, &opts, |current| {
            let (n, flags, deadline) = match current {
                None => match (compare_cas, vivify) {
                    (None, Some((initial, deadline))) => (initial, 0, deadline),
                    _ => return Update::Keep,
                },
                Some(e) => {
                    if compare_cas.is_some_and(|cas| cas != e.version) {
                        result = ArithResult::Exists;
                        return Update::Keep;
                    }
                    let Some(n) = parse_counter(&e.value) else {
                        result = ArithResult::NonNumeric;
                        return Update::Keep;
                    };
                    let n = match mode {
                        ArithMode::Incr => n.wrapping_add(delta),
                        ArithMode::Decr => n.saturating_sub(delta),
                    };
                    (n, e.flags, touch.unwrap_or(Deadline::of(e)))
                }
            };
            let expires_at_ms = deadline.expires_at_ms();
            result = ArithResult::Done(n, 0, expires_at_ms);
            match deadline {
                Deadline::Expired if current.is_some() => Update::Delete,
                Deadline::Expired => Update::Keep,
                _ => Update::Put { value: n.to_string().into_bytes(), flags, expires_at_ms },
            }
        })?;
        if let (ArithResult::Done(n, _, at), UpdateOutcome::Stored(version)) = (result, outcome) {
            result = ArithResult::Done(n, version, at);
        }
        Ok(result)
    }

    /// Counts an incr/decr (classic or meta) as a hit or a miss, as memcached's stats do.
    pub(super) fn count_arith<E>(&self, mode: ArithMode, result: &Result<ArithResult, E>) {
        let counters = &self.stats.counters;
        let (hits, misses) = match mode {
            ArithMode::Incr => (&counters.incr_hits, &counters.incr_misses),
            ArithMode::Decr => (&counters.decr_hits, &counters.decr_misses),
        };
        match result {
            Ok(ArithResult::Done(..)) => incr(hits),
            Ok(ArithResult::NotFound) => incr(misses),
            _ => {}
        }
    }

    pub(super) fn arith(&mut self, mode: ArithMode, key: &[u8], delta: u64, noreply: bool, out: &mut BytesMut) {
        let result = self.arith_item(key, mode, delta, None, None, None);
        self.count_arith(mode, &result);
        if noreply {
            return;
        }
        match result {
            Ok(ArithResult::Done(n, ..)) => reply::number(out, n),
            Ok(ArithResult::NotFound | ArithResult::Exists) => reply::not_found(out),
            Ok(ArithResult::NonNumeric) => reply::client_error(out, "cannot increment or decrement non-numeric value"),
            Err(e) => engine_error(out, &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_parse_like_memcached() {
        let cases: [(&[u8], Option<u64>); 8] = [
            (b"0", Some(0)),
            (b"42  ", Some(42)),
            (b"18446744073709551615", Some(u64::MAX)),
            (b"18446744073709551616", None),
            (b"", None),
            (b"  ", None),
            (b"-1", None),
            (b"1a", None),
        ];
        for (stored, parsed) in cases {
            assert_eq!(parse_counter(stored), parsed, "{:?}", String::from_utf8_lossy(stored));
        }
    }
}
