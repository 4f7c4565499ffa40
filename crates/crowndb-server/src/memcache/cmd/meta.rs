//! The meta commands (`mg`, `ms`, `md`, `ma`, `me`) applied to the store. `mn` is answered in
//! `mod.rs`.
//!
//! Supported flags: `b` (base64 key), `c f k O q s t v` (return flags and quiet mode), `T`
//! (new TTL), `F` (client flags), `C` (compare cas), `M` (mode), `N` (vivify: `ms` append and
//! prepend modes, `ma`), `J` and `D` (`ma` initial value and delta), `x` (`md`: empty the value).
//! Not supported, and ignored: `h` and `l` (we keep no access history, so they are left out of
//! replies), `u` (there is no LRU), `E` (versions are the store's sequence numbers), `R`, `N`
//! on `mg` (a miss stays a plain miss: no `W` token), and `I` on `ms`. `md I` (invalidate) is
//! refused with an error rather than mistaken for a delete.

use bytes::BytesMut;
use crowndb::Update;

use super::arith::ArithResult;
use super::storage::{StoreMode, StoreRequest, StoreResult};
use super::{deadline, engine_error, ttl_secs, Handler};
use crate::memcache::command::{ArithMode, MetaFlags, MetaSetMode};
use crate::memcache::reply::{self, DebugInfo, ItemInfo, MetaStatus};
use crate::stats::incr;
use crate::store::now_ms;

impl Handler {
    pub(super) fn meta_get(&mut self, key: &[u8], flags: &MetaFlags<'_>, out: &mut BytesMut) {
        let counters = &self.stats.counters;
        incr(&counters.cmd_meta);
        incr(&counters.cmd_get);
        let now = now_ms();
        let touch = flags.ttl.map(|exptime| deadline(exptime, now));
        if touch.is_some() {
            incr(&counters.cmd_touch);
        }
        match self.get_or_touch(key, touch) {
            Ok(Some(entry)) => {
                incr(&self.stats.counters.get_hits);
                let item = ItemInfo {
                    cas: Some(entry.version),
                    client_flags: Some(entry.flags),
                    size: Some(entry.value.len() as u64),
                    ttl: Some(ttl_secs(&entry, now)),
                    ..ItemInfo::default()
                };
                let status = if flags.return_value { MetaStatus::Va(&entry.value) } else { MetaStatus::Hd };
                reply::meta(out, status, flags, key, &item);
            }
            Ok(None) => {
                incr(&self.stats.counters.get_misses);
                if !flags.quiet {
                    reply::meta(out, MetaStatus::En, flags, key, &ItemInfo::default());
                }
            }
            Err(e) => engine_error(out, &e),
        }
    }

    pub(super) fn meta_set(&mut self, key: &[u8], mode: MetaSetMode, value: &[u8], flags: &MetaFlags<'_>, out: &mut BytesMut) {
        let counters = &self.stats.counters;
        incr(&counters.cmd_meta);
        incr(&counters.cmd_set);
        let now = now_ms();
        let request = StoreRequest {
            key,
            value,
            mode: match mode {
                MetaSetMode::Set => StoreMode::Set,
                MetaSetMode::Add => StoreMode::Add,
                MetaSetMode::Replace => StoreMode::Replace,
                MetaSetMode::Append => StoreMode::Append,
                MetaSetMode::Prepend => StoreMode::Prepend,
            },
            flags: flags.client_flags.unwrap_or(0),
            deadline: deadline(flags.ttl.unwrap_or(0), now),
            compare_cas: flags.compare_cas,
            vivify: flags.vivify.map(|exptime| deadline(exptime, now)),
        };
        match self.store_item(&request) {
            Ok(StoreResult::Stored(version)) => {
                if !flags.quiet {
                    let item = ItemInfo { cas: Some(version), ..ItemInfo::default() };
                    reply::meta(out, MetaStatus::Hd, flags, key, &item);
                }
            }
            Ok(StoreResult::NotStored) => reply::meta(out, MetaStatus::Ns, flags, key, &ItemInfo::default()),
            Ok(StoreResult::Exists) => reply::meta(out, MetaStatus::Ex, flags, key, &ItemInfo::default()),
            Ok(StoreResult::NotFound) => reply::meta(out, MetaStatus::Nf, flags, key, &ItemInfo::default()),
            Ok(StoreResult::TooLarge) => reply::server_error(out, "out of memory storing object"),
            Err(e) => engine_error(out, &e),
        }
    }

