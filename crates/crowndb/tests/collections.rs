//! Collections (hashes and sets) through the engine's API: inline and paged layouts, splits,
//! O(1) delete with pages freed in the background, RENAME by head, expiry, reopen, and a
//! crash in the middle of the log.

use crowndb::{Collection, CollectionLimits, CollectionType, Db, Error, KeyType, Layout, Options, WriteOptions};

fn open(dir: &std::path::Path) -> Db {
    let options = Options { segment_size: 4 << 20, background_compaction: false, ..Options::default() };
    let db = Db::open(dir, options).unwrap();
    db.set_collection_limits(CollectionLimits { page_size: 512, ..CollectionLimits::default() });
    db
}

fn hset(db: &Db, key: &[u8], fields: &[(&[u8], &[u8])]) -> usize {
    db.transaction(&WriteOptions::default(), |txn| {
        let mut h = Collection::open_or_create(txn, key, CollectionType::Hash)?;
        let mut added = 0;
        for (f, v) in fields {
            added += h.insert(txn, f, v)? as usize;
        }
        h.commit(txn)?;
        Ok(added)
    })
    .unwrap()
}

fn hget(db: &Db, key: &[u8], field: &[u8]) -> Option<Vec<u8>> {
    db.read(|view| match Collection::open(view, key, CollectionType::Hash)? {
        Some(mut h) => h.get(view, field),
        None => Ok(None),
    })
    .unwrap()
}

fn hlen(db: &Db, key: &[u8]) -> u64 {
    db.read(|view| Ok(Collection::open(view, key, CollectionType::Hash)?.map_or(0, |h| h.len()))).unwrap()
}

fn all(db: &Db, key: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut items = db
        .read(|view| match Collection::open(view, key, CollectionType::Hash)? {
            Some(mut h) => h.all(view),
            None => Ok(Vec::new()),
        })
        .unwrap();
    items.sort();
    items
}

fn is_paged(db: &Db, key: &[u8]) -> bool {
    db.read(|view| Ok(Collection::open(view, key, CollectionType::Hash)?.is_some_and(|h| matches!(h.head().layout, Layout::Paged(_)))))
        .unwrap()
}

#[test]
fn a_hash_grows_from_inline_to_pages_and_every_field_stays_readable_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    assert_eq!(hset(&db, b"h", &[(b"a", b"1"), (b"b", b"2")]), 2);
    assert_eq!(hset(&db, b"h", &[(b"a", b"one")]), 0);
    assert!(!is_paged(&db, b"h"));
    for i in 0..3000u32 {
        hset(&db, b"h", &[(format!("field-{i}").as_bytes(), format!("value-{i}").as_bytes())]);
    }
    assert!(is_paged(&db, b"h"));
    assert_eq!(hlen(&db, b"h"), 3002);
    assert_eq!(hget(&db, b"h", b"a").as_deref(), Some(&b"one"[..]));
    for i in (0..3000u32).step_by(7) {
        assert_eq!(hget(&db, b"h", format!("field-{i}").as_bytes()), Some(format!("value-{i}").into_bytes()));
    }
    assert_eq!(hget(&db, b"h", b"missing"), None);
    // A paged hash is one key, not thousands.
    assert_eq!(db.stats().keys, 1);
    let before = all(&db, b"h");
    assert_eq!(before.len(), 3002);
    db.close().unwrap();
    let db = open(dir.path());
    assert_eq!(all(&db, b"h"), before);
    db.compact().unwrap();
    assert_eq!(all(&db, b"h"), before);
    assert_eq!(db.get(b"h").unwrap_err().kind(), crowndb::ErrorKind::WrongType);
}

#[test]
fn delete_is_one_record_and_the_pages_go_once_freed() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for i in 0..5000u32 {
        hset(&db, b"big", &[(format!("f{i}").as_bytes(), &[b'x'; 40])]);
    }
    let written = db.stats().disk_bytes_written;
    assert!(db.delete(b"big").unwrap());
    assert!(db.stats().disk_bytes_written - written < 100, "DEL wrote more than a tombstone");
    assert_eq!(hlen(&db, b"big"), 0);
    // A new incarnation of the key starts empty: the old pages are not its pages.
    hset(&db, b"big", &[(b"f1", b"new")]);
    assert_eq!(all(&db, b"big"), vec![(b"f1".to_vec(), b"new".to_vec())]);
    db.compact().unwrap();
    let stats = db.stats();
    assert!(stats.live_bytes < 10_000, "dead pages still counted live: {} bytes", stats.live_bytes);
    assert_eq!(stats.keys, 1);
    db.close().unwrap();
    let db = open(dir.path());
    assert_eq!(all(&db, b"big"), vec![(b"f1".to_vec(), b"new".to_vec())]);
}

