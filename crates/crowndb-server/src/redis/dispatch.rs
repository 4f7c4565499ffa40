//! The command table and the dispatcher.
//!
//! A request is checked in Redis 7's order (`processCommand`): an unknown command gets
//! `unknown command`, a wrong argument count gets `wrong number of arguments`, a client that
//! must authenticate gets `NOAUTH` (except for AUTH, HELLO, QUIT and RESET), and then the
//! command runs. Names are matched without regard to case.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use crowndb::{Db, Txn, WriteOptions};

use super::client::Client;
use super::cmd::{command, connection, expire, hash, keyspace, object, server, set, strings, transaction};
use super::reply::{self, Reply};
use super::shared::Shared;
use crate::resp::Frame;
use crate::stats::incr;
use crate::store::Writes;

/// A command's function: the request's arguments (name first) to a reply.
pub type Run = fn(&mut Ctx, &[Bytes]) -> Reply;

/// One row of the command table, with what COMMAND INFO and COMMAND DOCS report.
pub struct Spec {
    /// Lower case, as Redis names commands.
    pub name: &'static str,
    /// Argument count including the name; negative: at least that many.
    pub arity: i32,
    pub flags: &'static [&'static str],
    /// First key, last key (-1: the last argument), step; 0, 0, 0 when there are no keys.
    pub keys: (i32, i32, i32),
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub run: Run,
}

impl Spec {
    fn allowed_without_auth(&self) -> bool {
        self.flags.contains(&"no_auth")
    }
}

const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "denyoom", "fast"];
const D: &[&str] = &["write", "fast"];
const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const C: &[&str] = &["fast", "loading", "stale"];
const NA: &[&str] = &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"];
const A: &[&str] = &["admin", "noscript", "loading", "stale"];

macro_rules! spec {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $group:literal, $since:literal, $summary:literal, $run:expr) => {
        Spec { name: $name, arity: $arity, flags: $flags, keys: $keys, group: $group, since: $since, summary: $summary, run: $run }
    };
}

const NOKEY: (i32, i32, i32) = (0, 0, 0);
const KEY1: (i32, i32, i32) = (1, 1, 1);
const KEYS: (i32, i32, i32) = (1, -1, 1);
const KEY12: (i32, i32, i32) = (1, 2, 1);

