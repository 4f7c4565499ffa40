//! CrownDB's network server: the memcached and Redis protocols over one CrownDB store.
//!
//! - `server.rs`: [`Server`]: the runtime, accept loop, connection limit, shutdown.
//! - `config.rs`: [`Config`]: every setting, from defaults and a TOML file.
//! - `stats.rs`: server-wide counters and each connection's share of the client memory.
//! - `net.rs`: the connection loop both protocols run in (`serve`, over a `Protocol`), and the
//!   [`Stream`] connections talk over (TCP or TLS).
//! - `tls.rs`: TLS: certificate and key from PEM files, the handshake of each connection.
//! - `store/`: the protocol-neutral store layer both command layers call: clock, blocking
//!   calls, write options and batch sync, append, counters, deadline changes, flush.
//! - `memcache/`: the memcached protocol: frame layer (command, parse, reply), `connection.rs`
//!   (what it adds to the loop), `cmd/` (the command layer, one file per group).
//! - `resp/`: the Redis protocol's frame layer (RESP2/RESP3).
//! - `redis/`: the Redis protocol over the store: `connection.rs`, the dispatcher and `cmd/`.
//!
//! `docs/architecture.md` ("Server layering") lists every file and which module calls which.

pub mod config;
mod error;
pub mod memcache;
mod net;
pub mod redis;
pub mod resp;
pub mod server;
pub mod stats;
pub mod store;
pub mod tls;

pub use config::Config;
pub use error::ServerError;
pub use net::Stream;
pub use server::{run_until_signal, Server};
