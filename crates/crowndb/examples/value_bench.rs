//! Throughput of put and get by value size (100 B, 4 KiB, 64 KiB, 1 MiB), with and without
//! LZ4, and of one streamed value against `dd` writing the same bytes with a final fsync.
//!
//! cargo run --release -p crowndb --example value_bench -- [DIR] [STREAM_MIB]

use std::io::{Read, Write};
use std::time::Instant;

use crowndb::{Compression, Db, Durability, Options};

/// Text-like bytes (compress about 2-3x with LZ4), deterministic.
fn fill(buf: &mut [u8], seed: u64) {
    let words = [&b"alpha "[..], b"bravo ", b"charlie ", b"delta ", b"echo ", b"foxtrot ", b"golf ", b"hotel "];
    let mut x = seed | 1;
    let mut i = 0;
    while i < buf.len() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let w = words[(x % 8) as usize];
        let n = w.len().min(buf.len() - i);
        buf[i..i + n].copy_from_slice(&w[..n]);
        if x.is_multiple_of(5) && i < buf.len() {
            buf[i] = (x >> 20) as u8; // some noise
        }
        i += n;
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "/tmp/crowndb-value-bench".into()));
    let stream_mib: u64 = args.next().map_or(2048, |s| s.parse().expect("stream size in MiB"));
    println!("{:<10} {:<6} {:>12} {:>10} {:>12} {:>10}", "size", "lz4", "put ops/s", "put MB/s", "get ops/s", "get MB/s");
    for &size in &[100usize, 4 << 10, 64 << 10, 1 << 20] {
        for compression in [Compression::Off, Compression::Lz4] {
            let _ = std::fs::remove_dir_all(&dir);
            let db =
                Db::open(&dir, Options { durability: Durability::Never, compression, background_compaction: false, ..Options::default() })
                    .unwrap();
            let n = ((256usize << 20) / size).max(64);
            let mut value = vec![0u8; size];
            let start = Instant::now();
            for i in 0..n {
                fill(&mut value[..size.min(64)], i as u64); // vary the start, keep the rest
                if i == 0 {
                    fill(&mut value, 7);
                }
                db.put(&(i as u64).to_be_bytes(), &value).unwrap();
            }
            db.sync().unwrap();
            let put = start.elapsed().as_secs_f64();
            let start = Instant::now();
            let mut bytes = 0usize;
            for i in 0..n {
                bytes += db.get(&(i as u64).to_be_bytes()).unwrap().expect("present").len();
            }
            let get = start.elapsed().as_secs_f64();
            assert_eq!(bytes, n * size);
            let mb = (n * size) as f64 / 1e6;
            let label = if size >= 1 << 20 {
                format!("{} MiB", size >> 20)
            } else if size >= 1024 {
                format!("{} KiB", size >> 10)
            } else {
                format!("{size} B")
            };
            println!(
                "{label:<10} {:<6} {:>12.0} {:>10.1} {:>12.0} {:>10.1}",
                if compression == Compression::Off { "off" } else { "on" },
                n as f64 / put,
                mb / put,
                n as f64 / get,
                mb / get
            );
            drop(db);
        }
    }

    // One streamed value, synced, against dd writing as many bytes with conv=fsync.
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(&dir, Options { durability: Durability::Never, background_compaction: false, ..Options::default() }).unwrap();
    let total = stream_mib << 20;
    let mut piece = vec![0u8; 4 << 20];
    fill(&mut piece, 3);
    let start = Instant::now();
    let mut w = db.put_stream(b"stream", &Default::default()).unwrap();
    let mut written = 0;
    while written < total {
        w.write_all(&piece).unwrap();
        written += piece.len() as u64;
    }
    w.finish().unwrap();
    db.sync().unwrap();
    let stream_secs = start.elapsed().as_secs_f64();
    let mut r = db.get_stream(b"stream").unwrap().unwrap();
    let start = Instant::now();
    let mut buf = vec![0u8; 4 << 20];
    let mut read = 0u64;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    let read_secs = start.elapsed().as_secs_f64();
    assert_eq!(read, total);
    drop(r);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("dd.out");
    let start = Instant::now();
    let status = std::process::Command::new("dd")
        .args([
            "if=/dev/zero",
            &format!("of={}", target.display()),
            "bs=4M",
            &format!("count={}", total >> 22),
            "conv=fsync",
            "status=none",
        ])
        .status()
        .expect("run dd");
    let dd_secs = start.elapsed().as_secs_f64();
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&dir);
    let mbs = |secs: f64| total as f64 / secs / 1e6;
    println!(
        "stream {stream_mib} MiB: write+sync {:.0} MB/s, read {:.0} MB/s; dd conv=fsync {:.0} MB/s; stream/dd = {:.2}",
        mbs(stream_secs),
        mbs(read_secs),
        mbs(dd_secs),
        dd_secs / stream_secs
    );
}
