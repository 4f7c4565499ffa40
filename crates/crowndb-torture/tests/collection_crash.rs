//! Hashes and sets through `crowndb serve --durability always` killed with SIGKILL 8 times
//! under four clients pipelining HSET / HDEL / SADD / SREM of several members: after every
//! kill each client's hash and set hold every acknowledged command and a prefix of the ones
//! in flight, never part of a command. Needs the `crowndb` binary next to the test (`cargo
//! test --workspace` builds it); without it the test prints SKIPPED, or fails under CI.

use crowndb_torture::collection_crash::run_collection_torture;
use crowndb_torture::crash::crowndb_bin_for_test;

#[test]
fn a_killed_server_loses_no_acknowledged_hash_or_set_command_and_applies_none_in_part() {
    let Some(bin) = crowndb_bin_for_test() else { return };
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let report = run_collection_torture(&bin, dir.path(), 8, 4, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    println!("collection crash torture: {report}");
    assert_eq!(report.cycles, 8);
    assert!(report.acknowledged > 0, "{report}");
}
