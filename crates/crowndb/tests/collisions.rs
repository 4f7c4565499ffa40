//! Keys whose hashes share their index entry: lookups must read the candidates' records and
//! tell the keys apart. Under `--features colliding-hash` (scripts/test) the key hash keeps 4
//! bits, so 500 keys share 16 entries' worth of hash; without it the keys are spread and the
//! test checks the same behaviour with (almost) no false candidates.

use crowndb::{Db, Options, WriteBatch};

#[test]
fn lookups_inserts_deletes_compaction_and_reopen_tell_colliding_keys_apart() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options { segment_size: 1 << 20, ..Options::default() };
    let db = Db::open(dir.path(), opts()).unwrap();
    for i in 0..500u32 {
        db.put(format!("key-{i}").as_bytes(), format!("value-{i}").as_bytes()).unwrap();
    }
    let mut batch = WriteBatch::new();
    for i in (0..500u32).step_by(3) {
        batch.delete(format!("key-{i}").as_bytes());
    }
    db.write(&batch).unwrap();
    for i in (1..500u32).step_by(3) {
        db.put(format!("key-{i}").as_bytes(), format!("new-{i}").as_bytes()).unwrap();
    }
    let snapshot = db.snapshot();
    db.put(b"key-2", b"after the snapshot").unwrap();
    let expect = |i: u32| match i % 3 {
        0 => None,
        1 => Some(format!("new-{i}").into_bytes()),
        _ => Some(format!("value-{i}").into_bytes()),
    };
    assert_eq!(snapshot.get(b"key-2").unwrap(), Some(b"value-2".to_vec()));
    drop(snapshot);
    db.compact().unwrap();
    for i in 0..500u32 {
        let want = if i == 2 { Some(b"after the snapshot".to_vec()) } else { expect(i) };
        assert_eq!(db.get(format!("key-{i}").as_bytes()).unwrap(), want, "key-{i}");
        assert_eq!(db.get(format!("missing-{i}").as_bytes()).unwrap(), None);
    }
    let false_reads = db.stats().false_candidate_reads;
    if cfg!(feature = "colliding-hash") {
        assert!(false_reads > 1000, "colliding keys were told apart without reading them? {false_reads}");
    } else {
        assert!(false_reads < 10, "{false_reads} records of other keys read by 2,000 lookups");
    }
    assert_eq!(db.stats().keys, 500 - 167);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    for i in 0..500u32 {
        let want = if i == 2 { Some(b"after the snapshot".to_vec()) } else { expect(i) };
        assert_eq!(db.get(format!("key-{i}").as_bytes()).unwrap(), want, "key-{i} after reopen");
    }
    let mut keys: Vec<Vec<u8>> = db.iter().map(|e| e.unwrap().0).collect();
    keys.sort();
    assert_eq!(keys.len(), 333);
}
