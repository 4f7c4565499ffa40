//! Compaction passes that fail part-way must not lose deletes. (The I/O fault harness,
//! `crowndb-torture io-faults`, met this with `fallocate` failing under a running store: a
//! deleted key came back after a reopen.)

use crowndb::{Db, Durability, Options};

fn options() -> Options {
    Options { segment_size: 64 << 10, durability: Durability::Never, background_compaction: false, ..Options::default() }
}

fn filler(db: &Db, from: usize, n: usize) {
    for i in from..from + n {
        db.put(format!("filler-{i:05}").as_bytes(), &[b'f'; 600]).unwrap();
    }
}

fn segment_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "seg")).collect();
    files.sort();
    files
}

/// A tombstone may be dropped by compaction because the older record it hides is in another
/// victim of the same pass. If that other victim fails to compact (here: its footer is
/// damaged on disk), it stays: the victim holding the tombstone must stay too.
#[test]
fn a_victim_that_fails_keeps_the_tombstones_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.put(b"deleted", b"old value").unwrap();
    filler(&db, 0, 150); // rolls past the first segment
    db.delete(b"deleted").unwrap();
    filler(&db, 150, 150);
    db.close().unwrap();

    // Reopened, every segment but the newest is sealed (so compaction picks them).
    let db = Db::open(dir.path(), options()).unwrap();
    let files = segment_files(dir.path());
    assert!(files.len() >= 3, "{files:?}");
    // The oldest segment holds the old value: damage its footer's checksum.
    let oldest = &files[0];
    let mut bytes = std::fs::read(oldest).unwrap();
    let n = bytes.len();
    bytes[n - 48 - 5] ^= 0xFF; // inside the last footer entry (the trailer is 48 bytes)
    std::fs::write(oldest, &bytes).unwrap();

    // The pass stops at the damaged victim (an error is logged); whether it reports an
    // error or not, the key stays deleted, now and after a reopen.
    let _ = db.compact();
    assert_eq!(db.get(b"deleted").unwrap(), None);
    db.close().unwrap();

    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.get(b"deleted").unwrap(), None, "a deleted key came back after a compaction that failed part-way");
    assert_eq!(db.get(b"filler-00299").unwrap(), Some(vec![b'f'; 600]));
}
