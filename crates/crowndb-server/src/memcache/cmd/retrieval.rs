//! Retrieval and key commands: `get`, `gets`, `gat`, `gats`, `touch`, `delete`. A new
//! deadline (`gat`, `touch`, meta `T`) is the store layer's [`retime`]: only the record is
//! rewritten, not the value.

use bytes::BytesMut;
use crowndb::Entry;

use super::{deadline, engine_error, Handler};
use crate::memcache::command::Get;
use crate::memcache::reply;
use crate::stats::incr;
use crate::store::{get_and_retime, now_ms, retime, Deadline};

impl Handler {
    /// Reads an item (`get`, `mg`), or reads it and gives it a new deadline (`gat`, meta `T`):
    /// the entry as it is afterwards, with its new version.
    pub(super) fn get_or_touch(&mut self, key: &[u8], touch: Option<Deadline>) -> crowndb::Result<Option<Entry>> {
        match touch {
            None => self.db.get_entry(key),
            Some(to) => {
                // A collection is refused before its deadline changes (WrongType, no write).
                if !matches!(to, Deadline::Expired) {
                    self.db.get_entry(key)?;
                }
                let opts = self.writes.options();
                get_and_retime(&mut self.db, key, to, &opts)
            }
        }
    }

    pub(super) fn get(&mut self, g: Get<'_>, out: &mut BytesMut) {
        let touch = g.touch.map(|exptime| deadline(exptime, now_ms()));
        let start = out.len();
        let mut value_bytes = 0;
        for key in g.keys.iter() {
            let counters = &self.stats.counters;
            incr(&counters.cmd_get);
            if touch.is_some() {
                incr(&counters.cmd_touch);
            }
            match self.get_or_touch(key, touch) {
                Ok(Some(entry)) => {
                    let counters = &self.stats.counters;
                    incr(&counters.get_hits);
                    if touch.is_some() {
                        incr(&counters.touch_hits);
                    }
                    if !reply::retrieval_fits(value_bytes, entry.value.len()) {
                        out.truncate(start);
                        reply::retrieval_too_large(out);
                        return;
                    }
                    value_bytes += entry.value.len();
                    reply::value(out, key, entry.flags, &entry.value, g.with_cas.then_some(entry.version));
                }
                Ok(None) => {
                    let counters = &self.stats.counters;
                    incr(&counters.get_misses);
                    if touch.is_some() {
                        incr(&counters.touch_misses);
                    }
                }
                Err(e) => {
                    // memcached answers a failed retrieval with the error alone.
                    out.truncate(start);
                    engine_error(out, &e);
                    return;
                }
            }
        }
        reply::end(out);
    }

    pub(super) fn delete(&mut self, key: &[u8], noreply: bool, out: &mut BytesMut) {
        let opts = self.writes.options();
        let result = self.db.delete_opt(key, &opts);
        let counters = &self.stats.counters;
        match result {
            Ok(true) => incr(&counters.delete_hits),
            Ok(false) => incr(&counters.delete_misses),
            Err(_) => {}
        }
        if noreply {
            return;
        }
        match result {
            Ok(true) => reply::deleted(out),
            Ok(false) => reply::not_found(out),
            Err(e) => engine_error(out, &e),
        }
    }

    pub(super) fn touch(&mut self, key: &[u8], exptime: i64, noreply: bool, out: &mut BytesMut) {
        incr(&self.stats.counters.cmd_touch);
        let opts = self.writes.options();
        let result = retime(&mut self.db, key, deadline(exptime, now_ms()), &opts).map(|r| r.done().then_some(()));
        let counters = &self.stats.counters;
        match result {
            Ok(Some(_)) => incr(&counters.touch_hits),
            Ok(None) => incr(&counters.touch_misses),
            Err(_) => {}
        }
        if noreply {
            return;
        }
        match result {
            Ok(Some(_)) => reply::touched(out),
            Ok(None) => reply::not_found(out),
            Err(e) => engine_error(out, &e),
        }
    }
}
