//! Damaged files: flipped bytes in sealed segments, footers and the active tail; the
//! directory lock; limits. Reads of damaged records fail with an error naming the file
//! and offset; everything else still reads; open still works.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crowndb::{Db, ErrorKind, Options, WriteOptions};

fn opts() -> Options {
    Options { segment_size: 64 << 10, background_compaction: false, ..Options::default() }
}

fn key(i: usize) -> Vec<u8> {
    format!("key-{i:05}").into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    format!("value-{i:05}-").repeat(20).into_bytes()
}

/// A store with enough keys for several sealed segments, closed cleanly.
fn filled(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    for i in 0..n {
        db.put(&key(i), &value(i)).unwrap();
    }
    db.close().unwrap();
    dir
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "seg")).collect();
    v.sort();
    v
}

fn flip(path: &Path, offset: u64) {
    let f = fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, offset).unwrap();
    f.write_all_at(&[b[0] ^ 0x40], offset).unwrap();
}

fn find(path: &Path, needle: &[u8]) -> u64 {
    let bytes = fs::read(path).unwrap();
    bytes.windows(needle.len()).position(|w| w == needle).expect("pattern in file") as u64
}

#[test]
fn flipped_byte_in_a_sealed_segment_is_reported_for_that_key_only() {
    let n = 1000;
    let dir = filled(n);
    let first = &segments(dir.path())[0];
    let victim = 3;
    let at = find(first, &value(victim));
    flip(first, at + 5);
    let db = Db::open(dir.path(), opts()).unwrap();
    let err = db.get(&key(victim)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corruption);
    let msg = err.to_string();
    assert!(msg.contains("000000000001.seg") && msg.contains("checksum"), "{msg}");
    for i in (0..n).filter(|&i| i != victim) {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i)), "key {i}");
    }
}

#[test]
fn damaged_footer_is_rebuilt_from_the_records() {
    let n = 1000;
    let dir = filled(n);
    let first = &segments(dir.path())[0];
    let len = fs::metadata(first).unwrap().len();
    flip(first, len - 60); // inside the footer entries
    let db = Db::open(dir.path(), opts()).unwrap();
    for i in 0..n {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i)), "key {i}");
    }
    // The damaged footer bytes were kept aside, not silently dropped.
    assert!(dir.path().join("quarantine").read_dir().unwrap().count() >= 1);
    db.close().unwrap();
    // The rebuilt footer is valid: the next open needs no rebuild and reads the same.
    let q_before = dir.path().join("quarantine").read_dir().unwrap().count();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(dir.path().join("quarantine").read_dir().unwrap().count(), q_before);
    assert_eq!(db.get(&key(0)).unwrap(), Some(value(0)));
}

#[test]
fn garbage_in_the_unsynced_tail_is_cut_and_synced_writes_survive() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    for i in 0..20 {
        db.put_opt(&key(i), &value(i), &WriteOptions::synced()).unwrap();
    }
    for i in 20..25 {
        db.put(&key(i), &value(i)).unwrap();
    }
    let point = db.simulate_crash();
    assert!(point.written_len > point.synced_len);
    let f = fs::OpenOptions::new().write(true).open(&point.active_segment).unwrap();
    f.write_all_at(&[0xAB; 100], point.synced_len + 10).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    for i in 0..20 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i)), "synced key {i} lost");
    }
    assert_eq!(db.get(&key(24)).unwrap(), None, "a record after the damage survived");
    // Writes continue after the cut, and survive another reopen.
    db.put(b"after", b"crash").unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.get(b"after").unwrap(), Some(b"crash".to_vec()));
    assert_eq!(db.get(&key(5)).unwrap(), Some(value(5)));
}

#[test]
fn damaged_segment_header_fails_open_with_the_file_name() {
    let dir = filled(300);
    let first = &segments(dir.path())[0];
    flip(first, 2);
    let err = Db::open(dir.path(), opts()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corruption);
    assert!(err.to_string().contains("000000000001.seg"), "{err}");
}

#[test]
fn second_open_of_a_directory_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let err = Db::open(dir.path(), opts()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Locked);
    assert!(err.to_string().contains("locked by another process"), "{err}");
    db.close().unwrap();
    Db::open(dir.path(), opts()).expect("lock released after close");
}

