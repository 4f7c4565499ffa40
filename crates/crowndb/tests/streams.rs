//! Streamed large values: constant memory, atomic visibility, no trace when abandoned or
//! interrupted by a crash, snapshots and compaction.

use std::io::{Read, Seek, SeekFrom, Write};

use crowndb::{Db, Durability, ErrorKind, Options};

fn options() -> Options {
    Options { durability: Durability::Never, segment_size: 8 << 20, ..Options::default() }
}

/// Deterministic bytes for position `i` of stream `seed`.
fn byte_at(seed: u64, i: u64) -> u8 {
    ((i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed) >> 29) as u8
}

fn write_stream(db: &Db, key: &[u8], seed: u64, len: u64) -> u64 {
    let mut w = db.put_stream(key, &Default::default()).unwrap();
    let mut buf = vec![0u8; 300_007]; // odd size: chunk boundaries fall mid-write
    let mut at = 0;
    while at < len {
        let n = buf.len().min((len - at) as usize);
        for (j, b) in buf[..n].iter_mut().enumerate() {
            *b = byte_at(seed, at + j as u64);
        }
        w.write_all(&buf[..n]).unwrap();
        at += n as u64;
    }
    w.finish().unwrap()
}

fn check_stream(db: &Db, key: &[u8], seed: u64, len: u64) {
    let mut r = db.get_stream(key).unwrap().expect("stream present");
    assert_eq!(r.len(), len);
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for (j, b) in buf[..n].iter().enumerate() {
            assert_eq!(*b, byte_at(seed, at + j as u64), "byte {} differs", at + j as u64);
        }
        at += n as u64;
    }
    assert_eq!(at, len);
}

fn rss_anon_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("RssAnon:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

#[test]
fn a_large_value_streams_through_flat_memory_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let len = 300 << 20;
    let before = rss_anon_kib();
    write_stream(&db, b"big", 1, len);
    check_stream(&db, b"big", 1, len);
    let grown_mib = rss_anon_kib().saturating_sub(before) / 1024;
    assert!(grown_mib < 64, "anonymous memory grew by {grown_mib} MiB for a 300 MiB value");
    // Too big for the one-buffer API: a clear error pointing to the stream API.
    let err = db.get(b"big").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(err.to_string().contains("get_stream"), "{err}");
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    check_stream(&db, b"big", 1, len);
    // Seek into the middle.
    let mut r = db.get_stream(b"big").unwrap().unwrap();
    r.seek(SeekFrom::Start(len / 2 + 3)).unwrap();
    let mut b = [0u8; 5];
    r.read_exact(&mut b).unwrap();
    assert_eq!(b.to_vec(), (0..5).map(|j| byte_at(1, len / 2 + 3 + j)).collect::<Vec<_>>());
}

#[test]
fn small_streams_read_with_get_and_values_read_as_streams() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    write_stream(&db, b"s", 2, 3_000_000);
    let whole = db.get(b"s").unwrap().unwrap();
    assert_eq!(whole.len(), 3_000_000);
    assert!(whole.iter().enumerate().all(|(i, b)| *b == byte_at(2, i as u64)));
    db.put(b"plain", b"hello").unwrap();
    let mut s = String::new();
    db.get_stream(b"plain").unwrap().unwrap().read_to_string(&mut s).unwrap();
    assert_eq!(s, "hello");
}

#[test]
fn abandoned_and_crashed_streams_leave_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    // Segments of one chunk each: every chunk but those in the active segment is in a
    // sealed segment that compaction can reclaim.
    let options = || Options { segment_size: 2 << 20, ..options() };
    let db = Db::open(dir.path(), options()).unwrap();
    db.put(b"other", b"x").unwrap();
    let live_before = db.stats().live_bytes;
    {
        let mut w = db.put_stream(b"abandoned", &Default::default()).unwrap();
        w.write_all(&vec![1u8; 3 << 20]).unwrap();
    }
    assert_eq!(db.get(b"abandoned").unwrap(), None);
    assert_eq!(db.stats().live_bytes, live_before, "abandoned chunks still counted live");
    // A crash in the middle of a stream: the writer never finishes nor cleans up.
    let mut w = db.put_stream(b"crashed", &Default::default()).unwrap();
    w.write_all(&vec![2u8; 5 << 20]).unwrap();
    std::mem::forget(w);
    db.sync().unwrap();
    let _ = db.simulate_crash();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.get(b"crashed").unwrap(), None);
    assert_eq!(db.get(b"other").unwrap(), Some(b"x".to_vec()));
    assert_eq!(db.stats().keys, 1, "orphan chunks left in the index");
    assert_eq!(db.stats().live_bytes, live_before, "orphan chunks still counted live");
    // Their space is reclaimed by compaction.
    db.compact().unwrap();
    let on_disk: u64 = db.stats().segments.iter().map(|s| s.data_bytes).sum();
    assert!(on_disk <= 2 << 20, "{on_disk} bytes still on disk (8 MiB of chunks were written)");
}

#[test]
fn overwriting_a_stream_retires_its_chunks_but_snapshots_still_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    write_stream(&db, b"v", 3, 6 << 20);
    let snap = db.snapshot();
    db.put(b"v", b"small now").unwrap();
    assert!(db.stats().live_bytes < 1 << 20);
    db.compact().unwrap();
    assert_eq!(snap.get(b"v").unwrap().map(|v| v.len()), Some(6 << 20));
    assert_eq!(db.get(b"v").unwrap(), Some(b"small now".to_vec()));
    drop(snap);
    write_stream(&db, b"w", 4, 4 << 20);
    for i in 0..2000u32 {
        db.put(&i.to_le_bytes(), &[9u8; 500]).unwrap();
    }
    db.compact().unwrap();
    check_stream(&db, b"w", 4, 4 << 20);
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    check_stream(&db, b"w", 4, 4 << 20);
}

