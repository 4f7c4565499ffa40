//! Applies a parsed [`Command`] to the store and writes its reply: the classic text commands
//! here, the meta commands in `meta.rs`.
//!
//! Every conditional or read-modify-write command (add, replace, cas, append, prepend, incr,
//! decr, touch, gat, and their meta forms) goes through [`Db::update`], which decides under the
//! store's writer lock: two clients racing on one key can never both win a `cas` or lose an
//! `incr`.
//!
//! Durability: with `Durability::Always`, the writes of one batch of pipelined requests are
//! appended without waiting and the connection calls [`Handler::finish_batch`] before it sends
//! the replies, so one `fdatasync` covers the whole batch and nothing is acknowledged before it
//! is on disk. With the other settings each write uses the store's default.
//!
//! REQUIRES: a multi-threaded tokio runtime when durability is `Always` (the sync blocks, inside
//! `block_in_place`).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use crowndb::{Db, Durability, Entry, Update, UpdateOutcome, WriteOptions};

use super::auth::{Credentials, Login};
use super::command::{expiry, ArithMode, Command, Expiry, Get, Store, StoreVerb, RELATIVE_EXPTIME_MAX};
use super::flush::Flusher;
use super::reply;
use crate::config::Config;
use crate::stats::{add, incr, ServerStats, MEMCACHED_VERSION};

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
    /// Durability `Always`: writes do not wait, `finish_batch` syncs once.
    sync_per_batch: bool,
    /// A write happened since the last `finish_batch`.
    dirty: bool,
    /// The auth file's users, when clients must log in (`auth_file`).
    auth: Option<Arc<Credentials>>,
    /// The client logged in, or no login is required.
    authenticated: bool,
}

/// The replies of the login, memcached's words (see `auth.rs`).
pub(super) const UNAUTHENTICATED: &[u8] = b"CLIENT_ERROR unauthenticated\r\n";
const AUTH_FAILURE: &[u8] = b"CLIENT_ERROR authentication failure\r\n";
const AUTH_BAD_FORMAT: &[u8] = b"CLIENT_ERROR bad authentication token format\r\n";

/// When a stored item expires, in store terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Deadline {
    Never,
    /// Unix milliseconds.
    At(u64),
    /// Already expired: storing it means removing the key.
    Expired,
}

impl Deadline {
    /// From a raw memcached exptime (see [`expiry`]). A relative exptime counts from now in
    /// milliseconds, so `set k 0 1 ...` lives one second, not "until the next whole second".
    pub(super) fn from_exptime(exptime: i64, now_ms: u64) -> Deadline {
        match expiry(exptime, now_ms / 1000) {
            Expiry::Never => Deadline::Never,
            Expiry::Expired => Deadline::Expired,
            Expiry::At(_) if exptime <= RELATIVE_EXPTIME_MAX => {
                Deadline::At(now_ms.saturating_add(exptime.unsigned_abs().saturating_mul(1000)))
            }
            Expiry::At(secs) => Deadline::At(secs.saturating_mul(1000)),
        }
    }

    /// The store's deadline for a live item (`Expired` has none: it is never stored).
    pub(super) fn expires_at_ms(self) -> Option<u64> {
        match self {
            Deadline::At(ms) => Some(ms),
            Deadline::Never | Deadline::Expired => None,
        }
    }
}

/// The current Unix time in milliseconds (the clock the store uses for expiry).
pub(super) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Seconds an entry has left, rounded up; -1 if it never expires.
pub(super) fn ttl_secs(entry: &Entry, now_ms: u64) -> i64 {
    match entry.expires_at_ms {
        None => -1,
        Some(at) => i64::try_from(at.saturating_sub(now_ms).div_ceil(1000)).unwrap_or(i64::MAX),
    }
}

/// How a storage command treats the current item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StoreMode {
    Set,
    /// Only if absent.
    Add,
    /// Only if present.
    Replace,
    /// Add to the end of the present value, keeping its flags and deadline.
    Append,
    /// Add to the front of the present value, keeping its flags and deadline.
    Prepend,
}

/// A storage request in store terms: classic and meta storage commands both become one.
pub(super) struct StoreRequest<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub mode: StoreMode,
    pub flags: u32,
    pub deadline: Deadline,
    /// Store only if the item's version is this (cas, meta `C`).
    pub compare_cas: Option<u64>,
    /// Append/prepend on a missing item creates it with this deadline (meta `N`).
    pub vivify: Option<Deadline>,
}

/// What a storage request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StoreResult {
    /// Stored; the new version (0 if the item was stored already expired, that is removed).
    Stored(u64),
    /// The mode's condition failed (`NOT_STORED`, meta `NS`).
    NotStored,
    /// The compare-cas did not match (`EXISTS`, meta `EX`).
    Exists,
    /// The compare-cas found no item (`NOT_FOUND`, meta `NF`).
    NotFound,
    /// Append/prepend would exceed the item size limit.
    TooLarge,
}

