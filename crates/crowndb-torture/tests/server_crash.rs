//! Crash torture through the server: `crowndb serve --durability always` killed with SIGKILL
//! under four memcached clients, 8 times, and again under four Redis clients plus
//! redis-benchmark; every acknowledged `set`/`delete` (`SET`/`DEL`) must survive.
//! Needs the `crowndb` binary next to the test (`cargo test --workspace` builds it); without it
//! the test prints SKIPPED, or fails under CI.

use crowndb_torture::crash::crowndb_bin_for_test;
use crowndb_torture::server_crash::{run_server_torture, Protocol};

#[test]
fn acknowledged_memcached_writes_survive_server_kills() {
    torture(Protocol::Memcached);
}

/// The Redis listener, with redis-benchmark pipelining SETs on other keys at the same time.
#[test]
fn acknowledged_redis_writes_survive_server_kills_under_redis_benchmark() {
    torture(Protocol::Redis);
}

fn torture(protocol: Protocol) {
    let Some(bin) = crowndb_bin_for_test() else { return };
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let report = run_server_torture(&bin, dir.path(), protocol, 8, 4, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    println!("server crash torture: {report}");
    assert_eq!(report.cycles, 8);
    assert!(report.acknowledged > 0, "{report}");
    if protocol == Protocol::Redis && std::env::var_os("CI").is_some() {
        // scripts/test installs redis-tools; under CI the load must really have run.
        assert!(report.benchmark_cycles > 0, "redis-benchmark did not run: {report}");
    }
}