#[test]
fn oversized_keys_and_values_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { max_value_size: 1000, ..opts() };
    let db = Db::open(dir.path(), options).unwrap();
    let err = db.put(&vec![b'k'; 70_000], b"v").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(err.to_string().contains("key is 70000 bytes"), "{err}");
    let err = db.put(b"k", &[0; 1001]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(err.to_string().contains("limit of 1000"), "{err}");
    assert_eq!(db.stats().keys, 0);
    assert_eq!(db.stats().disk_bytes_written, 0);
}

#[test]
fn missing_directory_without_create_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = Db::open(&missing, Options { create_if_missing: false, ..opts() }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn stats_track_live_and_dead_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    for i in 0..500 {
        db.put(&key(i), &value(i)).unwrap();
    }
    let before = db.stats();
    for i in 0..250 {
        db.put(&key(i), &value(i)).unwrap();
    }
    for i in 250..300 {
        db.delete(&key(i)).unwrap();
    }
    let after = db.stats();
    assert_eq!(after.keys, 450);
    assert!(after.segment_count() > 1);
    assert!(after.dead_bytes > before.dead_bytes);
    let record = (32 + key(0).len() + value(0).len()) as u64;
    assert_eq!(after.live_bytes, 450 * record);
    db.close().unwrap();
    let reopened = Db::open(dir.path(), opts()).unwrap().stats();
    assert_eq!((reopened.keys, reopened.live_bytes), (450, 450 * record));
}

#[test]
fn a_damaged_newest_version_is_an_error_never_the_previous_value() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.put(b"key", &[b'1'; 300]).unwrap();
    db.put(b"key", &[b'2'; 300]).unwrap();
    db.put(b"gone", &[b'3'; 300]).unwrap();
    db.delete(b"gone").unwrap();
    db.close().unwrap();
    let seg = &segments(dir.path())[0];
    flip(seg, find(seg, &[b'2'; 300]) + 150);
    let db = Db::open(dir.path(), opts()).unwrap();
    let err = db.get(b"key").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corruption, "{err}");
    assert_eq!(db.get(b"gone").unwrap(), None);
}

#[test]
fn a_damaged_tombstone_does_not_bring_the_deleted_value_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.put(b"deleted-key", &[b'v'; 300]).unwrap();
    db.delete(b"deleted-key").unwrap();
    db.close().unwrap();
    let seg = &segments(dir.path())[0];
    let bytes = fs::read(seg).unwrap();
    // The tombstone is the second record with this key: damage its checksum field.
    let first = find(seg, b"deleted-key") as usize;
    let second = first + 1 + bytes[first + 1..].windows(11).position(|w| w == b"deleted-key").unwrap();
    flip(seg, (second - 32) as u64);
    let db = Db::open(dir.path(), opts()).unwrap();
    match db.get(b"deleted-key") {
        Ok(None) | Err(_) => {}
        Ok(Some(_)) => panic!("a damaged tombstone let the deleted value come back"),
    }
}

#[test]
fn interrupted_segment_creation_does_not_stop_the_store_opening() {
    let dir = filled(200);
    let newest =
        segments(dir.path()).iter().filter_map(|p| crowndb::format::parse_segment_file_name(p.file_name()?.to_str()?)).max().unwrap();
    // Left by a crash mid-creation: a temporary file, and (older versions) an empty segment.
    fs::write(dir.path().join(format!("{}.tmp", crowndb::format::segment_file_name(newest + 1))), [0u8; 100]).unwrap();
    fs::File::create(dir.path().join(crowndb::format::segment_file_name(newest + 1))).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.get(&key(7)).unwrap(), Some(value(7)));
    assert!(!dir.path().join(format!("{}.tmp", crowndb::format::segment_file_name(newest + 1))).exists());
}

#[test]
fn a_truncated_older_segment_is_refused_with_a_clear_error() {
    let dir = filled(1000);
    let segs = segments(dir.path());
    assert!(segs.len() >= 3);
    let victim = &segs[1];
    let len = fs::metadata(victim).unwrap().len();
    // Cut inside the records (the footer goes too).
    fs::OpenOptions::new().write(true).open(victim).unwrap().set_len(len / 2 + 7).unwrap();
    let err = Db::open(dir.path(), opts()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corruption);
    assert!(err.to_string().contains("truncated") && err.to_string().contains("crowndb repair"), "{err}");
}