    pub(super) fn meta_delete(&mut self, key: &[u8], flags: &MetaFlags<'_>, out: &mut BytesMut) {
        incr(&self.stats.counters.cmd_meta);
        if flags.invalidate {
            reply::server_error(out, "md with I (invalidate) is not supported");
            return;
        }
        let opts = self.writes.options();
        let mut status = MetaStatus::Nf;
        let result = self.db.update(key, &opts, |current| {
            let Some(e) = current else { return Update::Keep };
            if flags.compare_cas.is_some_and(|cas| cas != e.version) {
                status = MetaStatus::Ex;
                return Update::Keep;
            }
            status = MetaStatus::Hd;
            if flags.remove_value {
                Update::Put { value: Vec::new(), flags: e.flags, expires_at_ms: e.expires_at_ms }
            } else {
                Update::Delete
            }
        });
        let counters = &self.stats.counters;
        match (&result, status) {
            (Ok(_), MetaStatus::Hd) => incr(&counters.delete_hits),
            (Ok(_), MetaStatus::Nf) => incr(&counters.delete_misses),
            _ => {}
        }
        match result {
            Ok(_) if status == MetaStatus::Hd && flags.quiet => {}
            Ok(_) => reply::meta(out, status, flags, key, &ItemInfo::default()),
            Err(e) => engine_error(out, &e),
        }
    }

    pub(super) fn meta_arith(&mut self, key: &[u8], mode: ArithMode, flags: &MetaFlags<'_>, out: &mut BytesMut) {
        incr(&self.stats.counters.cmd_meta);
        let now = now_ms();
        let vivify = flags.vivify.map(|exptime| (flags.initial_or_default(), deadline(exptime, now)));
        let touch = flags.ttl.map(|exptime| deadline(exptime, now));
        let result = self.arith_item(key, mode, flags.delta_or_default(), flags.compare_cas, vivify, touch);
        self.count_arith(mode, &result);
        match result {
            Ok(ArithResult::Done(n, version, expires_at_ms)) => {
                let ttl = match expires_at_ms {
                    None => -1,
                    Some(at) => i64::try_from(at.saturating_sub(now).div_ceil(1000)).unwrap_or(i64::MAX),
                };
                let item = ItemInfo { cas: Some(version), ttl: Some(ttl), ..ItemInfo::default() };
                if flags.return_value {
                    let number = n.to_string();
                    reply::meta(out, MetaStatus::Va(number.as_bytes()), flags, key, &item);
                } else if !flags.quiet {
                    reply::meta(out, MetaStatus::Hd, flags, key, &item);
                }
            }
            Ok(ArithResult::NotFound) => reply::meta(out, MetaStatus::Nf, flags, key, &ItemInfo::default()),
            Ok(ArithResult::Exists) => reply::meta(out, MetaStatus::Ex, flags, key, &ItemInfo::default()),
            Ok(ArithResult::NonNumeric) => reply::client_error(out, "cannot increment or decrement non-numeric value"),
            Err(e) => engine_error(out, &e),
        }
    }

    pub(super) fn meta_debug(&mut self, key: &[u8], base64: bool, out: &mut BytesMut) {
        incr(&self.stats.counters.cmd_meta);
        match self.db.get_entry(key) {
            Ok(Some(entry)) => {
                let info = DebugInfo {
                    exp: ttl_secs(&entry, now_ms()),
                    last_access: 0,
                    cas: entry.version,
                    fetched: false,
                    size: entry.value.len() as u64,
                };
                reply::meta_debug(out, key, base64, &info);
            }
            Ok(None) => out.extend_from_slice(b"EN\r\n"),
            Err(e) => engine_error(out, &e),
        }
    }
}
