//! Differential test against Redis: `redis-server` and `crowndb serve` get the same commands
//! (the hand-written edge cases, then 3 seeds x 2,000 generated string, keyspace, hash and set
//! commands, RESP2 and RESP3), and every reply must be the same (docs/differential.md).
//! Needs redis-server (Debian package redis-server; scripts/test installs it) and the `crowndb`
//! binary next to the test (`cargo build -p crowndb-cli`); without them the test prints
//! SKIPPED, or fails when `CI` is set.

use crowndb_torture::crash::find_crowndb_bin;
use crowndb_torture::differential::servers::find_redis_server;
use crowndb_torture::differential::{gen, run, Config};

const TYPES: [&str; 4] = ["strings", "keyspace", "hashes", "sets"];

#[test]
fn redis_and_crowndb_give_the_same_replies() {
    let ci = std::env::var_os("CI").is_some();
    let Some(redis_bin) = find_redis_server() else {
        assert!(!ci, "CI is set and redis-server is missing (Debian package redis-server; scripts/test installs it)");
        eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
        return;
    };
    let Some(crowndb_bin) = find_crowndb_bin() else {
        assert!(!ci, "CI is set and the crowndb binary is missing (cargo build -p crowndb-cli)");
        eprintln!("SKIPPED: no crowndb binary next to the test; run cargo build -p crowndb-cli");
        return;
    };
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let config = Config {
        seed,
        seeds: 3,
        commands: 2000,
        types: TYPES.map(String::from).to_vec(),
        edge_cases: true,
        edge_file: None,
        exclusions: true,
        minimise: true,
        progress: false,
        redis_bin,
        crowndb_bin,
    };
    assert!(TYPES.iter().all(|t| gen::type_names().contains(t)));
    let summary = run(&config).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    println!("differential: {summary}");
    assert!(summary.mismatches.is_empty(), "seeds {seed}..{}:\n{}", seed + 2, summary.mismatches.join("\n"));
    assert_eq!(summary.seeds, 3);
    assert!(summary.edge_cases > 900, "{summary}");
    assert!(summary.commands > 5000, "{summary}");
}
