//! The protocol-neutral store layer: what memcached and Redis commands both need from the
//! engine, written once. The protocols parse requests and write replies; the semantics of a
//! write (its durability, an append, a counter, a new deadline, a flush) live here.
//!
//! - `mod.rs`: the clock ([`now_ms`]), [`blocking`] (engine calls off the reactor), and
//!   [`Writes`] (write options and the one sync per batch of durability `always`).
//! - `keys.rs`: [`Keys`], the key operations a command may use, implemented by the store
//!   itself ([`Db`]) and by Redis's EXEC overlay; [`Op`], one write of a batch.
//! - `expiry.rs`: [`Deadline`] and deadline changes through `Db::touch` ([`retime`],
//!   [`retime_if`], [`get_and_retime`]): only the record is rewritten, not a streamed value.
//! - `value.rs`: append and prepend ([`joined`], [`append`]), integer counters ([`add_i64`]).
//! - `flush.rs`: [`Flusher`]: removing every item, now or at a deadline.
//!
//! REQUIRES: a multi-threaded tokio runtime for [`blocking`] not to stall other connections
//! (on any other runtime, or none, it runs the call in place).

mod expiry;
mod flush;
mod keys;
mod value;

use std::time::{SystemTime, UNIX_EPOCH};

use crowndb::{Db, Durability, WriteOptions};

pub use expiry::{get_and_retime, is_past, retime, retime_if, Deadline, Retimed};
pub use flush::{flush_now, Flusher};
pub use keys::{to_batch, Keys, Op};
pub use value::{add_i64, append, joined, Added, Appended, Side, TooLarge};

/// The current Unix time in milliseconds (the clock the store uses for expiry).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Runs `f`, which may block on disk I/O, without stalling the other tasks of a tokio worker
/// thread (`block_in_place` on a multi-threaded runtime; directly elsewhere).
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The write options of one connection, and the sync its batch of requests owes.
///
/// With durability `always`, the writes of one batch of pipelined requests are appended
/// without waiting ([`Writes::options`] marks the batch dirty) and the connection calls
/// [`Writes::finish`] before it sends the replies: one `fdatasync` covers the whole batch and
/// nothing is acknowledged before it is on disk. With the other settings each write uses the
/// store's default and `finish` has nothing to do.
#[derive(Debug, Clone, Copy)]
pub struct Writes {
    sync_per_batch: bool,
    /// A write was made since the last `finish` whose sync was deferred to it.
    pub dirty: bool,
}

impl Writes {
    /// The writes of a connection to a store of this durability.
    pub fn new(durability: Durability) -> Writes {
        Writes { sync_per_batch: durability == Durability::Always, dirty: false }
    }

    /// Options for one write. Marks the batch dirty when the sync is deferred to its end.
    pub fn options(&mut self) -> WriteOptions {
        if self.sync_per_batch {
            self.dirty = true;
            WriteOptions { sync: Some(false), ..WriteOptions::default() }
        } else {
            WriteOptions::default()
        }
    }

    /// What the batch's replies must wait for before they are sent (durability `always`):
    /// a future that completes once its writes are on disk, awaited by the connection loop
    /// (`net::serve`) without blocking a thread, so every connection's batch shares the
    /// store's group commit. `None` if the batch owes no sync.
    pub fn finish(&mut self, db: &Db) -> Option<crowndb::Durable> {
        std::mem::take(&mut self.dirty).then(|| db.durable())
    }
}

/// CPU time used by the process, user and system, as `seconds.micros` (memcached's
/// `rusage_user`, Redis's `used_cpu_user`).
pub fn cpu_times() -> (String, String) {
    // SAFETY: `rusage` is plain integers, for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF and a pointer to a live, writable `rusage`, which getrusage only fills.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return ("0.000000".into(), "0.000000".into());
    }
    let fmt = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    (fmt(usage.ru_utime), fmt(usage.ru_stime))
}