/// Every command the server knows.
pub static COMMANDS: &[Spec] = &[
    // connection
    spec!("ping", -1, C, NOKEY, "connection", "1.0.0", "Returns the server's liveliness response.", connection::ping),
    spec!("echo", 2, C, NOKEY, "connection", "1.0.0", "Returns the given string.", connection::echo),
    spec!("quit", -1, NA, NOKEY, "connection", "1.0.0", "Closes the connection.", connection::quit),
    spec!("hello", -1, NA, NOKEY, "connection", "6.0.0", "Handshakes with the Redis server.", connection::hello),
    spec!("auth", -2, NA, NOKEY, "connection", "1.0.0", "Authenticates the connection.", connection::auth),
    spec!("select", 2, C, NOKEY, "connection", "2.0.0", "Changes the selected database.", connection::select),
    spec!("client", -2, &["sentinel"], NOKEY, "connection", "2.4.0", "A container for client connection commands.", connection::client),
    spec!("reset", 1, NA, NOKEY, "connection", "6.2.0", "Resets the connection.", connection::reset),
    // transactions
    spec!(
        "multi",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        NOKEY,
        "transactions",
        "1.2.0",
        "Starts a transaction.",
        transaction::multi
    ),
    spec!(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        NOKEY,
        "transactions",
        "1.2.0",
        "Executes all commands in a transaction.",
        transaction::exec
    ),
    spec!(
        "discard",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        NOKEY,
        "transactions",
        "2.0.0",
        "Discards a transaction.",
        transaction::discard
    ),
    spec!(
        "watch",
        -2,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        KEYS,
        "transactions",
        "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
        transaction::watch
    ),
    spec!(
        "unwatch",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        NOKEY,
        "transactions",
        "2.2.0",
        "Forgets about watched keys of a transaction.",
        transaction::unwatch
    ),
    // strings
    spec!("get", 2, RF, KEY1, "string", "1.0.0", "Returns the string value of a key.", strings::get),
    spec!(
        "set",
        -3,
        W,
        KEY1,
        "string",
        "1.0.0",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        strings::set
    ),
    spec!("setnx", 3, WF, KEY1, "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", strings::setnx),
    spec!(
        "setex",
        4,
        W,
        KEY1,
        "string",
        "2.0.0",
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
        strings::setex
    ),
    spec!(
        "psetex",
        4,
        W,
        KEY1,
        "string",
        "2.6.0",
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
        strings::psetex
    ),
    spec!(
        "getset",
        3,
        WF,
        KEY1,
        "string",
        "1.0.0",
        "Returns the previous string value of a key after setting it to a new value.",
        strings::getset
    ),
    spec!("getdel", 2, D, KEY1, "string", "6.2.0", "Returns the string value of a key after deleting the key.", strings::getdel),
    spec!("getex", -2, D, KEY1, "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", strings::getex),
    spec!("mget", -2, RF, KEYS, "string", "1.0.0", "Atomically returns the string values of one or more keys.", strings::mget),
    spec!(
        "mset",
        -3,
        W,
        (1, -1, 2),
        "string",
        "1.0.1",
        "Atomically creates or modifies the string values of one or more keys.",
        strings::mset
    ),
    spec!(
        "msetnx",
        -3,
        W,
        (1, -1, 2),
        "string",
        "1.0.1",
        "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        strings::msetnx
    ),
    spec!(
        "append",
        3,
        WF,
        KEY1,
        "string",
        "2.0.0",
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        strings::append
    ),
    spec!("strlen", 2, RF, KEY1, "string", "2.2.0", "Returns the length of a string value.", strings::strlen),
    spec!("getrange", 4, R, KEY1, "string", "2.4.0", "Returns a substring of the string stored at a key.", strings::getrange),
    spec!(
        "setrange",
        4,
        W,
        KEY1,
        "string",
        "2.2.0",
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        strings::setrange
    ),
    spec!(
        "incr",
        2,
        WF,
        KEY1,
        "string",
        "1.0.0",
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        strings::incr
    ),
    spec!(
        "decr",
        2,
        WF,
        KEY1,
        "string",
        "1.0.0",
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        strings::decr
    ),
    spec!(
        "incrby",
        3,
        WF,
        KEY1,
        "string",
        "1.0.0",
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        strings::incrby
    ),
    spec!(
        "decrby",
        3,
        WF,
        KEY1,
        "string",
        "1.0.0",
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        strings::decrby
    ),
    spec!(
        "incrbyfloat",
        3,
        WF,
        KEY1,
        "string",
        "2.6.0",
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        strings::incrbyfloat
    ),
    // hashes
    spec!("hset", -4, WF, KEY1, "hash", "2.0.0", "Creates or modifies the value of a field in a hash.", hash::hset),
    spec!("hsetnx", 4, WF, KEY1, "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", hash::hsetnx),
    spec!("hmset", -4, WF, KEY1, "hash", "2.0.0", "Sets the values of multiple fields.", hash::hmset),
    spec!("hget", 3, RF, KEY1, "hash", "2.0.0", "Returns the value of a field in a hash.", hash::hget),
    spec!("hmget", -3, RF, KEY1, "hash", "2.0.0", "Returns the values of all fields in a hash.", hash::hmget),
    spec!("hgetall", 2, R, KEY1, "hash", "2.0.0", "Returns all fields and values in a hash.", hash::hgetall),
    spec!("hkeys", 2, R, KEY1, "hash", "2.0.0", "Returns all fields in a hash.", hash::hkeys),
    spec!("hvals", 2, R, KEY1, "hash", "2.0.0", "Returns all values in a hash.", hash::hvals),
    spec!("hlen", 2, RF, KEY1, "hash", "2.0.0", "Returns the number of fields in a hash.", hash::hlen),
    spec!("hstrlen", 3, RF, KEY1, "hash", "3.2.0", "Returns the length of the value of a field.", hash::hstrlen),
    spec!("hexists", 3, RF, KEY1, "hash", "2.0.0", "Determines whether a field exists in a hash.", hash::hexists),
    spec!(
        "hdel",
        -3,
        D,
        KEY1,
        "hash",
        "2.0.0",
        "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
        hash::hdel
    ),
    spec!(
        "hincrby",
        4,
        WF,
        KEY1,
        "hash",
        "2.0.0",
        "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
        hash::hincrby
    ),
    spec!(
        "hincrbyfloat",
        4,
        WF,
        KEY1,
        "hash",
        "2.6.0",
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
        hash::hincrbyfloat
    ),
    spec!("hrandfield", -2, R, KEY1, "hash", "6.2.0", "Returns one or more random fields from a hash.", hash::hrandfield),
    spec!("hscan", -3, R, KEY1, "hash", "2.8.0", "Iterates over fields and values of a hash.", hash::hscan),
    // sets
    spec!("sadd", -3, WF, KEY1, "set", "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", set::sadd),
    spec!(
        "srem",
        -3,
        D,
        KEY1,
        "set",
        "1.0.0",
        "Removes one or more members from a set. Deletes the set if the last member was removed.",
        set::srem
    ),
    spec!("sismember", 3, RF, KEY1, "set", "1.0.0", "Determines whether a member belongs to a set.", set::sismember),
    spec!("smismember", -3, RF, KEY1, "set", "6.2.0", "Determines whether multiple members belong to a set.", set::smismember),
    spec!("scard", 2, RF, KEY1, "set", "1.0.0", "Returns the number of members in a set.", set::scard),
    spec!("smembers", 2, R, KEY1, "set", "1.0.0", "Returns all members of a set.", set::smembers),
    spec!("srandmember", -2, R, KEY1, "set", "1.0.0", "Get one or multiple random members from a set", set::srandmember),
    spec!(
        "spop",
        -2,
        D,
        KEY1,
        "set",
        "1.0.0",
        "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
        set::spop
    ),
    spec!("smove", 4, D, KEY12, "set", "1.0.0", "Moves a member from one set to another.", set::smove),
    spec!("sinter", -2, R, KEYS, "set", "1.0.0", "Returns the intersect of multiple sets.", set::sinter),
    spec!(
        "sintercard",
        -3,
        R,
        (0, 0, 0),
        "set",
        "7.0.0",
        "Returns the number of members of the intersect of multiple sets.",
        set::sintercard
    ),
    spec!("sunion", -2, R, KEYS, "set", "1.0.0", "Returns the union of multiple sets.", set::sunion),
    spec!("sdiff", -2, R, KEYS, "set", "1.0.0", "Returns the difference of multiple sets.", set::sdiff),
    spec!("sinterstore", -3, W, KEYS, "set", "1.0.0", "Stores the intersect of multiple sets in a key.", set::sinterstore),
    spec!("sunionstore", -3, W, KEYS, "set", "1.0.0", "Stores the union of multiple sets in a key.", set::sunionstore),
    spec!("sdiffstore", -3, W, KEYS, "set", "1.0.0", "Stores the difference of multiple sets in a key.", set::sdiffstore),
    spec!("sscan", -3, R, KEY1, "set", "2.8.0", "Iterates over members of a set.", set::sscan),
    spec!("object", -2, &["readonly"], (2, 2, 1), "generic", "2.2.3", "A container for object introspection commands.", object::object),
    // keyspace
    spec!("del", -2, &["write"], KEYS, "generic", "1.0.0", "Deletes one or more keys.", keyspace::del),
    spec!("unlink", -2, D, KEYS, "generic", "4.0.0", "Asynchronously deletes one or more keys.", keyspace::del),
    spec!("exists", -2, RF, KEYS, "generic", "1.0.0", "Determines whether one or more keys exist.", keyspace::exists),
    spec!("type", 2, RF, KEY1, "generic", "1.0.0", "Determines the type of value stored at a key.", keyspace::type_),
    spec!(
        "touch",
        -2,
        RF,
        KEYS,
        "generic",
        "3.2.1",
        "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
        keyspace::touch
    ),
    spec!("rename", 3, &["write"], KEY12, "generic", "1.0.0", "Renames a key and overwrites the destination.", keyspace::rename),
    spec!("renamenx", 3, D, KEY12, "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", keyspace::renamenx),
    spec!("copy", -3, W, KEY12, "generic", "6.2.0", "Copies the value of a key to a new key.", keyspace::copy),
    spec!("randomkey", 1, &["readonly"], NOKEY, "generic", "1.0.0", "Returns a random key name from the database.", keyspace::randomkey),
    spec!("scan", -2, &["readonly"], NOKEY, "generic", "2.8.0", "Iterates over the key names in the database.", keyspace::scan),
    spec!("keys", 2, &["readonly"], NOKEY, "generic", "1.0.0", "Returns all key names that match a pattern.", keyspace::keys),
    spec!("dbsize", 1, RF, NOKEY, "server", "1.0.0", "Returns the number of keys in the database.", keyspace::dbsize),
    spec!("flushdb", -1, &["write"], NOKEY, "server", "1.0.0", "Remove all keys from the current database.", keyspace::flush),
    spec!("flushall", -1, &["write"], NOKEY, "server", "1.0.0", "Removes all keys from all databases.", keyspace::flush),
    spec!("expire", -3, D, KEY1, "generic", "1.0.0", "Sets the expiration time of a key in seconds.", expire::expire),
    spec!("pexpire", -3, D, KEY1, "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", expire::pexpire),
    spec!("expireat", -3, D, KEY1, "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", expire::expireat),
    spec!(
        "pexpireat",
        -3,
        D,
        KEY1,
        "generic",
        "2.6.0",
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        expire::pexpireat
    ),
    spec!("ttl", 2, RF, KEY1, "generic", "1.0.0", "Returns the expiration time in seconds of a key.", expire::ttl),
    spec!("pttl", 2, RF, KEY1, "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", expire::pttl),
    spec!("expiretime", 2, RF, KEY1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", expire::expiretime),
    spec!(
        "pexpiretime",
        2,
        RF,
        KEY1,
        "generic",
        "7.0.0",
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        expire::pexpiretime
    ),
    spec!("persist", 2, D, KEY1, "generic", "2.2.0", "Removes the expiration time of a key.", expire::persist),
    // server
    spec!(
        "info",
        -1,
        &["loading", "stale"],
        NOKEY,
        "server",
        "1.0.0",
        "Returns information and statistics about the server.",
        server::info
    ),
    spec!("time", 1, &["loading", "stale", "fast"], NOKEY, "server", "2.6.0", "Returns the server time.", server::time),
    spec!("save", 1, A, NOKEY, "server", "1.0.0", "Synchronously saves the database(s) to disk.", server::save),
    spec!("bgsave", -1, A, NOKEY, "server", "1.0.0", "Asynchronously saves the database(s) to disk.", server::bgsave),
    spec!(
        "lastsave",
        1,
        &["loading", "stale", "fast"],
        NOKEY,
        "server",
        "1.0.0",
        "Returns the Unix timestamp of the last successful save to disk.",
        server::lastsave
    ),
    spec!("config", -2, &[], NOKEY, "server", "2.0.0", "A container for server configuration commands.", server::config),
    spec!(
        "shutdown",
        -1,
        &["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"],
        NOKEY,
        "server",
        "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        server::shutdown
    ),
    spec!(
        "command",
        -1,
        &["loading", "stale"],
        NOKEY,
        "server",
        "2.8.13",
        "Returns detailed information about all commands.",
        command::command
    ),
];

/// The command named `name`, in any case.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    static TABLE: OnceLock<HashMap<&'static [u8], &'static Spec>> = OnceLock::new();
    let table = TABLE.get_or_init(|| COMMANDS.iter().map(|spec| (spec.name.as_bytes(), spec)).collect());
    let mut lower = [0u8; 16];
    if name.len() > lower.len() {
        return None;
    }
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    table.get(&lower[..name.len()]).copied()
}

