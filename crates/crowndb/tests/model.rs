//! Model-based test: random operations against CrownDB and a `BTreeMap`, with close/reopen
//! and simulated crashes (the unsynced tail of the active segment cut or garbled at a
//! random byte). After a crash the store must equal the model after some prefix of the
//! operations since the last sync: every synced write present, batches whole or absent,
//! no value that was never written.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use crowndb::{Db, Durability, Options, WriteBatch, WriteOptions};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
type Effect = Vec<(Vec<u8>, Option<Vec<u8>>)>;

#[derive(Debug, Clone)]
enum Op {
    Put(u8, Vec<u8>),
    SyncedPut(u8, Vec<u8>),
    Delete(u8),
    Batch(Vec<(u8, Option<Vec<u8>>)>),
    Get(u8),
    Sync,
    Reopen,
    Crash {
        cut: f64,
        garbage: bool,
    },
    TakeSnapshot,
    DropSnapshot(usize),
    CheckSnapshots,
    Compact,
    /// A compaction abandoned after this many bytes, then a crash.
    CompactThenCrash {
        bytes: u64,
        cut: f64,
    },
    Iterate,
    ScanAll(usize),
}

fn key(k: u8) -> Vec<u8> {
    if k.is_multiple_of(13) {
        format!("long-key-{k}-{}", "x".repeat(300)).into_bytes()
    } else {
        format!("key-{k}").into_bytes()
    }
}

const KEYS: u8 = 40;

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..64),
        2 => proptest::collection::vec(any::<u8>(), 64..2048),
        1 => (0usize..20_000).prop_map(|n| vec![b'L'; n]),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..KEYS, value()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0..KEYS, value()).prop_map(|(k, v)| Op::SyncedPut(k, v)),
        4 => (0..KEYS).prop_map(Op::Delete),
        3 => proptest::collection::vec((0..KEYS, proptest::option::of(value())), 1..6).prop_map(Op::Batch),
        6 => (0..KEYS).prop_map(Op::Get),
        1 => Just(Op::Sync),
        1 => Just(Op::Reopen),
        2 => (0.0f64..1.0, any::<bool>()).prop_map(|(cut, garbage)| Op::Crash { cut, garbage }),
        2 => Just(Op::TakeSnapshot),
        1 => (0usize..4).prop_map(Op::DropSnapshot),
        2 => Just(Op::CheckSnapshots),
        2 => Just(Op::Compact),
        1 => (0u64..40_000, 0.0f64..1.0).prop_map(|(bytes, cut)| Op::CompactThenCrash { bytes, cut }),
        1 => Just(Op::Iterate),
        1 => (1usize..20).prop_map(Op::ScanAll),
    ]
}

fn options(durability: Durability) -> Options {
    Options { segment_size: 64 << 10, durability, ..Options::default() }
}

