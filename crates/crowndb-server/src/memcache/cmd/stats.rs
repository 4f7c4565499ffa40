//! `stats`, `stats settings`, `stats reset` and the empty `stats items / slabs / sizes /
//! conns`: the server's counters and the store's figures, in memcached's names.

use std::sync::atomic::Ordering;

use bytes::BytesMut;

use super::Handler;
use crate::config::{durability_name, Config};
use crate::memcache::reply;
use crate::stats::{unix_now, ServerStats};
use crate::store::cpu_times;

/// The version reported to clients. memcached clients parse `VERSION <major>.<minor>.<micro>`
/// to pick features, so we report the memcached release whose protocol we follow, then ours.
pub const MEMCACHED_VERSION: &str = concat!("1.6.0-crowndb-", env!("CARGO_PKG_VERSION"));

impl Handler {
    pub(super) fn stats(&mut self, args: &crate::memcache::Tokens<'_>, out: &mut BytesMut) {
        let mut args = args.iter();
        match (args.next(), args.next()) {
            (None, _) => write_general(&self.stats, out, &self.db, &self.config),
            (Some(b"settings"), None) => write_settings(out, &self.config),
            (Some(b"reset"), None) => {
                self.stats.reset();
                reply::reset(out);
            }
            // We have no slabs or LRU: these exist and are empty.
            (Some(b"items" | b"slabs" | b"sizes" | b"conns"), None) => reply::end(out),
            _ => reply::error(out),
        }
    }
}

/// The general `stats` reply, `END` included.
fn write_general(stats: &ServerStats, out: &mut BytesMut, db: &crowndb::Db, config: &Config) {
    let store = db.stats();
    reply::stat_u64(out, "pid", u64::from(std::process::id()));
    reply::stat_u64(out, "uptime", stats.uptime());
    reply::stat_u64(out, "time", unix_now());
    reply::stat(out, "version", MEMCACHED_VERSION.as_bytes());
    reply::stat(out, "libevent", b"tokio");
    reply::stat_u64(out, "pointer_size", usize::BITS.into());
    let (user, system) = cpu_times();
    reply::stat(out, "rusage_user", user.as_bytes());
    reply::stat(out, "rusage_system", system.as_bytes());
    reply::stat_u64(out, "max_connections", config.max_connections as u64);
    reply::stat_u64(out, "curr_connections", stats.curr_connections.load(Ordering::Relaxed));
    reply::stat_u64(out, "total_connections", stats.total_connections.load(Ordering::Relaxed));
    reply::stat_u64(out, "client_buffer_bytes", stats.client_memory.used() as u64);
    reply::stat_u64(out, "evicted_clients", stats.client_memory.evicted());
    stats.counters.each(|name, value| reply::stat_u64(out, name, value));
    reply::stat_u64(out, "threads", config.worker_threads() as u64);
    reply::stat_u64(out, "curr_items", store.keys);
    reply::stat_u64(out, "total_items", store.last_sequence);
    reply::stat_u64(out, "bytes", store.live_bytes);
    reply::stat_u64(out, "limit_maxbytes", 0);
    reply::stat_u64(out, "evictions", 0);
    reply::stat_u64(out, "reclaimed", 0);
    reply::stat_u64(out, "disk_segments", store.segment_count() as u64);
    reply::stat_u64(out, "disk_dead_bytes", store.dead_bytes);
    reply::stat_u64(out, "index_memory_bytes", store.index_memory_bytes);
    reply::stat_u64(out, "syncs", store.sync.syncs);
    reply::stat_u64(out, "sync_waits", store.sync.waits);
    reply::stat_u64(out, "sync_wait_micros", store.sync.wait_micros);
    reply::stat_u64(out, "false_candidate_reads", store.false_candidate_reads);
    reply::end(out);
}

/// The `stats settings` reply, `END` included.
fn write_settings(out: &mut BytesMut, config: &Config) {
    let addr = config.memcached_addr.as_deref().unwrap_or("off");
    reply::stat(out, "interface", addr.as_bytes());
    reply::stat_u64(out, "maxconns", config.max_connections as u64);
    reply::stat_u64(out, "num_threads", config.worker_threads() as u64);
    reply::stat_u64(out, "item_size_max", config.max_item_size as u64);
    reply::stat_u64(out, "key_max", config.max_key_len as u64);
    reply::stat_u64(out, "line_max", config.max_line_len as u64);
    reply::stat_u64(out, "idle_timeout", config.idle_timeout.map_or(0, |d| d.as_secs()));
    reply::stat(out, "cas_enabled", b"yes");
    reply::stat(out, "evictions", b"off");
    reply::stat(out, "durability", durability_name(config.durability).as_bytes());
    reply::stat(out, "data_dir", config.data_dir.display().to_string().as_bytes());
    reply::end(out);
}
