//! Reliability harnesses for CrownDB (issue 8). See docs/reliability.md.
//!
//! - `crash.rs`: SIGKILL crash torture: a writer child process, killed at random moments,
//!   and a verifier that reopens the store and checks it against the writer's side log.
//! - `server_crash.rs`: the same through `crowndb serve`: memcached clients in this process,
//!   the server killed under their load.
//! - `oplog.rs`: the side log's format and the intent/ack protocol; `workload.rs`: performing a logged
//!   operation, what it leaves in the store, and reading that back.
//! - `faults.rs`: fault injection: a full disk (a size-limited tmpfs) and damaged segment
//!   files (bit flips, truncations).
//! - `dump_damage.rs`: damaged dump files against `crowndb load`.
//! - `io_faults.rs`: I/O errors and short writes injected at the file layer (the
//!   `crowndb-faultfs` LD_PRELOAD library) under a writer child.
//! - `overload.rs`: idle, non-reading and garbage-sending clients against `crowndb serve`,
//!   with the server's memory measured.
//! - `differential/`: the same commands to `redis-server` and `crowndb serve`, replies compared
//!   (docs/differential.md).
//! - `values.rs`, `rng.rs`: reproducible values and randomness from a seed.

pub mod collection_crash;
pub mod crash;
pub mod differential;
pub mod dump_damage;
pub mod exec_crash;
pub mod faults;
pub mod io_faults;
pub mod oplog;
pub mod overload;
pub mod rng;
pub mod serve;
pub mod server_crash;
pub mod values;
pub mod workload;
