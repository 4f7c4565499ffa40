//! The memcached command layer: a parsed [`Command`] applied to the store, its reply written.
//! One file per command group:
//!
//! - `mod.rs`: [`Handler`] (one connection's state), the login, and the dispatch of
//!   [`Handler::apply`]; `version`, `verbosity`, `quit`, `flush_all`, `mn`.
//! - `storage.rs`: `set`, `add`, `replace`, `append`, `prepend`, `cas`.
//! - `retrieval.rs`: `get`, `gets`, `gat`, `gats`, `touch`, `delete`.
//! - `arith.rs`: `incr`, `decr`.
//! - `meta.rs`: the meta commands `mg`, `ms`, `md`, `ma`, `me`.
//! - `stats.rs`: `stats` and its subcommands.
//!
//! Every conditional or read-modify-write command goes through `Db::update`, which decides
//! under the store's writer lock: two clients racing on one key can never both win a `cas` or
//! lose an `incr`. Deadline changes are the store layer's `Db::touch`. Durability is the store
//! layer's [`Writes`]: with `always`, one sync per batch of requests, in
//! [`Handler::finish_batch`], before the replies are sent.
//!
//! REQUIRES: a multi-threaded tokio runtime when durability is `Always` (the sync blocks, inside
//! `block_in_place`).

mod arith;
mod meta;
mod retrieval;
mod stats;
mod storage;

use std::sync::Arc;

use bytes::BytesMut;
use crowndb::{Db, Entry};

use super::auth::{Credentials, Login};
use super::command::{expiry, Command, Expiry, Store, StoreVerb, RELATIVE_EXPTIME_MAX};
use super::reply;
use crate::config::Config;
use crate::stats::{incr, ServerStats};
use crate::store::{blocking, now_ms, Deadline, Flusher, Writes};

pub use stats::MEMCACHED_VERSION;

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on reading requests.
    Continue,
    /// Send what is buffered and close (`quit`).
    Close,
}

/// The per-connection state of the command layer: the store, the shared counters, the settings.
pub struct Handler {
    pub(super) db: Db,
    pub(super) stats: Arc<ServerStats>,
    pub(super) config: Arc<Config>,
    flusher: Arc<Flusher>,
    /// The write options, and the sync the batch owes.
    writes: Writes,
    /// The auth file's users, when clients must log in (`auth_file`).
    auth: Option<Arc<Credentials>>,
    /// The client logged in, or no login is required.
    authenticated: bool,
}

/// The replies of the login, memcached's words (see `auth.rs`).
pub(crate) const UNAUTHENTICATED: &[u8] = b"CLIENT_ERROR unauthenticated\r\n";
const AUTH_FAILURE: &[u8] = b"CLIENT_ERROR authentication failure\r\n";
const AUTH_BAD_FORMAT: &[u8] = b"CLIENT_ERROR bad authentication token format\r\n";

/// The store deadline of a raw memcached exptime (see [`expiry`]). A relative exptime counts
/// from now in milliseconds, so `set k 0 1 ...` lives one second, not "until the next whole
/// second".
pub(super) fn deadline(exptime: i64, now_ms: u64) -> Deadline {
    match expiry(exptime, now_ms / 1000) {
        Expiry::Never => Deadline::Never,
        Expiry::Expired => Deadline::Expired,
        Expiry::At(_) if exptime <= RELATIVE_EXPTIME_MAX => {
            Deadline::At(now_ms.saturating_add(exptime.unsigned_abs().saturating_mul(1000)))
        }
        Expiry::At(secs) => Deadline::At(secs.saturating_mul(1000)),
    }
}

/// Seconds an entry has left, rounded up; -1 if it never expires.
pub(super) fn ttl_secs(entry: &Entry, now_ms: u64) -> i64 {
    match entry.expires_at_ms {
        None => -1,
        Some(at) => i64::try_from(at.saturating_sub(now_ms).div_ceil(1000)).unwrap_or(i64::MAX),
    }
}

/// The reply to an engine failure: one line, no `\r` or `\n` from the message.
pub(crate) fn engine_error(out: &mut BytesMut, err: &crowndb::Error) {
    if matches!(err, crowndb::Error::WrongType) {
        // A hash or set written over the Redis protocol: never read or rewritten as an item.
        reply::server_error(out, "key holds a Redis hash or set; use the Redis protocol for it");
        return;
    }
    tracing::warn!("store error: {err}");
    let message: String = err.to_string().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    reply::server_error(out, &message);
}

