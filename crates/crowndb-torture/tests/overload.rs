//! Overload through `crowndb serve`: 1,000 idle connections, 4 clients pipelining GETs of a
//! 1 MiB value without reading, 2 garbage senders and 50 silent half requests for 3 seconds,
//! while a correct client checks every value it reads; the server's RSS must grow by less
//! than 256 MiB. Needs the `crowndb` binary next to the test (`cargo test --workspace` builds
//! it); without it the test prints SKIPPED, or fails under CI.

use std::time::Duration;

use crowndb_torture::crash::crowndb_bin_for_test;
use crowndb_torture::overload::{run_overload, OverloadConfig};

#[test]
fn the_server_holds_idle_non_reading_and_garbage_clients_in_bounded_memory() {
    let Some(bin) = crowndb_bin_for_test() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = OverloadConfig {
        idle: 1_000,
        non_readers: 4,
        garbage_senders: 2,
        half_requests: 50,
        duration: Duration::from_secs(3),
        max_rss_growth: 256 << 20,
        seed: 8,
        ..OverloadConfig::default()
    };
    let report = run_overload(&bin, dir.path(), &config).unwrap_or_else(|e| panic!("{e}"));
    println!("{report}");
    assert!(report.connections_held >= 1_050, "{report}");
    assert!(report.pipelined_requests > 0 && report.garbage_connections > 0, "{report}");
    assert!(report.correct_ops > 0 && report.correct_errors == 0, "{report}");
    assert_eq!(report.keys_verified, 500);
}
