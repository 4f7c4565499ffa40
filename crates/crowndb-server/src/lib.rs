//! CrownDB's network server: the memcached and Redis protocols over one CrownDB store.
//!
//! - `server.rs`: [`Server`]: the runtime, accept loop, connection limit, shutdown.
//! - `config.rs`: [`Config`]: every setting, from defaults and a TOML file.
//! - `stats.rs`: the counters `stats` reports.
//! - `net.rs`: the [`Stream`] connections talk over (TCP or TLS) and their buffer handling.
//! - `tls.rs`: TLS: certificate and key from PEM files, the handshake of each connection.
//! - `memcache/`: the memcached protocol: frame layer (parse, reply), `connection.rs`
//!   (buffering, pipelining), `handler.rs` and `meta.rs` (commands applied to the store).
//! - `resp/`: the Redis protocol's frame layer (RESP2/RESP3).
//! - `redis/`: the Redis protocol over the store: `connection.rs`, the dispatcher and `cmd/`.

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
