//! Conditional writes, read-modify-write under concurrency, and expiry with a controlled clock.

use std::sync::Arc;

use crowndb::{Condition, Db, Durability, Entry, ManualClock, Options, PutOutcome, Update, UpdateOutcome, WriteOptions};

fn open(dir: &std::path::Path) -> Db {
    Db::open(dir, Options { segment_size: 128 << 10, durability: Durability::Never, ..Options::default() }).unwrap()
}

fn increment(e: Option<&Entry>) -> Update {
    let n: u64 = e.map_or(0, |e| std::str::from_utf8(&e.value).unwrap().parse().unwrap());
    Update::Put { value: (n + 1).to_string().into_bytes(), flags: 0, expires_at_ms: None }
}

#[test]
fn concurrent_increments_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(open(dir.path()));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    db.update(b"counter", &WriteOptions::default(), increment).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(db.get(b"counter").unwrap(), Some(b"8000".to_vec()));
}

#[test]
fn exactly_one_cas_wins_each_round() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(open(dir.path()));
    db.put(b"k", b"start").unwrap();
    for round in 0..200 {
        let version = db.get_entry(b"k").unwrap().unwrap().version;
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let value = format!("round {round} thread {t}");
                    db.put_if(b"k", value.as_bytes(), Condition::IfVersion(version), &WriteOptions::default()).unwrap()
                })
            })
            .collect();
        let outcomes: Vec<PutOutcome> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let winners = outcomes.iter().filter(|o| matches!(o, PutOutcome::Stored(_))).count();
        assert_eq!(winners, 1, "round {round}: {outcomes:?}");
        assert_eq!(outcomes.iter().filter(|o| **o == PutOutcome::ConditionFailed).count(), 3);
    }
}

#[test]
fn add_replace_and_cas_follow_their_conditions() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let o = WriteOptions { flags: 9, ..WriteOptions::default() };
    assert_eq!(db.put_if(b"k", b"v", Condition::IfPresent, &o).unwrap(), PutOutcome::NotFound);
    assert_eq!(db.put_if(b"k", b"v", Condition::IfVersion(1), &o).unwrap(), PutOutcome::NotFound);
    let PutOutcome::Stored(v1) = db.put_if(b"k", b"v1", Condition::IfAbsent, &o).unwrap() else { panic!("add failed") };
    assert_eq!(db.put_if(b"k", b"v", Condition::IfAbsent, &o).unwrap(), PutOutcome::ConditionFailed);
    assert!(matches!(db.put_if(b"k", b"v2", Condition::IfPresent, &o).unwrap(), PutOutcome::Stored(v) if v > v1));
    assert_eq!(db.put_if(b"k", b"v3", Condition::IfVersion(v1), &o).unwrap(), PutOutcome::ConditionFailed);
    let entry = db.get_entry(b"k").unwrap().unwrap();
    assert_eq!((entry.value.as_slice(), entry.flags), (&b"v2"[..], 9));
    assert_eq!(db.update(b"k", &o, |_| Update::Delete).unwrap(), UpdateOutcome::Deleted);
    assert_eq!(db.update(b"k", &o, |_| Update::Delete).unwrap(), UpdateOutcome::Kept);
    assert_eq!(db.get(b"k").unwrap(), None);
}

#[test]
fn expired_keys_are_invisible_and_count_as_absent() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let options = || Options { clock: clock.clone(), durability: Durability::Never, ..Options::default() };
    let db = Db::open(dir.path(), options()).unwrap();
    let ttl = WriteOptions { expires_at_ms: Some(1_000_500), ..WriteOptions::default() };
    db.put_opt(b"session", b"data", &ttl).unwrap();
    assert_eq!(db.get_entry(b"session").unwrap().unwrap().expires_at_ms, Some(1_000_500));
    clock.advance(499);
    assert!(db.contains_key(b"session").unwrap());
    clock.advance(1);
    assert_eq!(db.get(b"session").unwrap(), None);
    assert!(!db.contains_key(b"session").unwrap());
    // An expired key is absent for conditional writes and for delete.
    assert!(matches!(db.put_if(b"session", b"new", Condition::IfAbsent, &WriteOptions::default()).unwrap(), PutOutcome::Stored(_)));
    db.put_opt(b"gone", b"x", &WriteOptions { expires_at_ms: Some(1_000_600), ..WriteOptions::default() }).unwrap();
    clock.advance(100);
    assert!(!db.delete(b"gone").unwrap());
    // Deadlines survive a reopen.
    db.put_opt(b"later", b"y", &WriteOptions { expires_at_ms: Some(2_000_000), ..WriteOptions::default() }).unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.get(b"later").unwrap(), Some(b"y".to_vec()));
    clock.set(2_000_000);
    assert_eq!(db.get(b"later").unwrap(), None);
    assert_eq!(db.get(b"session").unwrap(), Some(b"new".to_vec()));
}