/// What a command sees: the shared state, its client, and the batch's sync bookkeeping.
pub struct Ctx<'a, 't> {
    pub shared: &'a Shared,
    pub client: &'a mut Client,
    /// The write options, and the sync the batch owes (durability `always`).
    pub writes: Writes,
    /// Inside an atomic EXEC: the engine transaction every queued command reads and stages on.
    pub txn: Option<&'a mut Txn<'t>>,
}

impl<'a> Ctx<'a, '_> {
    /// The context of one batch of a client's requests, outside any transaction.
    pub fn new(shared: &'a Shared, client: &'a mut Client) -> Self {
        Ctx { shared, client, writes: Writes::new(shared.config.durability), txn: None }
    }

    /// The store itself, for commands that never run inside EXEC's transaction (KEYS, SCAN,
    /// FLUSH, WATCH ...: see `txn::runs_on_overlay`); key commands use `entry`, `put`, `update`,
    /// `transaction`, `read` ...
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// Options for one write: with durability `always`, the write does not wait and the
    /// connection syncs once before sending the batch's replies.
    pub fn write_options(&mut self) -> WriteOptions {
        self.writes.options()
    }

    /// Counts a read of a key for INFO's keyspace_hits / keyspace_misses.
    pub fn count_lookup(&self, hit: bool) {
        let counters = &self.shared.counters;
        incr(if hit { &counters.keyspace_hits } else { &counters.keyspace_misses });
    }
}

