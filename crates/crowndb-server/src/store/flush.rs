//! Flushing: invalidate every item that exists when the flush takes effect (memcached's
//! `flush_all [delay]`, Redis's FLUSHDB / FLUSHALL).
//!
//! memcached flushes lazily (items older than the flush time are treated as missing). We have no
//! per-item store time to compare with, so a flush walks the keys ([`Db::scan`]) and deletes
//! every item whose version is not newer than the store's last sequence number when the flush
//! began: an item written while the walk runs survives, as it does in memcached. It costs one
//! delete per item, and the connection that asked waits for it.
//!
//! A delayed flush (`flush_all 60`) is a timer task, at a deadline the protocol computed (for
//! memcached, by its exptime rules: relative up to 30 days, else a Unix time). A later `flush_all` replaces a pending one, as in
//! memcached. A pending flush does not survive a restart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crowndb::{Db, WriteOptions};

use super::expiry::Deadline;
use super::now_ms;

/// Keys read per page of the walk.
const PAGE: usize = 1024;

/// The server's pending delayed flush, if any.
#[derive(Debug, Default)]
pub struct Flusher {
    /// Bumped by every `flush_all`; a delayed flush runs only if it is still the latest.
    generation: AtomicU64,
}

impl Flusher {
    /// Flushes now, or at `when` if it is a deadline still ahead: returns the items removed,
    /// or `None` for a flush scheduled. Either way it replaces a pending one.
    pub fn flush_at(self: &Arc<Self>, db: &Db, when: Option<Deadline>, opts: &WriteOptions) -> crowndb::Result<Option<u64>> {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let now = now_ms();
        let at = match when {
            Some(Deadline::At(at)) if at > now => at,
            _ => return flush_now(db, opts).map(Some),
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return flush_now(db, opts).map(Some);
        };
        let (this, db, opts) = (Arc::clone(self), db.clone(), *opts);
        runtime.spawn(async move {
            tokio::time::sleep(Duration::from_millis(at - now)).await;
            if this.generation.load(Ordering::SeqCst) != generation {
                return;
            }
            let flushed = tokio::task::spawn_blocking(move || {
                let result = flush_now(&db, &WriteOptions { sync: None, ..opts });
                if opts.sync == Some(false) {
                    // Durability `Always` defers syncs to the end of a request batch; this
                    // flush belongs to no batch, so it syncs itself.
                    db.sync()?;
                }
                result
            });
            match flushed.await {
                Ok(Ok(n)) => tracing::info!("delayed flush_all removed {n} items"),
                Ok(Err(e)) => tracing::error!("delayed flush_all: {e}"),
                Err(e) => tracing::error!("delayed flush_all: {e}"),
            }
        });
        Ok(None)
    }
}

/// Deletes every item not newer than the store's last write now; returns how many.
pub fn flush_now(db: &Db, opts: &WriteOptions) -> crowndb::Result<u64> {
    let horizon = db.stats().last_sequence;
    let (mut cursor, mut removed) = (0, 0);
    loop {
        let page = db.scan(cursor, PAGE)?;
        for key in &page.keys {
            // Any type: a hash or a set goes with its head (its pages die with its epoch).
            if db.delete_if_not_newer(key, horizon, opts)? {
                removed += 1;
            }
        }
        cursor = page.cursor;
        if cursor == 0 {
            return Ok(removed);
        }
    }
}
