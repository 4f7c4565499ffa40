//! Bit flips and truncations at random offsets of a closed store's segments: reads never
//! return a value the key never had, and `crowndb check` (when built, as `cargo test
//! --workspace` does) or a paranoid open notices every damage outside reserved bytes.

use crowndb_torture::crash::find_crowndb_bin;
use crowndb_torture::faults::run_damage;

#[test]
fn damaged_segments_never_yield_wrong_values_and_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("CROWNDB_TORTURE_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    let bin = find_crowndb_bin();
    println!("seed {seed}, crowndb check: {bin:?}");
    let report = run_damage(&dir.path().join("damage"), 80, seed, bin.as_deref())
        .unwrap_or_else(|e| panic!("rerun with CROWNDB_TORTURE_SEED={seed}: {e}"));
    println!("damage: {report}");
    assert_eq!(report.trials, 80);
}

/// Known issue 1 (engine, crates/crowndb/src/segment.rs `Segment::create`): the file is
/// created under its final name before its header is written, so a kill in between leaves an
/// empty newest segment and the store then refuses to open. The crash torture meets this
/// about once in 150 kills. Run with `cargo test -p crowndb-torture -- --ignored` once fixed.
#[test]
#[ignore = "known issue 1: an empty newest segment (killed while creating it) makes open fail"]
fn a_segment_killed_before_its_header_was_written_does_not_stop_the_store_opening() {
    let dir = tempfile::tempdir().unwrap();
    let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    let newest = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| crowndb::format::parse_segment_file_name(e.unwrap().file_name().to_str()?))
        .max()
        .unwrap();
    std::fs::File::create(dir.path().join(crowndb::format::segment_file_name(newest + 1))).unwrap();
    let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).expect("an empty newest segment is an interrupted creation");
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
}
