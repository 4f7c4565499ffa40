//! The server: opens the store, listens, accepts connections within a limit, and shuts down
//! cleanly.
//!
//! [`Server::start`] opens the store and binds the listener on the calling thread (so errors are
//! reported before anything runs), then serves on a tokio multi-threaded runtime: the accept loop
//! on a thread of its own, each connection a task on the workers.
//!
//! Two listeners share the runtime, the store and the limits: the memcached protocol and the
//! Redis protocol (`redis/`), each an accept loop of its own; either can be disabled.
//!
//! Limits: a semaphore holds one permit per allowed connection, for both protocols together. A
//! connection beyond the limit gets `SERVER_ERROR too many open connections` (memcached's
//! words) or `-ERR max number of clients reached` (Redis's) and is closed at once.
//!
//! Shutdown ([`Server::shutdown`], SIGTERM/SIGINT in [`run_until_signal`], or a Redis client's
//! SHUTDOWN): stop accepting,
//! tell every connection (a `watch` channel), let each finish the requests it has read and send
//! their replies, wait for them (at most [`DRAIN_TIMEOUT`]), sync and close the store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crowndb::{Db, Options};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};

use crate::config::{durability_name, Config};
use crate::error::ServerError;
use crate::memcache::connection::Connection;
use crate::memcache::flush::Flusher;
use crate::memcache::handler::Handler;
use crate::redis::connection::{Connection as RedisConnection, TOO_MANY_CLIENTS};
use crate::redis::Shared as RedisShared;
use crate::stats::{incr, ServerStats};

/// How long shutdown waits for open connections to finish their requests.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// TCP keepalive on client connections: a client that vanished without closing (host down,
/// cable pulled) is noticed after about `KEEPALIVE_IDLE + 3 * KEEPALIVE_INTERVAL` of silence
/// and its connection freed, even without an idle timeout.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// The reply to a connection beyond `max_connections`.
const TOO_MANY_CONNECTIONS: &[u8] = b"SERVER_ERROR too many open connections\r\n";

/// A running server. Dropping it shuts it down, as [`Server::shutdown`] does.
pub struct Server {
    memcached_addr: Option<SocketAddr>,
    redis_addr: Option<SocketAddr>,
    shutdown: Arc<watch::Sender<bool>>,
    runtime: tokio::runtime::Handle,
    /// Turns true when the serving thread ends, for whatever reason.
    stopped: watch::Receiver<bool>,
    thread: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
}

impl Server {
    /// Checks the config, opens the store, binds the listener and starts serving.
    pub fn start(config: Config) -> Result<Server, ServerError> {
        config.validate()?;
        let addr = config.memcached_socket_addr()?;
        let redis = config.redis_socket_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads())
            .thread_name("crowndb-worker")
            .enable_all()
            .build()
            .map_err(|source| ServerError::Io { context: "starting the network runtime", source })?;

        let db = open_store(&config)?;
        let listener = match addr {
            Some(addr) => {
                let bound = runtime.block_on(TcpListener::bind(addr));
                Some(bound.map_err(|source| ServerError::Bind { addr: addr.to_string(), source })?)
            }
            None => None,
        };
        let memcached_addr = match &listener {
            Some(listener) => {
                let local = listener.local_addr().map_err(|source| ServerError::Io { context: "reading the listen address", source })?;
                tracing::info!("memcached protocol listening on {local}");
                Some(local)
            }
            None => {
                tracing::info!("memcached protocol disabled");
                None
            }
        };
        let redis_listener = match redis {
            Some(addr) => {
                let bound = runtime.block_on(TcpListener::bind(addr));
                Some(bound.map_err(|source| ServerError::Bind { addr: addr.to_string(), source })?)
            }
            None => None,
        };
        let redis_addr = match &redis_listener {
            Some(listener) => {
                let local = listener.local_addr().map_err(|source| ServerError::Io { context: "reading the listen address", source })?;
                let auth = if config.requirepass.is_some() { "password required" } else { "no password" };
                tracing::info!("Redis protocol listening on {local} ({auth})");
                Some(local)
            }
            None => {
                tracing::info!("Redis protocol disabled");
                None
            }
        };

