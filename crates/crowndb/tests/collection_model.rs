//! Model-based test of collections: random hash and set commands (each one transaction)
//! against a model of `BTreeMap`s and `BTreeSet`s, with tiny layout limits so collections
//! go from inline to paged and split their pages often, deletes, renames, string
//! overwrites, compactions, reopens and simulated crashes (the unsynced tail cut or
//! garbled at a random byte). After a crash the store must equal the model after some
//! prefix of the commands since the last sync: every command whole or absent.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use crowndb::{Collection, CollectionLimits, CollectionType, Db, Durability, Options, WriteOptions};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Str(Vec<u8>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
}

type Model = BTreeMap<Vec<u8>, Value>;

#[derive(Debug, Clone)]
enum Op {
    HSet(u8, Vec<(u16, u8)>),
    HDel(u8, Vec<u16>),
    SAdd(u8, Vec<u16>),
    SRem(u8, Vec<u16>),
    Del(u8),
    Rename(u8, u8),
    PutString(u8),
    Check(u8),
    Sync,
    Reopen,
    Compact,
    Crash { cut: f64, garbage: bool },
}

const KEYS: u8 = 4;

fn key(k: u8) -> Vec<u8> {
    format!("coll-{k}").into_bytes()
}

fn member(m: u16) -> Vec<u8> {
    // Some members long enough to push a hash or set out of its inline form.
    if m.is_multiple_of(17) {
        format!("member-{m}-{}", "m".repeat(70)).into_bytes()
    } else {
        format!("member-{m}").into_bytes()
    }
}

fn field_value(v: u8) -> Vec<u8> {
    vec![b'v'; v as usize % 50]
}

fn op() -> impl Strategy<Value = Op> {
    let members = || proptest::collection::vec(0u16..400, 1..12);
    prop_oneof![
        10 => (0..KEYS, proptest::collection::vec((0u16..400, any::<u8>()), 1..12)).prop_map(|(k, f)| Op::HSet(k, f)),
        4 => (0..KEYS, members()).prop_map(|(k, f)| Op::HDel(k, f)),
        10 => (0..KEYS, members()).prop_map(|(k, m)| Op::SAdd(k, m)),
        4 => (0..KEYS, members()).prop_map(|(k, m)| Op::SRem(k, m)),
        1 => (0..KEYS).prop_map(Op::Del),
        1 => (0..KEYS, 0..KEYS).prop_map(|(a, b)| Op::Rename(a, b)),
        1 => (0..KEYS).prop_map(Op::PutString),
        4 => (0..KEYS).prop_map(Op::Check),
        1 => Just(Op::Sync),
        1 => Just(Op::Reopen),
        1 => Just(Op::Compact),
        1 => (0.0f64..1.0, any::<bool>()).prop_map(|(cut, garbage)| Op::Crash { cut, garbage }),
    ]
}

fn open(dir: &std::path::Path) -> Db {
    let db = Db::open(dir, Options { segment_size: 64 << 10, durability: Durability::Never, ..Options::default() }).unwrap();
    db.set_collection_limits(CollectionLimits {
        hash_max_listpack_entries: 4,
        set_max_intset_entries: 4,
        set_max_listpack_entries: 4,
        page_size: 256,
        ..CollectionLimits::default()
    });
    db
}

fn read_key(db: &Db, k: &[u8]) -> Option<Value> {
    db.read(|view| {
        Ok(match view.key_type(k)? {
            None => None,
            Some(crowndb::KeyType::String) => None, // read below, outside the view
            Some(crowndb::KeyType::Hash) => {
                let mut h = Collection::open(view, k, CollectionType::Hash)?.unwrap();
                let items = h.all(view)?;
                assert_eq!(items.len() as u64, h.len(), "hash count disagrees with its members");
                Some(Value::Hash(items.into_iter().collect()))
            }
            Some(crowndb::KeyType::Set) => {
                let mut s = Collection::open(view, k, CollectionType::Set)?.unwrap();
                let items = s.all(view)?;
                assert_eq!(items.len() as u64, s.len(), "set count disagrees with its members");
                Some(Value::Set(items.into_iter().map(|(m, _)| m).collect()))
            }
        })
    })
    .unwrap()
    .or_else(|| db.get(k).ok().flatten().map(Value::Str))
}

fn read_all(db: &Db) -> Model {
    (0..KEYS).filter_map(|k| read_key(db, &key(k)).map(|v| (key(k), v))).collect()
}