/// What an arithmetic request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ArithResult {
    /// The new value and its version.
    Done(u64, u64, Option<u64>),
    NotFound,
    /// The compare-cas did not match.
    Exists,
    NonNumeric,
}

/// Runs `f`, which may block on disk I/O, without stalling the other tasks of a tokio
/// worker thread (`block_in_place` on a multi-threaded runtime; directly elsewhere).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The reply to an engine failure: one line, no `\r` or `\n` from the message.
pub(super) fn engine_error(out: &mut BytesMut, err: &crowndb::Error) {
    tracing::warn!("store error: {err}");
    let message: String = err.to_string().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    reply::server_error(out, &message);
}

/// Parses a stored counter: decimal digits, optionally padded with trailing spaces (memcached
/// pads in place when a `decr` shortens a number).
fn parse_counter(value: &[u8]) -> Option<u64> {
    let end = value.iter().rposition(|&b| b != b' ')? + 1;
    let digits = &value[..end];
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl Handler {
    /// A handler for one connection; with `auth`, the client must log in first.
    pub fn new(db: Db, stats: Arc<ServerStats>, config: Arc<Config>, flusher: Arc<Flusher>, auth: Option<Arc<Credentials>>) -> Handler {
        let sync_per_batch = config.durability == Durability::Always;
        let authenticated = auth.is_none();
        Handler { db, stats, config, flusher, sync_per_batch, dirty: false, auth, authenticated }
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

    /// Options for one write. Marks the batch dirty when the sync is deferred to its end.
    pub(super) fn write_options(&mut self) -> WriteOptions {
        if self.sync_per_batch {
            self.dirty = true;
            WriteOptions { sync: Some(false), ..WriteOptions::default() }
        } else {
            WriteOptions::default()
        }
    }

    /// Makes the batch's writes durable before their replies are sent (durability `Always`).
    pub fn finish_batch(&mut self) -> crowndb::Result<()> {
        if !std::mem::take(&mut self.dirty) {
            return Ok(());
        }
        let db = &self.db;
        blocking(|| db.sync())
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
                let opts = self.write_options();
                let (db, flusher) = (&self.db, &self.flusher);
                let result = blocking(|| flusher.flush_all(db, delay, &opts));
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
            Command::Stats { args } => {
                let mut args = args.iter();
                match (args.next(), args.next()) {
                    (None, _) => self.stats.write_general(out, &self.db, &self.config),
                    (Some(b"settings"), None) => self.stats.write_settings(out, &self.config),
                    (Some(b"reset"), None) => {
                        self.stats.reset();
                        reply::reset(out);
                    }
                    // We have no slabs or LRU: these exist and are empty.
                    (Some(b"items" | b"slabs" | b"sizes" | b"conns"), None) => reply::end(out),
                    _ => reply::error(out),
                }
            }
            Command::MetaGet { key, flags } => self.meta_get(&key, &flags, out),
            Command::MetaSet { key, mode, value, flags } => self.meta_set(&key, mode, value, &flags, out),
            Command::MetaDelete { key, flags } => self.meta_delete(&key, &flags, out),
            Command::MetaArith { key, mode, flags } => self.meta_arith(&key, mode, &flags, out),
            Command::MetaDebug { key, base64 } => self.meta_debug(&key, base64, out),
            Command::MetaNoop => reply::meta_noop(out),
        }
        Flow::Continue
    }

    fn store(&mut self, s: Store<'_>, out: &mut BytesMut) {
        let counters = &self.stats.counters;
        incr(&counters.cmd_set);
        let (mode, compare_cas) = match s.verb {
            StoreVerb::Set => (StoreMode::Set, None),
            StoreVerb::Add => (StoreMode::Add, None),
            StoreVerb::Replace => (StoreMode::Replace, None),
            StoreVerb::Append => (StoreMode::Append, None),
            StoreVerb::Prepend => (StoreMode::Prepend, None),
            StoreVerb::Cas(unique) => (StoreMode::Set, Some(unique)),
        };
        let request = StoreRequest {
            key: s.key,
            value: s.value,
            mode,
            flags: s.flags,
            deadline: Deadline::from_exptime(s.exptime, now_ms()),
            compare_cas,
            vivify: None,
        };
        let result = self.store_item(&request);
        let counters = &self.stats.counters;
        if compare_cas.is_some() {
            match result {
                Ok(StoreResult::Stored(_)) => incr(&counters.cas_hits),
                Ok(StoreResult::Exists) => incr(&counters.cas_badval),
                Ok(StoreResult::NotFound) => incr(&counters.cas_misses),
                _ => {}
            }
        }
        if s.noreply {
            return;
        }
        match result {
            Ok(StoreResult::Stored(_)) => reply::stored(out),
            Ok(StoreResult::NotStored) => reply::not_stored(out),
            Ok(StoreResult::Exists) => reply::exists(out),
            Ok(StoreResult::NotFound) => reply::not_found(out),
            Ok(StoreResult::TooLarge) => reply::server_error(out, "out of memory storing object"),
            Err(e) => engine_error(out, &e),
        }
    }

    /// Carries out a storage request, atomically with respect to other writes of the key.
    pub(super) fn store_item(&mut self, r: &StoreRequest<'_>) -> crowndb::Result<StoreResult> {
        let opts = self.write_options();
        if r.mode == StoreMode::Set && r.compare_cas.is_none() {
            // The common case: no condition, so no read.
            return match r.deadline {
                Deadline::Expired => self.db.delete_opt(r.key, &opts).map(|_| StoreResult::Stored(0)),
                deadline => {
                    let opts = WriteOptions { flags: r.flags, expires_at_ms: deadline.expires_at_ms(), ..opts };
                    self.db.put_opt(r.key, r.value, &opts).map(StoreResult::Stored)
                }
            };
        }
        let max_item_size = self.config.max_item_size;
        let mut result = StoreResult::NotStored;
        let outcome = self.db.update(r.key, &opts, |current| {
            match (r.compare_cas, current) {
                (Some(_), None) => {
                    result = StoreResult::NotFound;
                    return Update::Keep;
                }
                (Some(cas), Some(e)) if e.version != cas => {
                    result = StoreResult::Exists;
                    return Update::Keep;
                }
                _ => {}
            }
            let (value, flags, deadline) = match (r.mode, current) {
                (StoreMode::Set, _) | (StoreMode::Add, None) | (StoreMode::Replace, Some(_)) => (r.value.to_vec(), r.flags, r.deadline),
                (StoreMode::Add, Some(_)) | (StoreMode::Replace, None) => return Update::Keep,
                (StoreMode::Append | StoreMode::Prepend, None) => match r.vivify {
                    Some(deadline) => (r.value.to_vec(), r.flags, deadline),
                    None => return Update::Keep,
                },
                (StoreMode::Append | StoreMode::Prepend, Some(e)) => {
                    if e.value.len() + r.value.len() > max_item_size {
                        result = StoreResult::TooLarge;
                        return Update::Keep;
                    }
                    let mut value = Vec::with_capacity(e.value.len() + r.value.len());
                    let (first, second) = if r.mode == StoreMode::Append { (&e.value[..], r.value) } else { (r.value, &e.value[..]) };
                    value.extend_from_slice(first);
                    value.extend_from_slice(second);
                    let deadline = e.expires_at_ms.map_or(Deadline::Never, Deadline::At);
                    (value, e.flags, deadline)
                }
            };
            result = StoreResult::Stored(0);
            match deadline {
                Deadline::Expired if current.is_some() => Update::Delete,
                Deadline::Expired => Update::Keep,
                deadline => Update::Put { value, flags, expires_at_ms: deadline.expires_at_ms() },
            }
        })?;
        if let (StoreResult::Stored(_), UpdateOutcome::Stored(version)) = (result, outcome) {
            result = StoreResult::Stored(version);
        }
        Ok(result)
    }

    /// Reads an item, or reads and gives it a new deadline (`gat`, meta `T`): the entry as it
    /// is afterwards, with its new version.
    pub(super) fn fetch(&mut self, key: &[u8], touch: Option<Deadline>) -> crowndb::Result<Option<Entry>> {
        let Some(deadline) = touch else { return self.db.get_entry(key) };
        let opts = self.write_options();
        let mut found = None;
        let outcome = self.db.update(key, &opts, |current| {
            let Some(e) = current else { return Update::Keep };
            found = Some(e.clone());
            match deadline {
                Deadline::Expired => Update::Delete,
                deadline => Update::Put { value: e.value.clone(), flags: e.flags, expires_at_ms: deadline.expires_at_ms() },
            }
        })?;
        if let (Some(entry), UpdateOutcome::Stored(version)) = (&mut found, outcome) {
            entry.version = version;
            entry.expires_at_ms = deadline.expires_at_ms();
        }
        Ok(found)
    }

    fn get(&mut self, g: Get<'_>, out: &mut BytesMut) {
        let touch = g.touch.map(|exptime| Deadline::from_exptime(exptime, now_ms()));
        let start = out.len();
        let mut value_bytes = 0;
        for key in g.keys.iter() {
            let counters = &self.stats.counters;
            incr(&counters.cmd_get);
            if touch.is_some() {
                incr(&counters.cmd_touch);
            }
            match self.fetch(key, touch) {
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

    fn delete(&mut self, key: &[u8], noreply: bool, out: &mut BytesMut) {
        let opts = self.write_options();
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

    fn touch(&mut self, key: &[u8], exptime: i64, noreply: bool, out: &mut BytesMut) {
        incr(&self.stats.counters.cmd_touch);
        let result = self.fetch(key, Some(Deadline::from_exptime(exptime, now_ms())));
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

    /// Increments or decrements a decimal counter. `vivify` creates a missing one with an
    /// initial value and deadline (meta `N`, `J`); `touch` gives it a new deadline (meta `T`).
    pub(super) fn arith_item(
        &mut self,
        key: &[u8],
        mode: ArithMode,
        delta: u64,
        compare_cas: Option<u64>,
        vivify: Option<(u64, Deadline)>,
        touch: Option<Deadline>,
    ) -> crowndb::Result<ArithResult> {
        let opts = self.write_options();
        let mut result = ArithResult::NotFound;
        let outcome = self.db.update(key, &opts, |current| {
            let (n, flags, deadline) = match current {
                None => match (compare_cas, vivify) {
                    (None, Some((initial, deadline))) => (initial, 0, deadline),
                    _ => return Update::Keep,
                },
                Some(e) => {
                    if compare_cas.is_some_and(|cas| cas != e.version) {
                        result = ArithResult::Exists;
                        return Update::Keep;
                    }
                    let Some(n) = parse_counter(&e.value) else {
                        result = ArithResult::NonNumeric;
                        return Update::Keep;
                    };
                    let n = match mode {
                        ArithMode::Incr => n.wrapping_add(delta),
                        ArithMode::Decr => n.saturating_sub(delta),
                    };
                    (n, e.flags, touch.unwrap_or(e.expires_at_ms.map_or(Deadline::Never, Deadline::At)))
                }
            };
            let expires_at_ms = deadline.expires_at_ms();
            result = ArithResult::Done(n, 0, expires_at_ms);
            match deadline {
                Deadline::Expired if current.is_some() => Update::Delete,
                Deadline::Expired => Update::Keep,
                _ => Update::Put { value: n.to_string().into_bytes(), flags, expires_at_ms },
            }
        })?;
        if let (ArithResult::Done(n, _, at), UpdateOutcome::Stored(version)) = (result, outcome) {
            result = ArithResult::Done(n, version, at);
        }
        Ok(result)
    }

    fn arith(&mut self, mode: ArithMode, key: &[u8], delta: u64, noreply: bool, out: &mut BytesMut) {
        let result = self.arith_item(key, mode, delta, None, None, None);
        let counters = &self.stats.counters;
        let (hits, misses) = match mode {
            ArithMode::Incr => (&counters.incr_hits, &counters.incr_misses),
            ArithMode::Decr => (&counters.decr_hits, &counters.decr_misses),
        };
        match result {
            Ok(ArithResult::Done(..)) => incr(hits),
            Ok(ArithResult::NotFound) => incr(misses),
            _ => {}
        }
        if noreply {
            return;
        }
        match result {
            Ok(ArithResult::Done(n, ..)) => reply::number(out, n),
            Ok(ArithResult::NotFound | ArithResult::Exists) => reply::not_found(out),
            Ok(ArithResult::NonNumeric) => reply::client_error(out, "cannot increment or decrement non-numeric value"),
            Err(e) => engine_error(out, &e),
        }
    }

    /// Counts bytes received, for `stats`.
    pub fn count_read(&self, n: usize) {
        add(&self.stats.counters.bytes_read, n as u64);
    }

    /// Counts bytes sent, for `stats`.
    pub fn count_written(&self, n: usize) {
        add(&self.stats.counters.bytes_written, n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_parse_like_memcached() {
        assert_eq!(parse_counter(b"0"), Some(0));
        assert_eq!(parse_counter(b"42  "), Some(42));
        assert_eq!(parse_counter(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_counter(b"18446744073709551616"), None);
        assert_eq!(parse_counter(b""), None);
        assert_eq!(parse_counter(b"  "), None);
        assert_eq!(parse_counter(b"-1"), None);
        assert_eq!(parse_counter(b"1a"), None);
    }

    #[test]
    fn deadlines_follow_memcached_rules() {
        let now = 1_700_000_000_500;
        assert_eq!(Deadline::from_exptime(0, now), Deadline::Never);
        assert_eq!(Deadline::from_exptime(-1, now), Deadline::Expired);
        assert_eq!(Deadline::from_exptime(10, now), Deadline::At(now + 10_000));
        assert_eq!(Deadline::from_exptime(1_700_000_100, now), Deadline::At(1_700_000_100_000));
        assert_eq!(Deadline::from_exptime(1_600_000_000, now), Deadline::Expired);
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