        let (shutdown, shutdown_rx) = watch::channel(false);
        let shutdown = Arc::new(shutdown);
        let listeners = Listeners { memcached: listener, redis: redis_listener, redis_port: redis_addr.map_or(0, |a| a.port()) };
        let trigger = shutdown.clone();
        let (stopped_tx, stopped) = watch::channel(false);
        let handle = runtime.handle().clone();
        let config = Arc::new(config);
        let thread = std::thread::Builder::new()
            .name("crowndb-accept".into())
            .spawn(move || {
                let result = runtime.block_on(serve(db, listeners, config, shutdown_rx, trigger));
                let _ = stopped_tx.send(true);
                runtime.shutdown_timeout(Duration::from_secs(1));
                result
            })
            .map_err(|source| ServerError::Io { context: "starting the server thread", source })?;
        Ok(Server { memcached_addr, redis_addr, shutdown, runtime: handle, stopped, thread: Some(thread) })
    }

    /// The address the memcached protocol listens on (with the real port if 0 was asked for).
    pub fn memcached_addr(&self) -> Option<SocketAddr> {
        self.memcached_addr
    }

    /// The address the Redis protocol listens on (with the real port if 0 was asked for).
    pub fn redis_addr(&self) -> Option<SocketAddr> {
        self.redis_addr
    }

    /// Blocks until SIGTERM or SIGINT arrives, or the server stops by itself (then
    /// [`Server::shutdown`] reports why).
    pub fn wait_for_signal(&self) -> Result<(), ServerError> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut stopped = self.stopped.clone();
        self.runtime.block_on(async {
            let io = |source| ServerError::Io { context: "installing signal handlers", source };
            let mut term = signal(SignalKind::terminate()).map_err(io)?;
            let mut int = signal(SignalKind::interrupt()).map_err(io)?;
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
                _ = stopped.wait_for(|&stopped| stopped) => "the server stopping",
            };
            tracing::info!("{name}: shutting down");
            Ok(())
        })
    }

    /// Stops accepting, lets open connections finish their requests, syncs and closes the store.
    pub fn shutdown(mut self) -> Result<(), ServerError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), ServerError> {
        let _ = self.shutdown.send(true);
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| Err(ServerError::Config("the server thread panicked".into()))),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!("{e}");
        }
    }
}

/// Runs the server until SIGTERM or SIGINT, then shuts it down: `crowndb serve`.
pub fn run_until_signal(config: Config) -> Result<(), ServerError> {
    let server = Server::start(config)?;
    server.wait_for_signal()?;
    let started = Instant::now();
    server.shutdown()?;
    tracing::info!("stopped cleanly in {} ms", started.elapsed().as_millis());
    Ok(())
}

fn open_store(config: &Config) -> Result<Db, ServerError> {
    let defaults = Options::default();
    let options = Options { durability: config.durability, max_value_size: defaults.max_value_size.max(config.max_item_size), ..defaults };
    let started = Instant::now();
    let db = Db::open(&config.data_dir, options).map_err(|source| ServerError::Open { dir: config.data_dir.clone(), source })?;
    let stats = db.stats();
    tracing::info!(
        "opened the store in {} ({} keys, {} segments) in {} ms, durability {}",
        config.data_dir.display(),
        stats.keys,
        stats.segment_count(),
        started.elapsed().as_millis(),
        durability_name(config.durability)
    );
    Ok(db)
}

/// The bound listeners.
struct Listeners {
    memcached: Option<TcpListener>,
    redis: Option<TcpListener>,
    redis_port: u16,
}

/// Which protocol a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Memcached,
    Redis,
}

/// What every accept loop needs.
struct Accept {
    db: Db,
    config: Arc<Config>,
    stats: Arc<ServerStats>,
    permits: Arc<Semaphore>,
    flusher: Arc<Flusher>,
    redis: Arc<RedisShared>,
}

