//! `flush_all [delay]`: invalidate every item that exists when the flush takes effect.
//!
//! memcached flushes lazily (items older than the flush time are treated as missing). We have no
//! per-item store time to compare with, so a flush walks the keys ([`Db::scan`]) and deletes
//! every item whose version is not newer than the store's last sequence number when the flush
//! began: an item written while the walk runs survives, as it does in memcached. It costs one
//! delete per item, and the connection that asked waits for it.
//!
//! A delayed flush (`flush_all 60`) is a timer task; the delay follows the exptime rules
//! (relative up to 30 days, else a Unix time). A later `flush_all` replaces a pending one, as in
//! memcached. A pending flush does not survive a restart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crowndb::{Db, Update, WriteOptions};

use super::handler::{now_ms, Deadline};

/// Keys read per page of the walk.
const PAGE: usize = 1024;

/// The server's pending delayed flush, if any.
#[derive(Debug, Default)]
pub struct Flusher {
    /// Bumped by every `flush_all`; a delayed flush runs only if it is still the latest.
    generation: AtomicU64,
}

impl Flusher {
    /// Handles `flush_all` with this raw delay: flushes now (returning the items removed) or
    /// schedules it (returning `None`).
    pub fn flush_all(self: &Arc<Self>, db: &Db, delay: Option<i64>, opts: &WriteOptions) -> crowndb::Result<Option<u64>> {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let now = now_ms();
        let at = match delay.map(|d| Deadline::from_exptime(d, now)) {
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
            let outcome = db.update(key, opts, |current| match current {
                Some(entry) if entry.version <= horizon => Update::Delete,
                _ => Update::Keep,
            })?;
            if outcome == crowndb::UpdateOutcome::Deleted {
                removed += 1;
            }
        }
        cursor = page.cursor;
        if cursor == 0 {
            return Ok(removed);
        }
    }
}
