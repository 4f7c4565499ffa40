//! LZ4 compression: on, off and auto, in one store across reopens, through every read path.

use std::collections::BTreeMap;

use crowndb::{Compression, Db, Options, WriteBatch};

fn open(dir: &std::path::Path, compression: Compression) -> Db {
    Db::open(dir, Options { compression, segment_size: 256 << 10, background_compaction: false, ..Options::default() }).unwrap()
}

fn text(i: usize) -> Vec<u8> {
    format!("record {i}: the same words again and again, the same words again and again. ").repeat(10).into_bytes()
}

fn noise(i: usize) -> Vec<u8> {
    (0..700u64).map(|j| ((j + i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8).collect()
}

#[test]
fn mixed_codecs_read_back_everywhere_and_compress_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = BTreeMap::new();
    let modes = [Compression::Off, Compression::Lz4, Compression::Auto, Compression::Off];
    for (round, mode) in modes.into_iter().enumerate() {
        let db = open(dir.path(), mode);
        for i in 0..300 {
            let key = format!("k{round}-{i}").into_bytes();
            let value = if i % 2 == 0 { text(i) } else { noise(i) };
            db.put(&key, &value).unwrap();
            expected.insert(key, value);
        }
        let mut batch = WriteBatch::new();
        batch.put(format!("batch{round}").as_bytes(), &text(round));
        db.write(&batch).unwrap();
        expected.insert(format!("batch{round}").into_bytes(), text(round));
        db.update(b"counter", &Default::default(), |e| {
            let n = e.map_or(0, |e| e.value.len());
            crowndb::Update::Put { value: text(n % 7), flags: 0, expires_at_ms: None }
        })
        .unwrap();
        db.close().unwrap();
    }
    let db = open(dir.path(), Compression::Auto);
    expected.insert(b"counter".to_vec(), db.get(b"counter").unwrap().unwrap());
    for (k, v) in &expected {
        assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "key {}", String::from_utf8_lossy(k));
    }
    let snap = db.snapshot();
    db.compact().unwrap();
    let seen: BTreeMap<_, _> = snap.iter().map(|kv| kv.unwrap()).collect();
    assert_eq!(seen, expected);
    // Compressible values took less room than they would raw.
    let stats = db.stats();
    let raw: usize = expected.iter().map(|(k, v)| 32 + k.len() + v.len()).sum();
    // (Half the rounds compress, and only their text values shrink.)
    assert!((stats.live_bytes as usize) < raw * 85 / 100, "live {} vs raw {raw}", stats.live_bytes);
}

#[test]
fn auto_keeps_incompressible_values_raw() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Compression::Auto);
    for i in 0..100 {
        db.put(format!("n{i}").as_bytes(), &noise(i)).unwrap();
    }
    let raw: u64 = (0..100).map(|i| (32 + format!("n{i}").len() + noise(i).len()) as u64).sum();
    assert_eq!(db.stats().live_bytes, raw);
}