#[test]
fn pages_of_a_deleted_hash_are_swept_at_open_when_the_process_stopped_before_freeing_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for i in 0..3000u32 {
        hset(&db, b"big", &[(format!("f{i}").as_bytes(), &[b'y'; 40])]);
    }
    db.delete(b"big").unwrap();
    db.put(b"other", b"v").unwrap();
    db.sync().unwrap();
    drop(db.simulate_crash());
    let db = open(dir.path());
    let stats = db.stats();
    assert_eq!(stats.keys, 1);
    assert!(stats.live_bytes < 1_000, "pages of the deleted hash still live: {}", stats.live_bytes);
    assert_eq!(hlen(&db, b"big"), 0);
}

#[test]
fn rename_moves_only_the_head_and_type_errors_are_wrongtype() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for i in 0..2000u32 {
        hset(&db, b"from", &[(format!("f{i}").as_bytes(), b"v")]);
    }
    db.put(b"to", b"a string").unwrap();
    let written = db.stats().disk_bytes_written;
    db.transaction(&WriteOptions::default(), |txn| txn.rename(b"from", b"to")).unwrap();
    assert!(db.stats().disk_bytes_written - written < 200, "RENAME rewrote pages");
    assert_eq!(hlen(&db, b"to"), 2000);
    assert_eq!(hlen(&db, b"from"), 0);
    db.compact().unwrap();
    db.close().unwrap();
    let db = open(dir.path());
    assert_eq!(hlen(&db, b"to"), 2000);
    assert_eq!(hget(&db, b"to", b"f1999").as_deref(), Some(&b"v"[..]));
    let err = db.transaction(&WriteOptions::default(), |txn| Collection::open_or_create(txn, b"to", CollectionType::Set).map(|_| ()));
    assert!(matches!(err, Err(Error::WrongType)));
    db.put(b"s", b"x").unwrap();
    let err = db.read(|view| Collection::open(view, b"s", CollectionType::Hash).map(|_| ()));
    assert!(matches!(err, Err(Error::WrongType)));
    assert_eq!(db.read(|v| v.key_type(b"to")).unwrap(), Some(KeyType::Hash));
    assert!(matches!(db.update(b"to", &WriteOptions::default(), |_| crowndb::Update::Keep), Err(Error::WrongType)));
}

#[test]
fn an_expired_collection_is_gone_and_its_pages_are_freed_by_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(crowndb::ManualClock::new(1_000_000));
    let options = Options { segment_size: 1 << 20, background_compaction: false, clock: clock.clone(), ..Options::default() };
    let db = Db::open(dir.path(), options).unwrap();
    db.set_collection_limits(CollectionLimits { page_size: 512, ..CollectionLimits::default() });
    for i in 0..3000u32 {
        hset(&db, b"ttl", &[(format!("f{i}").as_bytes(), &[b'z'; 40])]);
    }
    assert!(db.touch(b"ttl", Some(1_000_500)).unwrap().is_some());
    assert_eq!(hlen(&db, b"ttl"), 3000);
    clock.advance(1_000);
    assert_eq!(hlen(&db, b"ttl"), 0);
    // Seal the segment holding the head (compaction works on sealed segments).
    for i in 0..6u8 {
        db.put(&[b'f', i], &[0u8; 200_000]).unwrap();
    }
    db.compact().unwrap();
    db.compact().unwrap();
    assert!(db.stats().live_bytes < 1_300_000, "pages of an expired hash still live: {}", db.stats().live_bytes);
}

#[test]
fn reading_a_collection_whole_is_refused_past_a_size_so_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for i in 0..500u32 {
        hset(&db, b"h", &[(format!("field-{i}").as_bytes(), &[b'x'; 100])]);
    }
    let err =
        db.read(|view| Collection::open(view, b"h", CollectionType::Hash)?.unwrap().all_within(view, 10_000).map(|_| ())).unwrap_err();
    assert_eq!(err.kind(), crowndb::ErrorKind::TooLarge);
    assert!(err.to_string().contains("HSCAN"), "{err}");
    let all = db.read(|view| Collection::open(view, b"h", CollectionType::Hash)?.unwrap().all_within(view, 1 << 20)).unwrap();
    assert_eq!(all.len(), 500);
}