/// Runs one request and returns its reply.
pub fn dispatch(ctx: &mut Ctx, args: &[Bytes]) -> Frame {
    incr(&ctx.shared.counters.total_commands_processed);
    let shared = ctx.shared;
    let reply = if args[0].eq_ignore_ascii_case(b"exec") {
        let _exclusive = shared.exec_lock.write().unwrap_or_else(|e| e.into_inner());
        run(ctx, args)
    } else {
        let _shared = shared.exec_lock.read().unwrap_or_else(|e| e.into_inner());
        run(ctx, args)
    };
    if matches!(reply, Frame::Error(_)) {
        incr(&ctx.shared.counters.total_error_replies);
    }
    reply
}

/// Runs one command (no locking: EXEC runs its queue through this while it holds the lock).
pub fn run(ctx: &mut Ctx, args: &[Bytes]) -> Frame {
    let Some(spec) = lookup(&args[0]) else {
        ctx.client.multi_failed |= ctx.client.multi.is_some();
        return reply::unknown_command(args);
    };
    let argc = args.len() as i64;
    let arity = i64::from(spec.arity);
    if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
        return reject(ctx, spec, reply::wrong_arity(spec.name));
    }
    if let Err(error) = check_subcommand(spec, args) {
        return reject(ctx, spec, error);
    }
    if !ctx.client.authenticated && !spec.allowed_without_auth() {
        return reject(ctx, spec, reply::noauth());
    }
    if let Some(queue) = &mut ctx.client.multi {
        if !matches!(spec.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset") {
            queue.push(args.to_vec());
            return Frame::simple("QUEUED");
        }
    }
    ctx.client.with_info(|info| {
        info.last_active = std::time::Instant::now();
        if info.last_command != spec.name {
            info.last_command.clear();
            info.last_command.push_str(spec.name);
        }
    });
    match (spec.run)(ctx, args) {
        Ok(frame) | Err(frame) => frame,
    }
}

