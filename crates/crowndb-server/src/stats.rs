//! Server-wide counters and gauges (memcached's `stats` writes them: `memcache/cmd/stats.rs`),
//! and each connection's share of the client memory limit. No protocol here.
//!
//! Counters are relaxed atomics: each is exact, but a `stats` reply is not a consistent snapshot
//! across counters (memcached's is not either). Item counts and sizes come from the store.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// Counters of the whole server, named as in memcached's `stats`.
        #[derive(Debug, Default)]
        pub struct Counters {
            $(pub $name: AtomicU64,)*
        }

        impl Counters {
            /// Each counter's name and value, in the order `stats` lists them.
            pub fn each(&self, mut f: impl FnMut(&'static str, u64)) {
                $(f(stringify!($name), self.$name.load(Ordering::Relaxed));)*
            }

            /// Sets every resettable counter to 0 (`stats reset`).
            fn reset(&self) {
                $(self.$name.store(0, Ordering::Relaxed);)*
            }
        }
    };
}

counters!(
    cmd_get,
    cmd_set,
    cmd_flush,
    cmd_touch,
    cmd_meta,
    get_hits,
    get_misses,
    delete_misses,
    delete_hits,
    incr_misses,
    incr_hits,
    decr_misses,
    decr_hits,
    cas_misses,
    cas_hits,
    cas_badval,
    touch_hits,
    touch_misses,
    store_too_large,
    bytes_read,
    bytes_written,
    rejected_connections,
    auth_cmds,
    auth_errors,
);

/// Everything `stats` reports that the store does not know.
#[derive(Debug)]
pub struct ServerStats {
    started: Instant,
    /// Connections open now (a gauge, not reset by `stats reset`).
    pub curr_connections: AtomicU64,
    /// Connections accepted since start (not reset).
    pub total_connections: AtomicU64,
    pub counters: Counters,
    /// The buffers of every client connection together, against `max_client_memory`.
    pub client_memory: ClientMemory,
}

/// What every connection's read and write buffers hold together, and the limit above which the
/// connections holding the most are closed (`max_client_memory`, Redis's `maxmemory-clients`).
#[derive(Debug, Default)]
pub struct ClientMemory {
    used: AtomicUsize,
    /// 0: no limit.
    limit: AtomicUsize,
    /// Connections closed for it since start.
    evicted: AtomicU64,
}

impl ClientMemory {
    pub fn set_limit(&self, bytes: usize) {
        self.limit.store(bytes, Ordering::Relaxed);
    }

    /// Bytes the client buffers hold now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Connections closed because the client buffers were over the limit.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}

/// A connection holding less than this is never closed for the server's client memory: idle
/// and ordinary clients are not the ones to blame.
const EVICTABLE_ABOVE: usize = 256 << 10;

/// One connection's part of [`ClientMemory`]; given back when dropped.
#[derive(Debug)]
pub struct BufferShare {
    stats: Arc<ServerStats>,
    held: usize,
}

impl BufferShare {
    pub fn new(stats: Arc<ServerStats>) -> BufferShare {
        BufferShare { stats, held: 0 }
    }

    /// Records that the connection's buffers now hold `bytes`. `Err` (the total and the limit)
    /// when the clients' buffers together are over the limit and this connection holds more than
    /// [`EVICTABLE_ABOVE`]: it is to be closed, which frees its buffers.
    pub fn update(&mut self, bytes: usize) -> Result<(), (usize, usize)> {
        // Called after every pass over a connection's requests: the shared counter is touched
        // only when the buffers changed size, which is rare, not once per request.
        if bytes == self.held {
            return Ok(());
        }
        let memory = &self.stats.client_memory;
        if bytes > self.held {
            memory.used.fetch_add(bytes - self.held, Ordering::Relaxed);
        } else {
            memory.used.fetch_sub(self.held - bytes, Ordering::Relaxed);
        }
        self.held = bytes;
        let (used, limit) = (memory.used(), memory.limit.load(Ordering::Relaxed));
        if limit > 0 && used > limit && bytes > EVICTABLE_ABOVE {
            memory.evicted.fetch_add(1, Ordering::Relaxed);
            return Err((used, limit));
        }
        Ok(())
    }
}

impl Drop for BufferShare {
    fn drop(&mut self) {
        self.stats.client_memory.used.fetch_sub(self.held, Ordering::Relaxed);
    }
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            started: Instant::now(),
            curr_connections: AtomicU64::new(0),
            total_connections: AtomicU64::new(0),
            counters: Counters::default(),
            client_memory: ClientMemory::default(),
        }
    }
}

/// Adds `n` to a counter.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Adds 1 to a counter.
pub fn incr(counter: &AtomicU64) {
    add(counter, 1);
}

/// The current Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl ServerStats {
    /// Seconds since the server started.
    pub fn uptime(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// `stats reset`: zero the counters (not the gauges).
    pub fn reset(&self) {
        self.counters.reset();
    }
}
