//! A fill far past the page cache, for the index's precision at scale (issue 23): fillseq of
//! `--num` keys (16-byte keys, 100-byte values), the rate of every 10M keys, then with a cold
//! page cache random gets of present and of missing keys, counting the bytes the process read
//! from the disk (`/proc/self/io` read_bytes) and the false candidate reads.
//!
//! cargo run --release -p crowndb --example fill_scale -- --num 300000000 --dir /tmp/crowndb-scale

use std::path::PathBuf;
use std::time::Instant;

use crowndb::{Db, Durability, Options};

fn io_read_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines().find_map(|l| l.strip_prefix("read_bytes:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

fn rss_anon_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("RssAnon:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

fn key(i: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    let mut n = i;
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out
}

fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x.wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

fn main() {
    let mut num = 100_000_000u64;
    let mut reads = 200_000u64;
    let mut dir = PathBuf::from("/tmp/crowndb-scale");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--num" => num = value.parse().expect("--num takes a count"),
            "--reads" => reads = value.parse().expect("--reads takes a count"),
            "--dir" => dir = PathBuf::from(value),
            other => panic!("unknown flag {other}: --num N --reads N --dir DIR"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let options = || Options { durability: Durability::Never, background_compaction: false, ..Options::default() };
    let db = Db::open(&dir, options()).unwrap();
    let value = [b'v'; 100];
    let rss0 = rss_anon_kib();
    let step = 10_000_000u64.min(num);
    let mut started = Instant::now();
    for i in 0..num {
        db.put(&key(i), &value).unwrap();
        if (i + 1) % step == 0 {
            let secs = started.elapsed().as_secs_f64();
            let stats = db.stats();
            println!(
                "{{\"keys\":{},\"rate_last_10m\":{:.0},\"false_candidate_reads\":{},\"ram_per_key\":{:.2},\"segments\":{}}}",
                i + 1,
                step as f64 / secs,
                stats.false_candidate_reads,
                (rss_anon_kib() - rss0) as f64 * 1024.0 / (i + 1) as f64,
                stats.segment_count()
            );
            started = Instant::now();
        }
    }
    db.close().unwrap();
    let _ = std::process::Command::new("sh").arg("-c").arg("sync; echo 3 > /proc/sys/vm/drop_caches").status();
    let t = Instant::now();
    let db = Db::open(&dir, options()).unwrap();
    println!("{{\"reopen_secs\":{:.2}}}", t.elapsed().as_secs_f64());
    let _ = std::process::Command::new("sh").arg("-c").arg("echo 3 > /proc/sys/vm/drop_caches").status();
    for (name, offset) in [("readrandom", 0u64), ("readmissing", num)] {
        let (bytes0, false0) = (io_read_bytes(), db.stats().false_candidate_reads);
        let t = Instant::now();
        for i in 0..reads {
            let k = key(offset + mix(i) % num);
            let found = db.get(&k).unwrap();
            assert_eq!(found.is_some(), offset == 0);
        }
        let secs = t.elapsed().as_secs_f64();
        let disk_reads = (io_read_bytes() - bytes0) as f64 / 4096.0;
        println!(
            "{{\"workload\":\"{name}\",\"gets\":{reads},\"ops_per_sec\":{:.0},\"disk_reads_per_get\":{:.4},\"false_candidates_per_get\":{:.5}}}",
            reads as f64 / secs,
            disk_reads / reads as f64,
            (db.stats().false_candidate_reads - false0) as f64 / reads as f64
        );
    }
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
