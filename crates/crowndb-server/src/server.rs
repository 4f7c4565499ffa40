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
use tokio_rustls::TlsAcceptor;

use crate::config::{durability_name, Config};
use crate::error::ServerError;
use crate::memcache::auth::Credentials;
use crate::memcache::cmd::Handler;
use crate::memcache::connection::Connection;
use crate::net::Stream;
use crate::redis::connection::{Connection as RedisConnection, TOO_MANY_CLIENTS};
use crate::redis::Shared as RedisShared;
use crate::stats::{incr, ServerStats};
use crate::store::Flusher;
use crate::tls::{self, TlsFiles};

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
    memcached_tls_addr: Option<SocketAddr>,
    redis_tls_addr: Option<SocketAddr>,
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
        let memcached_tls = config.memcached_tls_socket_addr()?;
        let redis_tls = config.redis_tls_socket_addr()?;
        let tls = match (&config.tls_cert_file, &config.tls_key_file) {
            (Some(cert), Some(key)) if config.tls_enabled() => {
                Some(tls::load(TlsFiles { cert, key, client_ca: config.tls_client_ca_file.as_deref() })?)
            }
            _ => None,
        };
        let memcached_auth = match &config.auth_file {
            Some(path) => Some(Arc::new(Credentials::load(path)?)),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads())
            .thread_name("crowndb-worker")
            .enable_all()
            .build()
            .map_err(|source| ServerError::Io { context: "starting the network runtime", source })?;

        let db = open_store(&config)?;
        let redis_auth = if config.requirepass.is_some() { "password required" } else { "no password" };
        let client_certs = if config.tls_client_ca_file.is_some() { " (client certificates required)" } else { "" };
        // The address ends the memcached lines, which scripts read ("... listening on HOST:PORT").
        let memcached_login = match (&memcached_auth, &config.auth_file) {
            (Some(users), Some(path)) => {
                let plural = if users.len() == 1 { "" } else { "s" };
                format!(" (login required: {} user{plural} in {})", users.len(), path.display())
            }
            _ => String::new(),
        };
        let memcached = bind(&runtime, addr, &format!("memcached protocol{memcached_login}"), "")?;
        let memcached_tls = bind(&runtime, memcached_tls, &format!("memcached protocol over TLS{memcached_login}{client_certs}"), "")?;
        let redis_listener = bind(&runtime, redis, "Redis protocol", &format!(" ({redis_auth})"))?;
        let redis_tls = bind(&runtime, redis_tls, "Redis protocol over TLS", &format!(" ({redis_auth}){client_certs}"))?;
        let memcached_addr = memcached.as_ref().map(|(_, a)| *a);
        let memcached_tls_addr = memcached_tls.as_ref().map(|(_, a)| *a);
        let redis_addr = redis_listener.as_ref().map(|(_, a)| *a);
        let redis_tls_addr = redis_tls.as_ref().map(|(_, a)| *a);
        let tls_listener = |bound: Option<(TcpListener, SocketAddr)>| bound.zip(tls.clone()).map(|((l, _), acceptor)| (l, acceptor));

        let (shutdown, shutdown_rx) = watch::channel(false);
        let shutdown = Arc::new(shutdown);
        let listeners = Listeners {
            memcached: memcached.map(|(l, _)| l),
            memcached_tls: tls_listener(memcached_tls),
            redis: redis_listener.map(|(l, _)| l),
            redis_tls: tls_listener(redis_tls),
            redis_port: redis_addr.map_or(0, |a| a.port()),
            memcached_auth,
        };
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
        Ok(Server {
            memcached_addr,
            redis_addr,
            memcached_tls_addr,
            redis_tls_addr,
            shutdown,
            runtime: handle,
            stopped,
            thread: Some(thread),
        })
    }

    /// The address the memcached protocol listens on (with the real port if 0 was asked for).
    pub fn memcached_addr(&self) -> Option<SocketAddr> {
        self.memcached_addr
    }

    /// The address the Redis protocol listens on (with the real port if 0 was asked for).
    pub fn redis_addr(&self) -> Option<SocketAddr> {
        self.redis_addr
    }

    /// The address the memcached protocol listens on over TLS, if it does.
    pub fn memcached_tls_addr(&self) -> Option<SocketAddr> {
        self.memcached_tls_addr
    }

    /// The address the Redis protocol listens on over TLS, if it does.
    pub fn redis_tls_addr(&self) -> Option<SocketAddr> {
        self.redis_tls_addr
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
            Some(thread) => thread.join().unwrap_or_else(|payload| Err(ServerError::panicked(payload))),
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

/// Binds one listener (on the calling thread, so that the error comes back from `start`) and
/// logs "`what` listening on `address``detail`".
fn bind(
    runtime: &tokio::runtime::Runtime,
    addr: Option<SocketAddr>,
    what: &str,
    detail: &str,
) -> Result<Option<(TcpListener, SocketAddr)>, ServerError> {
    let Some(addr) = addr else { return Ok(None) };
    let listener = runtime.block_on(TcpListener::bind(addr)).map_err(|source| ServerError::Bind { addr: addr.to_string(), source })?;
    let local = listener.local_addr().map_err(|source| ServerError::Io { context: "reading the listen address", source })?;
    tracing::info!("{what} listening on {local}{detail}");
    Ok(Some((listener, local)))
}

/// The bound listeners; a TLS one comes with its acceptor.
struct Listeners {
    memcached: Option<TcpListener>,
    memcached_tls: Option<(TcpListener, TlsAcceptor)>,
    redis: Option<TcpListener>,
    redis_tls: Option<(TcpListener, TlsAcceptor)>,
    /// The users of the memcached auth file, if clients must log in.
    memcached_auth: Option<Arc<Credentials>>,
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
    memcached_auth: Option<Arc<Credentials>>,
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
    stats.client_memory.set_limit(config.max_client_memory);
    let redis = Arc::new(RedisShared::new(db.clone(), stats.clone(), config.clone(), listeners.redis_port, trigger));
    let accept = Arc::new(Accept {
        db: db.clone(),
        config: config.clone(),
        stats,
        permits: Arc::new(Semaphore::new(config.max_connections)),
        flusher: Arc::new(Flusher::default()),
        redis,
        memcached_auth: listeners.memcached_auth.clone(),
    });
    // Every connection task holds a clone of `done`; `finished` yields None once all are gone.
    let (done, mut finished) = mpsc::channel::<()>(1);

    let plain = |listener: Option<TcpListener>| listener.map(|l| (l, None));
    let tls = |listener: Option<(TcpListener, TlsAcceptor)>| listener.map(|(l, acceptor)| (l, Some(acceptor)));
    let memcached = accept_loop(plain(listeners.memcached), Protocol::Memcached, accept.clone(), shutdown.clone(), done.clone());
    let memcached_tls = accept_loop(tls(listeners.memcached_tls), Protocol::Memcached, accept.clone(), shutdown.clone(), done.clone());
    let redis = accept_loop(plain(listeners.redis), Protocol::Redis, accept.clone(), shutdown.clone(), done.clone());
    let redis_tls = accept_loop(tls(listeners.redis_tls), Protocol::Redis, accept.clone(), shutdown.clone(), done.clone());
    tokio::join!(memcached, memcached_tls, redis, redis_tls);

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

/// Accepts connections of one protocol until shutdown (returns at once with no listener). With
/// an acceptor, each connection first completes a TLS handshake, in its own task, so a slow or
/// broken client never holds up the accept loop.
async fn accept_loop(
    listener: Option<(TcpListener, Option<TlsAcceptor>)>,
    protocol: Protocol,
    accept: Arc<Accept>,
    mut shutdown: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
) {
    let Some((listener, tls)) = listener else { return };
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
            // A TLS client could not read a plaintext reason: it is just closed.
            if tls.is_none() {
                tokio::spawn(refuse(stream, message));
            }
            continue;
        };
        if protocol == Protocol::Redis {
            incr(&accept.redis.counters.total_connections_received);
        }
        let _ = stream.set_nodelay(true);
        let keepalive = socket2::TcpKeepalive::new().with_time(KEEPALIVE_IDLE).with_interval(KEEPALIVE_INTERVAL).with_retries(3);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        let (stats, mut shutdown, done) = (stats.clone(), shutdown.clone(), done.clone());
        incr(&stats.curr_connections);
        incr(&stats.total_connections);
        let (accept, tls) = (accept.clone(), tls.clone());
        tokio::spawn(async move {
            let stream = match &tls {
                None => Some(Stream::Plain(stream)),
                Some(acceptor) => tls::handshake(acceptor, stream, peer, &mut shutdown).await,
            };
            if let Some(stream) = stream {
                serve_connection(stream, peer, protocol, &accept, shutdown).await;
            }
            stats.curr_connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            drop(permit);
            drop(done);
        });
    }
}

/// Serves one connection of `protocol` until it ends.
async fn serve_connection(stream: Stream, peer: SocketAddr, protocol: Protocol, accept: &Accept, shutdown: watch::Receiver<bool>) {
    match protocol {
        Protocol::Memcached => {
            let auth = accept.memcached_auth.clone();
            let handler = Handler::new(accept.db.clone(), accept.stats.clone(), accept.config.clone(), accept.flusher.clone(), auth);
            let connection = Connection::new(stream, handler, accept.config.limits(), accept.config.idle_timeout);
            if let Err(e) = connection.run(shutdown).await {
                tracing::debug!("connection from {peer}: {e}");
            }
        }
        Protocol::Redis => {
            let connection = RedisConnection::new(stream, peer, accept.redis.clone());
            if let Err(e) = connection.run(shutdown).await {
                tracing::debug!("Redis connection from {peer}: {e}");
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
