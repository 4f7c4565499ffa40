//! Several threads writing and reading disjoint and shared keys at once.

use std::sync::Arc;

use crowndb::{Db, Durability, Options};

const THREADS: usize = 4;
const PER_THREAD: usize = 3_000;
const SHARED: usize = 50;

fn own_key(t: usize, i: usize) -> Vec<u8> {
    format!("t{t}-k{i}").into_bytes()
}

fn shared_key(i: usize) -> Vec<u8> {
    format!("shared-{}", i % SHARED).into_bytes()
}

fn value(t: usize, i: usize) -> Vec<u8> {
    format!("value of thread {t} write {i}").into_bytes()
}

fn hammer(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options { segment_size: 256 << 10, durability, ..Options::default() };
    let db = Arc::new(Db::open(dir.path(), opts()).unwrap());
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    db.put(&own_key(t, i), &value(t, i)).unwrap();
                    db.put(&shared_key(i), &value(t, i)).unwrap();
                    if i.is_multiple_of(7) {
                        assert!(db.delete(&own_key(t, i)).unwrap());
                    }
                    // A thread always reads its own writes.
                    let j = i / 2;
                    let expected = (!j.is_multiple_of(7)).then(|| value(t, j));
                    assert_eq!(db.get(&own_key(t, j)).unwrap(), expected);
                    // A shared key holds some thread's write of that key, never garbage.
                    let shared = db.get(&shared_key(i)).unwrap().unwrap();
                    assert!(String::from_utf8(shared).unwrap().starts_with("value of thread"));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let check = |db: &Db| {
        for t in 0..THREADS {
            for i in 0..PER_THREAD {
                let expected = (!i.is_multiple_of(7)).then(|| value(t, i));
                assert_eq!(db.get(&own_key(t, i)).unwrap(), expected, "thread {t} key {i}");
            }
        }
        // The last round of shared writes came from the last i of each residue class.
        for s in 0..SHARED {
            let got = String::from_utf8(db.get(&shared_key(s)).unwrap().unwrap()).unwrap();
            let last_i = (0..PER_THREAD).filter(|i| i % SHARED == s).max().unwrap();
            assert!(got.ends_with(&format!(" write {last_i}")), "shared key {s} holds {got}");
        }
        let live = THREADS * (PER_THREAD - PER_THREAD.div_ceil(7)) + SHARED;
        assert_eq!(db.stats().keys as usize, live);
    };
    check(&db);
    if durability == Durability::Always {
        // Group commit: concurrent durable writers share fdatasyncs.
        let writes = (THREADS * PER_THREAD * 2) as u64;
        let syncs = db.stats().syncs;
        assert!(syncs > 0 && syncs < writes, "{syncs} syncs for {writes} durable writes");
    }
    Arc::try_unwrap(db).unwrap().close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    check(&db);
}

#[test]
fn concurrent_writers_and_readers_without_sync() {
    hammer(Durability::Never);
}

#[test]
fn concurrent_writers_share_syncs() {
    hammer(Durability::Always);
}