/// Applies one command to the store (one transaction) and to a copy of the model; returns
/// the model after it. A command on a key of the other type fails with WrongType and
/// changes nothing, in both.
fn apply(db: &Db, model: &Model, op: &Op) -> Model {
    let mut next = model.clone();
    let result = db.transaction(&WriteOptions::default(), |txn| match op {
        Op::HSet(k, fields) => {
            let mut c = Collection::open_or_create(txn, &key(*k), CollectionType::Hash)?;
            for (f, v) in fields {
                c.insert(txn, &member(*f), &field_value(*v))?;
            }
            c.commit(txn)
        }
        Op::HDel(k, fields) => match Collection::open(txn, &key(*k), CollectionType::Hash)? {
            Some(mut c) => {
                for f in fields {
                    c.remove(txn, &member(*f))?;
                }
                c.commit(txn)
            }
            None => Ok(()),
        },
        Op::SAdd(k, members) => {
            let mut c = Collection::open_or_create(txn, &key(*k), CollectionType::Set)?;
            for m in members {
                c.insert(txn, &member(*m), b"")?;
            }
            c.commit(txn)
        }
        Op::SRem(k, members) => match Collection::open(txn, &key(*k), CollectionType::Set)? {
            Some(mut c) => {
                for m in members {
                    c.remove(txn, &member(*m))?;
                }
                c.commit(txn)
            }
            None => Ok(()),
        },
        Op::Del(k) => txn.delete(&key(*k)).map(|_| ()),
        Op::Rename(a, b) => txn.rename(&key(*a), &key(*b)).map(|_| ()),
        Op::PutString(k) => txn.put(&key(*k), b"a string now", &WriteOptions::default()),
        _ => Ok(()),
    });
    let wrong_type = matches!(result, Err(crowndb::Error::WrongType));
    if !wrong_type {
        result.unwrap();
    }
    match op {
        Op::HSet(k, fields) => match next.entry(key(*k)).or_insert_with(|| Value::Hash(BTreeMap::new())) {
            Value::Hash(h) => h.extend(fields.iter().map(|(f, v)| (member(*f), field_value(*v)))),
            _ => assert!(wrong_type, "HSET on a non-hash did not fail"),
        },
        Op::HDel(k, fields) => {
            if let Some(Value::Hash(h)) = next.get_mut(&key(*k)) {
                fields.iter().for_each(|f| drop(h.remove(&member(*f))));
                if h.is_empty() {
                    next.remove(&key(*k));
                }
            } else {
                assert_eq!(wrong_type, next.contains_key(&key(*k)));
            }
        }
        Op::SAdd(k, members) => match next.entry(key(*k)).or_insert_with(|| Value::Set(BTreeSet::new())) {
            Value::Set(s) => s.extend(members.iter().map(|m| member(*m))),
            _ => assert!(wrong_type, "SADD on a non-set did not fail"),
        },
        Op::SRem(k, members) => {
            if let Some(Value::Set(s)) = next.get_mut(&key(*k)) {
                members.iter().for_each(|m| {
                    s.remove(&member(*m));
                });
                if s.is_empty() {
                    next.remove(&key(*k));
                }
            } else {
                assert_eq!(wrong_type, next.contains_key(&key(*k)));
            }
        }
        Op::Del(k) => drop(next.remove(&key(*k))),
        Op::Rename(a, b) => {
            if let Some(v) = next.remove(&key(*a)) {
                next.insert(key(*b), v);
            }
        }
        Op::PutString(k) => drop(next.insert(key(*k), Value::Str(b"a string now".to_vec()))),
        _ => {}
    }
    next
}

fn crash(db: Db, dir: &std::path::Path, cut: f64, garbage: bool) -> Db {
    let point = db.simulate_crash();
    if point.written_len > point.synced_len {
        let at = point.synced_len + ((point.written_len - point.synced_len) as f64 * cut) as u64;
        let file = OpenOptions::new().write(true).open(&point.active_segment).unwrap();
        let len = (point.written_len - at) as usize;
        let bytes: Vec<u8> =
            if garbage { (0..len.min(512)).map(|i| (i as u8).wrapping_mul(151).wrapping_add(7)).collect() } else { vec![0; len] };
        file.write_all_at(&bytes, at).unwrap();
    }
    open(dir)
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    let mut model = Model::new();
    // Model states since the last sync: after a crash the store must be one of them.
    let mut since_sync = vec![Model::new()];
    for op in ops {
        match op {
            Op::Check(k) => prop_assert_eq!(read_key(&db, &key(k)), model.get(&key(k)).cloned(), "key {}", k),
            Op::Sync => {
                db.sync().unwrap();
                since_sync = vec![model.clone()];
            }
            Op::Reopen => {
                db.close().unwrap();
                db = open(dir.path());
                prop_assert_eq!(&read_all(&db), &model);
                since_sync = vec![model.clone()];
            }
            Op::Compact => {
                db.compact().unwrap();
                prop_assert_eq!(&read_all(&db), &model);
            }
            Op::Crash { cut, garbage } => {
                db = crash(db, dir.path(), cut, garbage);
                let recovered = read_all(&db);
                prop_assert!(
                    since_sync.contains(&recovered),
                    "after a crash the store is no prefix of the commands since the last sync: {:?}",
                    recovered
                );
                model = recovered;
                since_sync = vec![model.clone()];
            }
            ref command => {
                model = apply(&db, &model, command);
                since_sync.push(model.clone());
            }
        }
    }
    prop_assert_eq!(&read_all(&db), &model);
    db.close().unwrap();
    let db = open(dir.path());
    prop_assert_eq!(&read_all(&db), &model);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn collections_match_the_model_through_splits_reopens_and_crashes(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops)?;
    }
}
