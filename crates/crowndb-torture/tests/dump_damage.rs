//! Bit flips and truncations of a dump file: `crowndb load --verify` refuses every one, and a
//! load stopped by the damage leaves only true values (never a streamed value's prefix).

use crowndb_torture::crash::crowndb_bin_for_test;
use crowndb_torture::dump_damage::run_dump_damage;

#[test]
fn damaged_dumps_are_refused_and_never_load_wrong_values() {
    let Some(bin) = crowndb_bin_for_test() else { return };
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("CROWNDB_TORTURE_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    let report = run_dump_damage(&bin, &dir.path().join("dumps"), 40, seed).unwrap_or_else(|e| panic!("CROWNDB_TORTURE_SEED={seed}: {e}"));
    println!("dump damage: {report}");
    assert_eq!(report.refused_by_verify, 40, "{report}");
    assert!(report.keys_loaded_before_damage > 0, "no trial loaded anything before its damage: {report}");
}