#[test]
fn large_puts_are_streamed_and_touch_rewrites_only_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(crowndb::ManualClock::new(1_000_000));
    let db = Db::open(dir.path(), Options { clock: clock.clone(), ..options() }).unwrap();
    let value: Vec<u8> = (0..5_000_000u64).map(|i| byte_at(9, i)).collect();
    let v1 = db.put(b"large", &value).unwrap();
    assert_eq!(db.stats().keys, 1, "chunks of a streamed value are not keys");
    assert_eq!(db.get(b"large").unwrap().as_deref(), Some(&value[..]));
    assert_eq!(db.get_stream(b"large").unwrap().unwrap().len(), 5_000_000);
    let written = db.stats().disk_bytes_written;
    let v2 = db.touch(b"large", Some(1_000_500)).unwrap().expect("live key");
    assert!(v2 > v1);
    let touch_cost = db.stats().disk_bytes_written - written;
    assert!(touch_cost < 200, "touch of a 5 MB value wrote {touch_cost} bytes");
    let entry = db.get_entry(b"large").unwrap().unwrap();
    assert_eq!((entry.expires_at_ms, entry.value.len()), (Some(1_000_500), 5_000_000));
    // The chunks survive the head's rewrite through compaction and reopen.
    db.compact().unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), Options { clock: clock.clone(), ..options() }).unwrap();
    assert_eq!(db.get(b"large").unwrap().as_deref(), Some(&value[..]));
    assert_eq!(db.stats().keys, 1, "chunks of a streamed value are not keys");
    clock.advance(500);
    assert_eq!(db.get(b"large").unwrap(), None);
    assert_eq!(db.touch(b"large", None).unwrap(), None, "an expired key cannot be touched back");
}

/// One rule for every write path: a value `put` accepts (here 9 MiB, larger than a whole
/// segment, so it can only be stored as a stream) is accepted by `update`, `put_if`,
/// `append`, batches and `write_if` too, reads back whole, and survives a reopen; a batch
/// holding one stays all-or-nothing (its envelope is the commit record of the chunks).
#[test]
fn every_write_path_accepts_the_values_put_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let big: Vec<u8> = (0..9_000_000u64).map(|i| byte_at(11, i)).collect();
    db.put(b"put", &big).unwrap();

    let put = |value: &[u8]| crowndb::Update::Put { value: value.to_vec(), flags: 7, expires_at_ms: None };
    db.update(b"update", &Default::default(), |_| put(&big)).expect("update takes what put takes");
    let outcome = db.put_if(b"put_if", &big, crowndb::Condition::IfAbsent, &Default::default()).expect("put_if takes it");
    assert!(matches!(outcome, crowndb::PutOutcome::Stored(_)));
    db.put(b"append", &big[..8_000_000]).unwrap();
    assert_eq!(db.append(b"append", &big[8_000_000..], false).expect("append takes it"), Some(big.len()));

    let mut batch = crowndb::WriteBatch::new();
    batch.put(b"batch-big", &big).put(b"batch-small", b"s").delete(b"put");
    db.write(&batch).expect("a batch takes what put takes");
    let moved = db
        .write_if(&[b"batch-big"], &Default::default(), |entries| {
            let mut b = crowndb::WriteBatch::new();
            b.put(b"write_if", &entries[0].as_ref()?.value);
            Some(b)
        })
        .expect("write_if takes it");
    assert!(moved);

    let check = |db: &Db| {
        for key in [&b"update"[..], b"put_if", b"append", b"batch-big", b"write_if"] {
            let got = db.get(key).unwrap().unwrap_or_else(|| panic!("{} missing", String::from_utf8_lossy(key)));
            assert!(got == big, "{} reads back different bytes", String::from_utf8_lossy(key));
        }
        assert_eq!(db.get_entry(b"update").unwrap().unwrap().flags, 7);
        assert_eq!(db.get(b"batch-small").unwrap().as_deref(), Some(&b"s"[..]));
        assert_eq!(db.get(b"put").unwrap(), None);
        assert_eq!(db.stats().keys, 6, "chunks of streamed values are not keys");
    };
    check(&db);
    // Overwriting a streamed value written by a batch retires its chunks like any other.
    db.update(b"update", &Default::default(), |_| put(b"small")).unwrap();
    db.update(b"update", &Default::default(), |_| put(&big)).unwrap();
    db.compact().unwrap();
    check(&db);
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    check(&db);

    // A crash after the chunks of a batch's value and before its envelope: nothing of it.
    let mut batch = crowndb::WriteBatch::new();
    batch.put(b"torn-big", &big).put(b"torn-small", b"s");
    db.write(&batch).unwrap();
    db.sync().unwrap();
    let crash = db.simulate_crash();
    let envelope_len = 32 + (32 + b"torn-big".len() + 24) + (32 + b"torn-small".len() + 1);
    let file = std::fs::OpenOptions::new().write(true).open(&crash.active_segment).unwrap();
    // Zero the envelope (the last record written): the chunks before it stay.
    std::os::unix::fs::FileExt::write_all_at(&file, &vec![0u8; envelope_len], crash.written_len - envelope_len as u64).unwrap();
    drop(file);
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.get(b"torn-big").unwrap(), None);
    assert_eq!(db.get(b"torn-small").unwrap(), None);
    check(&db);
}