/// A command refused before it runs (Redis's `rejectCommand`): inside MULTI the transaction
/// will abort; EXEC itself ends the transaction (queue and WATCHed keys, in or out of MULTI)
/// with `EXECABORT Transaction discarded because of: <error>` (the error without its `ERR `).
fn reject(ctx: &mut Ctx, spec: &Spec, error: Frame) -> Frame {
    if spec.name != "exec" {
        ctx.client.multi_failed |= ctx.client.multi.is_some();
        return error;
    }
    ctx.client.multi = None;
    ctx.client.multi_failed = false;
    ctx.client.watched.clear();
    let Frame::Error(text) = error else { return error };
    let mut line = b"EXECABORT Transaction discarded because of: ".to_vec();
    line.extend_from_slice(text.strip_prefix(b"ERR ").unwrap_or(&text));
    Frame::error(line)
}

/// The subcommands of container commands, with their arity, as Redis 7.0's command table has
/// them: an unknown one or a wrong argument count is refused before the command is queued
/// (`processCommand`), so inside MULTI the EXEC aborts. CLIENT checks its own (it takes some
/// of Redis 7.2's too).
const SUBCOMMANDS: &[(&str, &[(&str, i32)])] = &[
    ("object", &[("encoding", 3), ("freq", 3), ("help", 2), ("idletime", 3), ("refcount", 3)]),
    ("config", &[("get", -3), ("help", 2), ("resetstat", 2), ("rewrite", 2), ("set", -4)]),
    ("command", &[("count", 2), ("docs", -2), ("getkeys", -3), ("getkeysandflags", -3), ("help", 2), ("info", -2), ("list", -2)]),
];

/// A container command's subcommand, checked as Redis checks it before running or queueing.
pub(crate) fn check_subcommand(spec: &Spec, args: &[Bytes]) -> Result<(), Frame> {
    let Some((_, subs)) = SUBCOMMANDS.iter().find(|(name, _)| *name == spec.name) else { return Ok(()) };
    let Some(sub) = args.get(1) else { return Ok(()) };
    match subs.iter().find(|(name, _)| sub.eq_ignore_ascii_case(name.as_bytes())) {
        Some((name, arity)) => sub_arity(args, *arity, &format!("{}|{name}", spec.name)),
        None => Err(reply::unknown_subcommand(&args[0], sub)),
    }
}

/// Checks a subcommand's argument count (`client|setname` ...).
pub fn sub_arity(args: &[Bytes], arity: i32, full_name: &str) -> Result<(), Frame> {
    let argc = args.len() as i64;
    let arity = i64::from(arity);
    if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
        return Err(reply::wrong_arity(full_name));
    }
    Ok(())
}

/// The number of commands, for COMMAND COUNT.
pub fn count() -> usize {
    COMMANDS.len()
}
