//! What every Redis connection shares: the store, the counters INFO reports, the settings
//! CONFIG SET changes while the server runs, the client list, the last save, and the switch
//! SHUTDOWN pulls.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crowndb::Db;
use tokio::sync::watch;

use super::client::ClientInfo;
use crate::config::Config;
use crate::resp::Limits;
use crate::stats::{unix_now, ServerStats};

/// Counters of the Redis listener, named as in Redis's `INFO stats`.
#[derive(Debug, Default)]
pub struct RedisCounters {
    pub total_connections_received: AtomicU64,
    pub total_commands_processed: AtomicU64,
    pub total_net_input_bytes: AtomicU64,
    pub total_net_output_bytes: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub total_error_replies: AtomicU64,
}

impl RedisCounters {
    fn reset(&self) {
        for counter in [
            &self.total_connections_received,
            &self.total_commands_processed,
            &self.total_net_input_bytes,
            &self.total_net_output_bytes,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.total_error_replies,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// The settings CONFIG SET can change while the server runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `requirepass`: the password, or none.
    pub requirepass: Option<Vec<u8>>,
    /// `proto-max-bulk-len`, `client-query-buffer-limit` and the fixed parser limits.
    pub limits: Limits,
    /// `timeout`: close a client idle this long (0: never).
    pub timeout: Option<Duration>,
}

/// State shared by every Redis connection of a server.
pub struct Shared {
    pub db: Db,
    pub stats: Arc<ServerStats>,
    pub config: Arc<Config>,
    pub counters: RedisCounters,
    /// The port the listener is bound to (INFO's `tcp_port`).
    pub port: u16,
    /// A random 40-hex-digit id of this run (INFO's `run_id`).
    pub run_id: String,
    settings: RwLock<Settings>,
    /// Bumped by every CONFIG SET, so connections re-read `settings` only when it changed.
    settings_generation: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<Mutex<ClientInfo>>>>,
    next_client_id: AtomicU64,
    /// Unix time of the last SAVE / BGSAVE (the server's start before any).
    pub last_save: AtomicU64,
    /// The store's sequence number at the last save (for `rdb_changes_since_last_save`).
    pub last_save_sequence: AtomicU64,
    shutdown: Arc<watch::Sender<bool>>,
    /// Every command runs holding this shared; EXEC holds it exclusively, so a transaction's
    /// WATCH check and its commands run with no other client's command in between.
    pub exec_lock: RwLock<()>,
}

impl Shared {
    pub fn new(db: Db, stats: Arc<ServerStats>, config: Arc<Config>, port: u16, shutdown: Arc<watch::Sender<bool>>) -> Shared {
        let settings = Settings {
            requirepass: config.requirepass.as_ref().map(|p| p.as_bytes().to_vec()),
            limits: Limits::default(),
            timeout: config.idle_timeout,
        };
        let last_sequence = db.stats().last_sequence;
        Shared {
            db,
            stats,
            config,
            counters: RedisCounters::default(),
            port,
            run_id: run_id(),
            settings: RwLock::new(settings),
            settings_generation: AtomicU64::new(0),
            clients: Mutex::new(BTreeMap::new()),
            next_client_id: AtomicU64::new(1),
            last_save: AtomicU64::new(unix_now()),
            last_save_sequence: AtomicU64::new(last_sequence),
            shutdown,
            exec_lock: RwLock::new(()),
        }
    }

    /// The live settings.
    pub fn settings(&self) -> Settings {
        self.settings.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A counter that changes whenever the settings do.
    pub fn settings_generation(&self) -> u64 {
        self.settings_generation.load(Ordering::Acquire)
    }

    /// Changes the live settings (CONFIG SET).
    pub fn update_settings(&self, f: impl FnOnce(&mut Settings)) {
        let mut settings = self.settings.write().unwrap_or_else(|e| e.into_inner());
        f(&mut settings);
        self.settings_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A new client id (CLIENT ID), starting at 1 as in Redis.
    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn register(&self, info: Arc<Mutex<ClientInfo>>) {
        let id = info.lock().unwrap_or_else(|e| e.into_inner()).id;
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).insert(id, info);
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The info of every connected client, in id order.
    pub fn clients(&self) -> Vec<Arc<Mutex<ClientInfo>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Zeroes the counters (CONFIG RESETSTAT).
    pub fn reset_stats(&self) {
        self.counters.reset();
        self.stats.reset();
    }

    /// Stops the server as SIGTERM does (SHUTDOWN).
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Records a completed save.
    pub fn saved(&self) {
        self.last_save.store(unix_now(), Ordering::Relaxed);
        self.last_save_sequence.store(self.db.stats().last_sequence, Ordering::Relaxed);
    }

    /// The listen address, for CONFIG GET bind/port.
    pub fn bind_addr(&self) -> Option<SocketAddr> {
        self.config.redis_addr.as_deref().and_then(|a| a.parse().ok())
    }
}

/// 40 hex digits from the clock and the process id: unique enough to tell runs apart.
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(40);
    let state = std::collections::hash_map::RandomState::new();
    while out.len() < 40 {
        let mut hasher = state.build_hasher();
        hasher.write_usize(out.len());
        hasher.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out.truncate(40);
    out
}