fn apply(model: &mut Model, effect: &Effect) {
    for (k, v) in effect {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

fn read_all(db: &Db) -> Model {
    (0..KEYS).filter_map(|k| db.get(&key(k)).unwrap().map(|v| (key(k), v))).collect()
}

/// Stops the store like a killed process, damages the unsynced tail of the active segment
/// (zeroed or garbled from a random point on) and reopens it; the recovered state must be the
/// synced state plus a prefix of the later writes.
#[allow(clippy::too_many_arguments)]
fn crash_and_check(
    db: Db,
    dir: &std::path::Path,
    durability: Durability,
    cut: f64,
    garbage: bool,
    synced: &Model,
    pending: &[Effect],
    model: &Model,
) -> Result<Db, TestCaseError> {
    let point = db.simulate_crash();
    if point.written_len > point.synced_len {
        let at = point.synced_len + ((point.written_len - point.synced_len) as f64 * cut) as u64;
        let file = OpenOptions::new().write(true).open(&point.active_segment).unwrap();
        if garbage {
            let junk: Vec<u8> = (0..(point.written_len - at).min(512)).map(|i| (i as u8).wrapping_mul(151).wrapping_add(7)).collect();
            file.write_all_at(&junk, at).unwrap();
        } else {
            // What a power failure leaves of unsynced writes in a preallocated file: zeroes.
            file.write_all_at(&vec![0u8; (point.written_len - at) as usize], at).unwrap();
        }
    }
    let db = Db::open(dir, options(durability)).unwrap();
    let recovered = read_all(&db);
    let mut candidate = synced.clone();
    let mut matched = candidate == recovered;
    for effect in pending {
        if matched {
            break;
        }
        apply(&mut candidate, effect);
        matched = candidate == recovered;
    }
    prop_assert!(matched, "recovered state is not a prefix of the writes since the last sync: {:?}", recovered.keys().collect::<Vec<_>>());
    if durability == Durability::Always {
        prop_assert_eq!(&recovered, model, "sync-always store lost an acknowledged write");
    }
    Ok(db)
}

fn run(ops: Vec<Op>, durability: Durability) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path(), options(durability)).unwrap();
    let mut model = Model::new();
    // State known durable, and the effects of each write since then, in order.
    let mut synced = Model::new();
    let mut pending: Vec<Effect> = Vec::new();
    // Open snapshots and the model as it was when each was taken.
    let mut snapshots: Vec<(crowndb::Snapshot, Model)> = Vec::new();
    let always = durability == Durability::Always;
    for op in ops {
        match op {
            Op::Put(k, v) => {
                db.put(&key(k), &v).unwrap();
                pending.push(vec![(key(k), Some(v))]);
            }
            Op::SyncedPut(k, v) => {
                db.put_opt(&key(k), &v, &WriteOptions::synced()).unwrap();
                pending.push(vec![(key(k), Some(v))]);
                // Everything before a synced write is durable too.
                pending.drain(..).for_each(|e| apply(&mut synced, &e));
            }
            Op::Delete(k) => {
                let existed = db.delete(&key(k)).unwrap();
                prop_assert_eq!(existed, model.contains_key(&key(k)));
                pending.push(vec![(key(k), None)]);
            }
            Op::Batch(items) => {
                let mut batch = WriteBatch::new();
                let mut effect = Effect::new();
                for (k, v) in items {
                    match &v {
                        Some(v) => batch.put(&key(k), v),
                        None => batch.delete(&key(k)),
                    };
                    effect.push((key(k), v));
                }
                db.write(&batch).unwrap();
                pending.push(effect);
            }
            Op::Get(k) => {
                prop_assert_eq!(db.get(&key(k)).unwrap(), model.get(&key(k)).cloned());
            }
            Op::Sync => {
                db.sync().unwrap();
                pending.drain(..).for_each(|e| apply(&mut synced, &e));
            }
            Op::Reopen => {
                snapshots.clear();
                db.close().unwrap();
                db = Db::open(dir.path(), options(durability)).unwrap();
                prop_assert_eq!(&read_all(&db), &model);
                synced = model.clone();
                pending.clear();
            }
            Op::Crash { cut, garbage } => {
                snapshots.clear();
                db = crash_and_check(db, dir.path(), durability, cut, garbage, &synced, &pending, &model)?;
                model = read_all(&db);
                synced = model.clone();
                pending.clear();
            }
            Op::CompactThenCrash { bytes, cut } => {
                db.compact_interrupted(bytes).unwrap();
                snapshots.clear();
                db = crash_and_check(db, dir.path(), durability, cut, false, &synced, &pending, &model)?;
                model = read_all(&db);
                synced = model.clone();
                pending.clear();
            }
            Op::TakeSnapshot => {
                snapshots.push((db.snapshot(), model.clone()));
            }
            Op::DropSnapshot(i) => {
                if !snapshots.is_empty() {
                    let i = i % snapshots.len();
                    snapshots.remove(i);
                }
            }
            Op::CheckSnapshots => {
                for (snap, seen) in &snapshots {
                    for k in 0..KEYS {
                        prop_assert_eq!(
                            snap.get(&key(k)).unwrap(),
                            seen.get(&key(k)).cloned(),
                            "snapshot at {} disagrees on key {}",
                            snap.sequence(),
                            k
                        );
                    }
                }
            }
            Op::Compact => {
                db.compact().unwrap();
            }
            Op::Iterate => {
                let mut seen = Model::new();
                for kv in db.iter() {
                    let (k, v) = kv.unwrap();
                    prop_assert!(seen.insert(k, v).is_none(), "iterator returned a key twice");
                }
                prop_assert_eq!(&seen, &model);
            }
            Op::ScanAll(count) => {
                let mut keys = std::collections::BTreeSet::new();
                let mut cursor = 0;
                loop {
                    let page = db.scan(cursor, count).unwrap();
                    keys.extend(page.keys);
                    cursor = page.cursor;
                    if cursor == 0 {
                        break;
                    }
                }
                prop_assert_eq!(keys, model.keys().cloned().collect::<std::collections::BTreeSet<_>>());
            }
        }
        if always {
            pending.drain(..).for_each(|e| apply(&mut synced, &e));
        }
        model = synced.clone();
        pending.iter().for_each(|e| apply(&mut model, e));
    }
    prop_assert_eq!(&read_all(&db), &model);
    db.close().unwrap();
    let db = Db::open(dir.path(), options(durability)).unwrap();
    prop_assert_eq!(&read_all(&db), &model);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn matches_model_without_sync(ops in proptest::collection::vec(op(), 1..150)) {
        run(ops, Durability::Never)?;
    }

    #[test]
    fn matches_model_with_sync_always(ops in proptest::collection::vec(op(), 1..100)) {
        run(ops, Durability::Always)?;
    }
}