/// The accept loops and, once told to stop, the drain and the store's close.
async fn serve(
    db: Db,
    listeners: Listeners,
    config: Arc<Config>,
    shutdown: watch::Receiver<bool>,
    trigger: Arc<watch::Sender<bool>>,
) -> Result<(), ServerError> {
    let stats = Arc::new(ServerStats::default());
    let redis = Arc::new(RedisShared::new(db.clone(), stats.clone(), config.clone(), listeners.redis_port, trigger));
    let accept = Arc::new(Accept {
        db: db.clone(),
        config: config.clone(),
        stats,
        permits: Arc::new(Semaphore::new(config.max_connections)),
        flusher: Arc::new(Flusher::default()),
        redis,
    });
    // Every connection task holds a clone of `done`; `finished` yields None once all are gone.
    let (done, mut finished) = mpsc::channel::<()>(1);

    let memcached = accept_loop(listeners.memcached, Protocol::Memcached, accept.clone(), shutdown.clone(), done.clone());
    let redis = accept_loop(listeners.redis, Protocol::Redis, accept.clone(), shutdown.clone(), done.clone());
    tokio::join!(memcached, redis);

    drop(done);
    if tokio::time::timeout(DRAIN_TIMEOUT, finished.recv()).await.is_err() {
        tracing::warn!("connections still open after {} s; closing the store anyway", DRAIN_TIMEOUT.as_secs());
    }
    drop(accept);
    db.sync().map_err(ServerError::Close)?;
    db.close().map_err(ServerError::Close)?;
    tracing::info!("store synced and closed");
    Ok(())
}

/// Accepts connections of one protocol until shutdown (returns at once with no listener).
async fn accept_loop(
    listener: Option<TcpListener>,
    protocol: Protocol,
    accept: Arc<Accept>,
    mut shutdown: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
) {
    let Some(listener) = listener else { return };
    loop {
        if *shutdown.borrow() {
            break;
        }
        let accepted = tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, most likely: wait instead of spinning.
                tracing::error!("accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let stats = &accept.stats;
        let Ok(permit) = accept.permits.clone().try_acquire_owned() else {
            incr(&stats.counters.rejected_connections);
            tracing::warn!("refusing {peer}: {} connections open already", accept.config.max_connections);
            let message = match protocol {
                Protocol::Memcached => TOO_MANY_CONNECTIONS,
                Protocol::Redis => TOO_MANY_CLIENTS,
            };
            tokio::spawn(refuse(stream, message));
            continue;
        };
        if protocol == Protocol::Redis {
            incr(&accept.redis.counters.total_connections_received);
        }
        let _ = stream.set_nodelay(true);
        let keepalive = socket2::TcpKeepalive::new().with_time(KEEPALIVE_IDLE).with_interval(KEEPALIVE_INTERVAL).with_retries(3);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        let (stats, shutdown, done) = (stats.clone(), shutdown.clone(), done.clone());
        incr(&stats.curr_connections);
        incr(&stats.total_connections);
        match protocol {
            Protocol::Memcached => {
                let handler = Handler::new(accept.db.clone(), stats.clone(), accept.config.clone(), accept.flusher.clone());
                let connection = Connection::new(stream, handler, accept.config.limits(), accept.config.idle_timeout);
                tokio::spawn(async move {
                    if let Err(e) = connection.run(shutdown).await {
                        tracing::debug!("connection from {peer}: {e}");
                    }
                    stats.curr_connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    drop(permit);
                    drop(done);
                });
            }
            Protocol::Redis => {
                let connection = RedisConnection::new(stream, peer, accept.redis.clone());
                tokio::spawn(async move {
                    if let Err(e) = connection.run(shutdown).await {
                        tracing::debug!("Redis connection from {peer}: {e}");
                    }
                    stats.curr_connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    drop(permit);
                    drop(done);
                });
            }
        }
    }
}

/// Tells a client beyond the connection limit why, and closes.
async fn refuse(mut stream: TcpStream, message: &'static [u8]) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(message).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
