//! The Redis protocol over the store: RESP2/RESP3 connections and the string and keyspace
//! commands, in mini-redis layers. The wire format (frames, parsing, encoding) is `resp/`; this
//! module is everything above it:
//!
//! - `connection.rs`: one client connection: buffered reads, pipelining, protocol errors, the
//!   per-batch sync of durability `always`.
//! - `shared.rs`: what every Redis connection shares: the store, counters, live settings
//!   (CONFIG SET), the client list, the last save, the shutdown switch.
//! - `client.rs`: one client's state: id, protocol (HELLO), authentication, name.
//! - `dispatch.rs`: the command table (name, arity, flags, key positions, docs) and the
//!   dispatcher: unknown commands, arity, authentication, then the command.
//! - `reply.rs`: Redis's error strings, and argument parsing that fails with them.
//! - `float.rs`: INCRBYFLOAT's numbers, read as `strtold` and printed as `%.17Lf`.
//! - `glob.rs`: Redis's glob matching (KEYS, SCAN MATCH, CONFIG GET).
//! - `txn.rs`: how commands reach the store (`Ctx::entry`, `put`, `update` ...), directly or,
//!   inside EXEC, through the overlay that makes a transaction one batch on disk.
//! - `cmd/`: the commands, one file per group: `connection.rs` (PING, AUTH, HELLO, CLIENT ...),
//!   `strings.rs` (GET, SET, INCR ...), `keyspace.rs` (DEL, RENAME, SCAN ...), `expire.rs`
//!   (EXPIRE family, TTL), `server.rs` (INFO, CONFIG, SAVE, SHUTDOWN ...), `command.rs`
//!   (COMMAND).
//!
//! Adding a command: a function in the right `cmd/` file and one row in `dispatch.rs`.
//!
//! Every value is a Redis string: a key exists or not, its type is `string`. Values are stored
//! with client flags 0 (a memcached `set` of the same key gives flags; Redis writes reset
//! them); expiry is the record's deadline, shared with memcached's exptime.

mod client;
mod cmd;
pub mod connection;
mod dispatch;
mod float;
mod glob;
mod reply;
pub mod shared;
mod txn;

#[cfg(test)]
mod proptests;

pub use shared::Shared;

/// The Redis version reported by HELLO and INFO: clients pick features from it. It is the
/// Redis whose commands and replies we follow and check against (Debian's 7.0, in
/// docs/differential.md): report at least 7.0, and behave as the version reported.
pub const REDIS_VERSION: &str = "7.0.15";
