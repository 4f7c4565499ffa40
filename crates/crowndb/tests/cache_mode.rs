//! Cache mode: a disk budget makes the store drop its oldest segments, as a cache would.

use crowndb::{Db, Durability, Options};

fn key(i: usize) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    format!("value {i} ").repeat(20).into_bytes()
}

fn options(budget: Option<u64>) -> Options {
    Options { segment_size: 64 << 10, max_disk_bytes: budget, durability: Durability::Never, ..Options::default() }
}

fn data_bytes(db: &Db) -> u64 {
    db.stats().segments.iter().map(|s| s.data_bytes).sum()
}

#[test]
fn a_disk_budget_evicts_the_oldest_keys_and_they_stay_evicted() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 1 << 20;
    let db = Db::open(dir.path(), options(Some(budget))).unwrap();
    let n = 25_000; // about 5 MiB of records
    for i in 0..n {
        db.put(&key(i), &value(i)).unwrap();
    }
    // The background thread checks every 100 ms.
    for _ in 0..100 {
        if data_bytes(&db) <= budget + (64 << 10) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let stats = db.stats();
    assert!(data_bytes(&db) <= budget + (64 << 10), "store still holds {} bytes", data_bytes(&db));
    let present: Vec<bool> = (0..n).map(|i| db.get(&key(i)).unwrap().is_some()).collect();
    let missing = present.iter().filter(|p| !**p).count() as u64;
    assert_eq!(stats.evictions, missing, "every missing key was counted as an eviction");
    assert!(missing > (n as u64) / 2);
    // Oldest first: everything evicted is older than everything kept.
    let first_kept = present.iter().position(|p| *p).unwrap();
    assert!(present[first_kept..].iter().all(|p| *p), "eviction was not oldest-first");
    assert_eq!(db.get(&key(n - 1)).unwrap(), Some(value(n - 1)));
    // After a restart, evicted keys stay evicted and kept ones stay.
    db.close().unwrap();
    let db = Db::open(dir.path(), options(None)).unwrap();
    for i in (0..n).step_by(97) {
        assert_eq!(db.get(&key(i)).unwrap().is_some(), present[i], "key {i} after reopen");
    }
}

#[test]
fn without_a_budget_nothing_is_evicted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(None)).unwrap();
    for i in 0..10_000 {
        db.put(&key(i), &value(i)).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(db.stats().evictions, 0);
    assert!((0..10_000).all(|i| db.get(&key(i)).unwrap().is_some()));
}
