//! Compaction, snapshots and iteration with concurrent writers: disk usage falls, scans
//! and iterators see what they promise, snapshots hold their view.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crowndb::{Db, Durability, Options};

fn options() -> Options {
    Options { segment_size: 256 << 10, durability: Durability::Never, ..Options::default() }
}

fn key(i: usize) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn value(i: usize, round: usize) -> Vec<u8> {
    format!("value {i} round {round} ").repeat(8).into_bytes()
}

fn bytes_on_disk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[test]
fn disk_usage_falls_after_deletes_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { background_compaction: false, ..options() }).unwrap();
    for round in 0..3 {
        for i in 0..5_000 {
            db.put(&key(i), &value(i, round)).unwrap();
        }
    }
    for i in 0..4_000 {
        db.delete(&key(i)).unwrap();
    }
    db.sync().unwrap();
    let before = bytes_on_disk(dir.path());
    let report = db.compact().unwrap();
    let after = bytes_on_disk(dir.path());
    assert!(report.segments > 0);
    assert!(after * 3 < before, "segment files went from {before} to only {after} bytes");
    for i in 0..5_000 {
        let expected = (i >= 4_000).then(|| value(i, 2));
        assert_eq!(db.get(&key(i)).unwrap(), expected, "key {i}");
    }
    // Deleted keys stay deleted after a reopen: tombstones were kept or nothing older remains.
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.get(&key(10)).unwrap(), None);
    assert_eq!(db.get(&key(4_500)).unwrap(), Some(value(4_500, 2)));
    assert_eq!(db.stats().keys, 1_000);
}

#[test]
fn background_compaction_bounds_space_under_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { compaction_bytes_per_sec: 0, ..options() }).unwrap();
    let n = 2_000;
    for round in 0..30 {
        for i in 0..n {
            db.put(&key(i), &value(i, round)).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Give the compactor a moment to catch up with the last rounds.
    let mut amp = f64::MAX;
    for _ in 0..100 {
        amp = db.stats().space_amplification();
        if amp < 2.0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let stats = db.stats();
    assert!(stats.segments_deleted > 0, "{stats:?}");
    assert!(amp < 2.0, "space amplification {amp} after 30 overwrite rounds");
    for i in 0..n {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 29)));
    }
}

#[test]
fn snapshots_hold_their_view_through_overwrites_deletes_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { segment_size: 64 << 10, background_compaction: false, ..options() }).unwrap();
    for i in 0..1_000 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    let snap = db.snapshot();
    for i in 0..1_000 {
        if i % 3 == 0 {
            db.delete(&key(i)).unwrap();
        } else {
            db.put(&key(i), &value(i, 1)).unwrap();
        }
    }
    db.put(b"new key", b"after the snapshot").unwrap();
    db.compact().unwrap();
    // Read the snapshot from several threads at once.
    let snap = Arc::new(snap);
    let readers: Vec<_> = (0..3)
        .map(|t| {
            let snap = snap.clone();
            std::thread::spawn(move || {
                for i in (t..1_000).step_by(3) {
                    assert_eq!(snap.get(&key(i)).unwrap(), Some(value(i, 0)), "key {i}");
                }
                assert_eq!(snap.get(b"new key").unwrap(), None);
            })
        })
        .collect();
    readers.into_iter().for_each(|r| r.join().unwrap());
    let snap = Arc::try_unwrap(snap).unwrap();
    // Compaction ran, but the files holding the snapshot's versions wait for it.
    let deleted_while_open = db.stats().segments_deleted;
    let mut seen: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for kv in snap.iter() {
        let (k, v) = kv.unwrap();
        assert!(seen.insert(k, v).is_none());
    }
    assert_eq!(seen.len(), 1_000);
    assert!(seen.iter().all(|(k, v)| { v == &value(String::from_utf8_lossy(&k[4..]).parse().unwrap(), 0) }));
    // The iterator consumed (and dropped) the snapshot: what it held is deleted.
    assert!(db.stats().segments_deleted > deleted_while_open);
    assert_eq!(db.get(&key(3)).unwrap(), None);
    assert_eq!(db.get(&key(4)).unwrap(), Some(value(4, 1)));
}

#[test]
fn scan_and_iterator_with_concurrent_writes_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), Options { compaction_bytes_per_sec: 0, ..options() }).unwrap());
    let stable = 3_000;
    for i in 0..stable {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    // The state a snapshot taken now must keep seeing.
    let snap = db.snapshot();
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut round = 1;
            while !stop.load(Ordering::Relaxed) {
                for i in 0..stable {
                    // Overwrite stable keys (they stay present), churn others in and out.
                    db.put(&key(i), &value(i, round)).unwrap();
                    let churn_key = key(100_000 + (i + round) % 500);
                    if i % 2 == 0 {
                        db.put(&churn_key, b"churn").unwrap();
                    } else {
                        db.delete(&churn_key).unwrap();
                    }
                }
                round += 1;
            }
        })
    };
    let compactor = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                db.compact().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    // SCAN: every stable key, present for the whole walk, comes back at least once.
    for _ in 0..3 {
        let mut seen = HashSet::new();
        let mut cursor = 0;
        loop {
            let page = db.scan(cursor, 50).unwrap();
            seen.extend(page.keys);
            cursor = page.cursor;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..stable {
            assert!(seen.contains(&key(i)), "scan missed stable key {i}");
        }
    }
    // Iterator at the snapshot: exactly the state when it was taken.
    let mut seen = BTreeMap::new();
    for kv in snap.iter() {
        let (k, v) = kv.unwrap();
        assert!(seen.insert(k, v).is_none(), "iterator returned a key twice");
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    compactor.join().unwrap();
    assert_eq!(seen.len(), stable);
    for i in 0..stable {
        assert_eq!(seen.get(&key(i)), Some(&value(i, 0)), "iterator's value for key {i}");
    }
}

#[test]
fn iteration_with_metadata_returns_flags_versions_and_deadlines() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let far = u64::MAX / 2;
    let v1 = db.put_opt(b"a", b"1", &crowndb::WriteOptions { flags: 7, expires_at_ms: Some(far), ..Default::default() }).unwrap();
    let v2 = db.put(b"b", b"2").unwrap();
    let mut all: Vec<_> = db.iter().with_metadata().map(|r| r.unwrap()).collect();
    all.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].1.flags, all[0].1.version, all[0].1.expires_at_ms), (7, v1, Some(far)));
    assert_eq!((all[1].1.value.as_slice(), all[1].1.version, all[1].1.expires_at_ms), (&b"2"[..], v2, None));
}
