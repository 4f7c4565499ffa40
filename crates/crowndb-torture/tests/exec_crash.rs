//! Redis transactions through `crowndb serve --durability always` killed with SIGKILL 8 times
//! under three clients sending MULTI / 20 SETs / EXEC: after every kill each client's 20 keys
//! hold the same transaction (the EXEC is one batch on disk), at least its last acknowledged
//! one. Needs the `crowndb` binary next to the test (`cargo test --workspace` builds it);
//! without it the test prints SKIPPED, or fails under CI.

use crowndb_torture::crash::crowndb_bin_for_test;
use crowndb_torture::exec_crash::run_exec_crash;

#[test]
fn a_killed_server_never_leaves_part_of_a_transaction() {
    let Some(bin) = crowndb_bin_for_test() else { return };
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let report = run_exec_crash(&bin, dir.path(), 8, 3, 20, 2048, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    println!("exec crash torture: {report}");
    assert_eq!(report.cycles, 8);
    assert!(report.acknowledged > 0, "{report}");
}