#[test]
fn increment_and_append_are_atomic_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(open(dir.path()));
    db.put(b"log", b"").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..1_000 {
                    db.increment(b"n", if t % 2 == 0 { 3 } else { -1 }).unwrap();
                    db.append(b"log", &[b'a' + t as u8], false).unwrap().unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(db.increment(b"n", 0).unwrap(), 2 * 1_000 * 3 - 2 * 1_000);
    let log = db.get(b"log").unwrap().unwrap();
    assert_eq!(log.len(), 4_000);
    for t in 0..4u8 {
        assert_eq!(log.iter().filter(|&&b| b == b'a' + t).count(), 1_000);
    }
    db.put(b"max", i64::MAX.to_string().as_bytes()).unwrap();
    assert!(db.increment(b"max", 1).unwrap_err().to_string().contains("overflow"));
    assert_eq!(db.get(b"max").unwrap(), Some(i64::MAX.to_string().into_bytes()));
}

fn number(e: &Option<Entry>) -> i64 {
    e.as_ref().map_or(0, |e| std::str::from_utf8(&e.value).unwrap().parse().unwrap())
}

/// Transfers between two keys under `write_if`: if a write could come between the read and
/// the batch, units would be created or destroyed and the sum would drift from 0.
#[test]
fn write_if_reads_and_writes_several_keys_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(open(dir.path()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let (from, to): (&[u8], &[u8]) = if t % 2 == 0 { (b"a", b"b") } else { (b"b", b"a") };
                for _ in 0..1_000 {
                    let written = db
                        .write_if(&[from, to], &WriteOptions::default(), |e| {
                            let mut batch = crowndb::WriteBatch::new();
                            batch.put(from, (number(&e[0]) - 1).to_string().as_bytes()).put(to, (number(&e[1]) + 1).to_string().as_bytes());
                            Some(batch)
                        })
                        .unwrap();
                    assert!(written);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let a = number(&db.get_entry(b"a").unwrap());
    let b = number(&db.get_entry(b"b").unwrap());
    assert_eq!(a + b, 0, "a = {a}, b = {b}: a transfer was not atomic");
    assert_eq!(a, 0, "as many transfers each way");
}

#[test]
fn write_if_writes_nothing_when_the_function_declines_or_the_batch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.put(b"taken", b"1").unwrap();
    // MSETNX-style: any existing key declines the whole batch.
    let written = db
        .write_if(&[b"free", b"taken"], &WriteOptions::default(), |e| {
            if e.iter().any(Option::is_some) {
                return None;
            }
            let mut batch = crowndb::WriteBatch::new();
            batch.put(b"free", b"x").put(b"taken", b"x");
            Some(batch)
        })
        .unwrap();
    assert!(!written);
    assert_eq!(db.get(b"free").unwrap(), None);
    assert_eq!(db.get(b"taken").unwrap(), Some(b"1".to_vec()));

    // A value over the limit: an error naming the limit, and nothing of the batch written.
    let limit = Options::default().max_value_size;
    let err = db
        .write_if(&[b"free"], &WriteOptions::default(), |_| {
            let mut batch = crowndb::WriteBatch::new();
            batch.put(b"free", b"x").put(b"big", &vec![0u8; limit + 1]);
            Some(batch)
        })
        .unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    assert_eq!(db.get(b"free").unwrap(), None);
}

#[test]
fn a_closed_store_says_so_with_its_own_error_kind() {
    let dir = tempfile::tempdir().unwrap();
    let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    let other = db.clone();
    db.close().unwrap();
    let err = other.put(b"k", b"v").unwrap_err();
    assert_eq!(err.kind(), crowndb::ErrorKind::Closed);
    assert!(err.to_string().contains("is closed") && err.to_string().contains("open it again"), "{err}");
}