impl Handler {
    /// A handler for one connection; with `auth`, the client must log in first.
    pub fn new(db: Db, stats: Arc<ServerStats>, config: Arc<Config>, flusher: Arc<Flusher>, auth: Option<Arc<Credentials>>) -> Handler {
        let writes = Writes::new(config.durability);
        let authenticated = auth.is_none();
        Handler { db, stats, config, flusher, writes, auth, authenticated }
    }

    /// Whether the client may send commands (logged in, or no login required).
    pub fn authenticated(&self) -> bool {
        self.authenticated
    }

    /// Before login: a `set` carrying `<username> <password>` logs in (nothing is stored, and
    /// the reply comes even with `noreply`, as in memcached); `quit` closes; anything else is
    /// refused.
    fn login(&mut self, command: Command<'_>, out: &mut BytesMut) -> Flow {
        match command {
            Command::Store(Store { verb: StoreVerb::Set, value, .. }) => {
                let login = self.auth.as_ref().map_or(Login::Accepted, |auth| auth.check(value));
                // memcached's `stats`: every login attempt, and the failed ones.
                incr(&self.stats.counters.auth_cmds);
                if login != Login::Accepted {
                    incr(&self.stats.counters.auth_errors);
                }
                match login {
                    Login::Accepted => {
                        self.authenticated = true;
                        reply::stored(out);
                    }
                    Login::Refused => {
                        // Neither the username nor the password goes to the log.
                        tracing::debug!("a memcached client failed to log in");
                        out.extend_from_slice(AUTH_FAILURE);
                    }
                    Login::BadFormat => out.extend_from_slice(AUTH_BAD_FORMAT),
                }
            }
            Command::Quit => return Flow::Close,
            _ => out.extend_from_slice(UNAUTHENTICATED),
        }
        Flow::Continue
    }

    /// Makes the batch's writes durable before their replies are sent (durability `Always`).
    pub fn finish_batch(&mut self) -> crowndb::Result<()> {
        self.writes.finish(&self.db)
    }

    /// Applies one command and appends its reply (if any) to `out`.
    pub fn apply(&mut self, command: Command<'_>, out: &mut BytesMut) -> Flow {
        if !self.authenticated {
            return self.login(command, out);
        }
        match command {
            Command::Store(store) => self.store(store, out),
            Command::Get(get) => self.get(get, out),
            Command::Delete { key, noreply } => self.delete(key, noreply, out),
            Command::Arith { mode, key, delta, noreply } => self.arith(mode, key, delta, noreply, out),
            Command::Touch { key, exptime, noreply } => self.touch(key, exptime, noreply, out),
            Command::FlushAll { delay, noreply } => {
                incr(&self.stats.counters.cmd_flush);
                let opts = self.writes.options();
                let (db, flusher) = (&self.db, &self.flusher);
                let when = delay.map(|delay| deadline(delay, now_ms()));
                let result = blocking(|| flusher.flush_at(db, when, &opts));
                if !noreply {
                    match result {
                        Ok(_) => reply::ok(out),
                        Err(e) => engine_error(out, &e),
                    }
                }
            }
            Command::Version => reply::version(out, MEMCACHED_VERSION),
            Command::Verbosity { noreply, .. } => {
                if !noreply {
                    reply::ok(out);
                }
            }
            Command::Quit => return Flow::Close,
            Command::Stats { args } => self.stats(&args, out),
            Command::MetaGet { key, flags } => self.meta_get(&key, &flags, out),
            Command::MetaSet { key, mode, value, flags } => self.meta_set(&key, mode, value, &flags, out),
            Command::MetaDelete { key, flags } => self.meta_delete(&key, &flags, out),
            Command::MetaArith { key, mode, flags } => self.meta_arith(&key, mode, &flags, out),
            Command::MetaDebug { key, base64 } => self.meta_debug(&key, base64, out),
            Command::MetaNoop => reply::meta_noop(out),
        }
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_memcached_rules() {
        let now = 1_700_000_000_500;
        assert_eq!(deadline(0, now), Deadline::Never);
        assert_eq!(deadline(-1, now), Deadline::Expired);
        assert_eq!(deadline(10, now), Deadline::At(now + 10_000));
        assert_eq!(deadline(1_700_000_100, now), Deadline::At(1_700_000_100_000));
        assert_eq!(deadline(1_600_000_000, now), Deadline::Expired);
    }

    #[test]
    fn ttl_rounds_up() {
        let entry = |at| Entry { value: vec![], version: 1, flags: 0, expires_at_ms: at };
        assert_eq!(ttl_secs(&entry(None), 1000), -1);
        assert_eq!(ttl_secs(&entry(Some(2001)), 1000), 2);
        assert_eq!(ttl_secs(&entry(Some(2000)), 1000), 1);
        assert_eq!(ttl_secs(&entry(Some(500)), 1000), 0);
    }
}
