//! Crash torture through the server: `crowndb serve --durability always` killed with SIGKILL
//! under four memcached clients, 8 times; every acknowledged `set`/`delete` must survive.
//! Needs the `crowndb` binary next to the test (`cargo test --workspace` builds it); without it
//! the test prints SKIPPED, or fails under CI.

use crowndb_torture::crash::find_crowndb_bin;
use crowndb_torture::server_crash::run_server_torture;

#[test]
fn acknowledged_memcached_writes_survive_server_kills() {
    let Some(bin) = find_crowndb_bin() else {
        assert!(std::env::var_os("CI").is_none(), "CI is set and the crowndb binary is missing (cargo build -p crowndb-cli)");
        eprintln!("SKIPPED: no crowndb binary next to the test; run cargo build -p crowndb-cli");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let report = run_server_torture(&bin, dir.path(), 8, 4, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    println!("server crash torture: {report}");
    assert_eq!(report.cycles, 8);
    assert!(report.acknowledged > 0, "{report}");
}
