//! db_bench-style measurement of the engine: fillseq, fillrandom, readrandom, RAM per key,
//! and reopen time against a full verifying scan. 16-byte keys, 100-byte values.
//!
//! cargo run --release -p crowndb --example engine_bench -- --num 10000000 --reads 1000000 --dir /tmp/crowndb-bench
//!
//! Prints a table, and one JSON object per line to `--json FILE` if given.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crowndb::{Db, Durability, Options};

struct Args {
    num: u64,
    reads: u64,
    dir: PathBuf,
    json: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut args = Args { num: 1_000_000, reads: 1_000_000, dir: std::env::temp_dir().join("crowndb-bench"), json: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--num" => args.num = value().parse().expect("--num takes a count"),
            "--reads" => args.reads = value().parse().expect("--reads takes a count"),
            "--dir" => args.dir = PathBuf::from(value()),
            "--json" => args.json = Some(PathBuf::from(value())),
            other => panic!("unknown flag {other}; flags: --num N --reads N --dir DIR --json FILE"),
        }
    }
    args
}

/// xorshift64*: a fast, deterministic stream of random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn key(i: u64, out: &mut [u8; 16]) {
    let mut n = i;
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

fn rss_anon_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("RssAnon:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

/// Empties the OS page cache (needs root) so reopen and scan read from the disk.
fn drop_caches() {
    let _ = std::process::Command::new("sync").status();
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "3");
}

fn options() -> Options {
    Options { durability: Durability::Never, ..Options::default() }
}

fn fresh(dir: &Path) -> Db {
    let _ = std::fs::remove_dir_all(dir);
    Db::open(dir, options()).expect("open bench store")
}

struct Report {
    lines: Vec<String>,
}

impl Report {
    fn add(&mut self, workload: &str, ops: u64, secs: f64, extra: &[(&str, f64)]) {
        let ops_per_sec = ops as f64 / secs;
        let mb = ops as f64 * 116.0 / secs / 1e6;
        let mut row = format!("{workload:<12} {ops:>10} ops {secs:>8.3} s {ops_per_sec:>12.0} ops/s {mb:>8.1} MB/s");
        let mut json = format!("{{\"store\":\"crowndb\",\"workload\":\"{workload}\",\"ops\":{ops},\"secs\":{secs:.6},\"ops_per_sec\":{ops_per_sec:.1},\"mb_per_sec\":{mb:.2}");
        for (name, v) in extra {
            row.push_str(&format!("  {name}={v:.3}"));
            json.push_str(&format!(",\"{name}\":{v:.4}"));
        }
        json.push('}');
        println!("{row}");
        self.lines.push(json);
    }
}

fn main() {
    let args = parse_args();
    let mut report = Report { lines: Vec::new() };
    let mut value = [0u8; 100];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for b in value.iter_mut() {
        *b = rng.next() as u8;
    }
    let mut k = [0u8; 16];
    let seq_dir = args.dir.join("seq");
    let random_dir = args.dir.join("random");

    // fillseq first, in a fresh process, so the RAM it adds is the index alone
    let db = fresh(&seq_dir);
    let empty_rss = rss_anon_kib();
    let start = Instant::now();
    for i in 0..args.num {
        key(i, &mut k);
        db.put(&k, &value).unwrap();
    }
    db.sync().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let stats = db.stats();
    let ram_per_key = (rss_anon_kib().saturating_sub(empty_rss)) as f64 * 1024.0 / stats.keys.max(1) as f64;
    let index_per_key = stats.index_memory_bytes as f64 / stats.keys.max(1) as f64;
    db.close().unwrap();
    report.add(
        "fillseq",
        args.num,
        secs,
        &[("keys", stats.keys as f64), ("ram_per_key_bytes", ram_per_key), ("index_bytes_per_key", index_per_key)],
    );

    // fillrandom
    let db = fresh(&random_dir);
    let start = Instant::now();
    for _ in 0..args.num {
        key(rng.next() % args.num, &mut k);
        db.put(&k, &value).unwrap();
    }
    db.sync().unwrap();
    let secs = start.elapsed().as_secs_f64();
    report.add("fillrandom", args.num, secs, &[("keys", db.stats().keys as f64)]);

    // readrandom over the same key range: about 63% of the keys exist after fillrandom
    let start = Instant::now();
    let mut found = 0u64;
    for _ in 0..args.reads {
        key(rng.next() % args.num, &mut k);
        if db.get(&k).unwrap().is_some() {
            found += 1;
        }
    }
    report.add("readrandom", args.reads, start.elapsed().as_secs_f64(), &[("found", found as f64)]);
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&random_dir);

    // reopen (footers) against a paranoid open that reads and verifies every record
    drop_caches();
    let start = Instant::now();
    let db = Db::open(&seq_dir, options()).unwrap();
    let reopen = start.elapsed().as_secs_f64();
    assert_eq!(db.stats().keys, stats.keys, "reopen lost keys");
    db.close().unwrap();
    drop_caches();
    let start = Instant::now();
    let db = Db::open(&seq_dir, Options { paranoid_open: true, ..options() }).unwrap();
    let scan = start.elapsed().as_secs_f64();
    assert_eq!(db.stats().keys, stats.keys, "full scan lost keys");
    db.close().unwrap();
    report.add("reopen", stats.keys, reopen, &[("full_scan_secs", scan), ("reopen_over_scan", reopen / scan)]);

    if let Some(path) = &args.json {
        let mut f = std::fs::File::create(path).expect("create --json file");
        for l in &report.lines {
            writeln!(f, "{l}").unwrap();
        }
    }
    let _ = std::fs::remove_dir_all(&args.dir);
}
