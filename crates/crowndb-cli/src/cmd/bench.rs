//! `crowndb bench`: db_bench-style workloads on the engine, with latency percentiles
//! (hdrhistogram), RAM per key, bytes on disk, space and write amplification.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, ValueEnum};
use crowndb::{Compression, Db, Durability, Options};
use hdrhistogram::Histogram;
use indicatif::ProgressBar;

use super::{io_error, progress, CliError, CliResult};

/// Every workload, in the default order.
pub const WORKLOADS: [&str; 9] =
    ["fillseq", "fillrandom", "overwrite", "readrandom", "readmissing", "readhot", "readwhilewriting", "deleterandom", "mixed"];

/// Arguments of `crowndb bench`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Run db_bench-style workloads and report, per workload, ops/s, MB/s (MiB, as db_bench), latency percentiles, RAM per key, bytes on disk, space and write amplification.\n\nWorkloads: fillseq and fillrandom (each on a fresh store: --num puts, in key order or random), overwrite (--num random puts of existing keys), readrandom, readmissing (keys never written), readhot (reads of 1% of the keys), readwhilewriting (--threads readers and one writer overwriting meanwhile; the readers are measured), deleterandom, mixed (--read-percent reads, the rest puts). Workloads that read fill the store first if it is empty. --num operations are split across --threads threads.\n\nExamples:\n  crowndb bench --num 1000000 --workloads fillrandom,readrandom\n  crowndb bench --num 100000 \
                        --threads 2 --durability always --json > results.jsonl"
)]
pub struct BenchArgs {
    /// Directory for the benchmark's store: created if missing; emptied before each fill
    /// workload, so it must be empty or a directory an earlier bench made. Default: a new
    /// temporary directory, removed at the end.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Comma-separated workloads, run in the order given.
    #[arg(long, value_name = "A,B,C", value_delimiter = ',', default_values_t = WORKLOADS.map(String::from))]
    pub workloads: Vec<String>,
    /// Operations per workload (and keys written by the fills).
    #[arg(long, default_value_t = 1_000_000)]
    pub num: u64,
    /// Key size in bytes (keys are zero-padded decimal numbers).
    #[arg(long, default_value_t = 16)]
    pub key_size: usize,
    /// Value size in bytes (the mean, with --value-size-dist uniform).
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// fixed: every value --value-size bytes; uniform: 1 .. 2 × --value-size bytes.
    #[arg(long, value_enum, default_value_t = ValueDist::Fixed)]
    pub value_size_dist: ValueDist,
    /// Client threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// always (each write synced; concurrent writes share syncs), everysec, never, or a
    /// period such as 100ms.
    #[arg(long, default_value = "never")]
    pub durability: String,
    /// Value compression of the store: off, lz4 or auto (lz4 where it saves 10%).
    #[arg(long, value_enum, default_value_t = CompressionArg::Off)]
    pub compression: CompressionArg,
    /// How compressible values are, as db_bench's --compression_ratio: each 100-byte block
    /// of value data is this share of random bytes, repeated.
    #[arg(long, default_value_t = 0.5)]
    pub compression_ratio: f64,
    /// Share of reads in the mixed workload, in percent.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub read_percent: u8,
    /// One JSON object per line per workload instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Segment size of the store, in bytes.
    #[arg(long, default_value_t = 32 << 20)]
    pub segment_size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    Off,
    Lz4,
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValueDist {
    Fixed,
    Uniform,
}

/// The result of one workload.
#[derive(Debug, Clone)]
pub struct Report {
    pub workload: String,
    pub ops: u64,
    pub secs: f64,
    pub bytes: u64,
    pub hist: Histogram<u64>,
    pub ram_per_key: f64,
    pub index_per_key: f64,
    pub keys: u64,
    pub disk_bytes: u64,
    pub space_amp: f64,
    pub write_amp: f64,
    /// Group commit during the workload: syncs run, and writes that waited for one.
    pub sync: crowndb::SyncStats,
    /// Records of other keys read by the workload's lookups (index precision).
    pub false_candidate_reads: u64,
}

impl Report {
    fn us(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn json(&self, args: &BenchArgs) -> serde_json::Value {
        serde_json::json!({
            "workload": self.workload,
            "ops": self.ops,
            "threads": args.threads,
            "secs": self.secs,
            "ops_per_sec": self.ops as f64 / self.secs,
            "mb_per_sec": self.bytes as f64 / self.secs / (1 << 20) as f64,
            "p50_us": self.us(0.5),
            "p99_us": self.us(0.99),
            "p999_us": self.us(0.999),
            "max_us": self.hist.max() as f64 / 1000.0,
            "ram_per_key_bytes": self.ram_per_key,
            "index_bytes_per_key": self.index_per_key,
            "keys": self.keys,
            "disk_bytes": self.disk_bytes,
            "space_amp": self.space_amp,
            "write_amp": self.write_amp,
            "syncs": self.sync.syncs,
            "false_candidate_reads_per_op": self.false_candidate_reads as f64 / self.ops.max(1) as f64,
            "writes_per_sync": if self.sync.syncs == 0 { 0.0 } else { self.sync.waits as f64 / self.sync.syncs as f64 },
            "sync_wait_us_mean": if self.sync.waits == 0 { 0.0 } else { self.sync.wait_micros as f64 / self.sync.waits as f64 },
            "key_size": args.key_size,
            "value_size": args.value_size,
            "durability": args.durability,
            "compression": format!("{:?}", args.compression).to_lowercase(),
        })
    }
}

/// xorshift64*: fast, deterministic per thread.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n.max(1) as u128) >> 64) as u64
    }
}

/// Shared, read-only inputs of the worker threads.
struct Setup {
    key_size: usize,
    value_size: usize,
    dist: ValueDist,
    /// Random bytes that values are cut from.
    pool: Vec<u8>,
}

impl Setup {
    fn key(&self, i: u64, out: &mut Vec<u8>) {
        out.clear();
        let digits = i.to_string();
        out.resize(self.key_size.saturating_sub(digits.len()), b'0');
        out.extend_from_slice(digits.as_bytes());
    }

    /// A key that is never written: the last digit replaced by `m`.
    fn missing_key(&self, i: u64, out: &mut Vec<u8>) {
        self.key(i, out);
        if let Some(last) = out.last_mut() {
            *last = b'm';
        }
    }

    fn value<'a>(&'a self, rng: &mut Rng) -> &'a [u8] {
        let len = match self.dist {
            ValueDist::Fixed => self.value_size,
            ValueDist::Uniform => 1 + rng.below((2 * self.value_size).max(1) as u64) as usize,
        };
        let start = rng.below((self.pool.len() - len + 1) as u64) as usize;
        &self.pool[start..start + len]
    }
}

/// `len` bytes that values are cut from: 100-byte blocks of `ratio × 100` random bytes
/// repeated, so LZ4 compresses them to about `ratio` (db_bench's scheme).
fn value_pool(len: usize, ratio: f64) -> Vec<u8> {
    let mut rng = Rng::new(42);
    let raw_len = ((100.0 * ratio.clamp(0.0, 1.0)).round() as usize).max(1);
    let mut pool = Vec::with_capacity(len + 100);
    while pool.len() < len {
        let raw: Vec<u8> = (0..raw_len).map(|_| rng.next() as u8).collect();
        for i in 0..100 {
            pool.push(raw[i % raw_len]);
        }
    }
    pool.truncate(len);
    pool
}

fn rss_anon_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    kib * 1024
}

const MARKER: &str = "crowndb-bench";

/// Empties the benchmark directory, refusing one that holds anything but an earlier bench.
fn wipe(dir: &Path) -> CliResult {
    if dir.exists() {
        let entries: Vec<_> = std::fs::read_dir(dir).map_err(|e| io_error(dir, e))?.filter_map(|e| e.ok()).collect();
        if !entries.is_empty() && !dir.join(MARKER).exists() {
            return Err(CliError::failure(format!(
                "{} is not empty and was not made by `crowndb bench`; give an empty or new directory",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    std::fs::write(dir.join(MARKER), b"").map_err(|e| io_error(dir, e))
}

/// What one worker does for one operation; returns the bytes it moved.
#[derive(Clone, Copy)]
enum Op {
    FillSeq,
    Put,
    Read,
    ReadMissing,
    ReadHot,
    Delete,
    Mixed(u8),
}

fn run_threads(
    db: &Db,
    setup: &Arc<Setup>,
    op: Op,
    num: u64,
    threads: usize,
    seed: u64,
    bar: &ProgressBar,
) -> CliResult<(f64, u64, Histogram<u64>)> {
    let start = Instant::now();
    let results: Vec<CliResult<(u64, Histogram<u64>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads as u64)
            .map(|t| {
                let (db, setup, bar) = (db.clone(), setup.clone(), bar.clone());
                let (lo, hi) = (num * t / threads as u64, num * (t + 1) / threads as u64);
                scope.spawn(move || worker(&db, &setup, op, lo, hi, num, seed ^ (t + 1), &bar))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(CliError::failure("a benchmark thread panicked")))).collect()
    });
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    let mut hist = new_hist();
    let mut bytes = 0;
    for r in results {
        let (b, h) = r?;
        bytes += b;
        hist.add(&h).expect("same bounds");
    }
    Ok((secs, bytes, hist))
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds")
}

#[allow(clippy::too_many_arguments)]
fn worker(
    db: &Db,
    setup: &Setup,
    op: Op,
    lo: u64,
    hi: u64,
    keyspace: u64,
    seed: u64,
    bar: &ProgressBar,
) -> CliResult<(u64, Histogram<u64>)> {
    let mut rng = Rng::new(seed);
    let mut hist = new_hist();
    let mut key = Vec::with_capacity(setup.key_size);
    let mut bytes = 0u64;
    let hot = (keyspace / 100).max(1);
    for i in lo..hi {
        let began = Instant::now();
        match op {
            Op::FillSeq => {
                setup.key(i, &mut key);
                let value = setup.value(&mut rng);
                db.put(&key, value)?;
                bytes += (key.len() + value.len()) as u64;
            }
            Op::Put => {
                setup.key(rng.below(keyspace), &mut key);
                let value = setup.value(&mut rng);
                db.put(&key, value)?;
                bytes += (key.len() + value.len()) as u64;
            }
            Op::Read | Op::ReadHot => {
                let range = if matches!(op, Op::ReadHot) { hot } else { keyspace };
                setup.key(rng.below(range), &mut key);
                bytes += key.len() as u64 + db.get(&key)?.map_or(0, |v| v.len() as u64);
            }
            Op::ReadMissing => {
                setup.missing_key(rng.below(keyspace), &mut key);
                bytes += key.len() as u64 + db.get(&key)?.map_or(0, |v| v.len() as u64);
            }
            Op::Delete => {
                setup.key(rng.below(keyspace), &mut key);
                db.delete(&key)?;
                bytes += key.len() as u64;
            }
            Op::Mixed(read_percent) => {
                setup.key(rng.below(keyspace), &mut key);
                if rng.below(100) < read_percent as u64 {
                    bytes += key.len() as u64 + db.get(&key)?.map_or(0, |v| v.len() as u64);
                } else {
                    let value = setup.value(&mut rng);
                    db.put(&key, value)?;
                    bytes += (key.len() + value.len()) as u64;
                }
            }
        }
        hist.saturating_record(began.elapsed().as_nanos() as u64);
        if (i - lo) % 1024 == 1023 {
            bar.inc(1024);
        }
    }
    Ok((bytes, hist))
}

pub fn run(args: BenchArgs) -> CliResult {
    let durability = Durability::parse(&args.durability).ok_or_else(|| {
        CliError::new(2, format!("--durability {:?}: use always, everysec, never or a period like 100ms", args.durability))
    })?;
    for w in &args.workloads {
        if !WORKLOADS.contains(&w.as_str()) {
            return Err(CliError::new(2, format!("unknown workload {w:?}; workloads: {}", WORKLOADS.join(","))));
        }
    }
    if args.threads == 0 || args.num == 0 {
        return Err(CliError::new(2, "--threads and --num must be at least 1"));
    }
    if args.key_size == 0 || (args.key_size < 20 && (args.num.max(2) - 1).to_string().len() > args.key_size) {
        return Err(CliError::new(2, format!("--key-size {} is too small for {} distinct keys", args.key_size, args.num)));
    }
    let (dir, temporary) = match &args.data_dir {
        Some(d) => (d.clone(), false),
        None => (std::env::temp_dir().join(format!("crowndb-bench-{}", std::process::id())), true),
    };
    let pool = value_pool((1 << 20).max(4 * args.value_size + 1), args.compression_ratio);
    let setup = Arc::new(Setup { key_size: args.key_size, value_size: args.value_size, dist: args.value_size_dist, pool });
    let compression = match args.compression {
        CompressionArg::Off => Compression::Off,
        CompressionArg::Lz4 => Compression::Lz4,
        CompressionArg::Auto => Compression::Auto,
    };
    let options = Options { durability, compression, segment_size: args.segment_size, ..Options::default() };
    let result = run_workloads(&args, &dir, &options, &setup);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let reports = result?;
    if !args.json {
        print!("{}", table(&reports));
    }
    Ok(())
}

fn run_workloads(args: &BenchArgs, dir: &Path, options: &Options, setup: &Arc<Setup>) -> CliResult<Vec<Report>> {
    let mut reports = Vec::new();
    let mut db: Option<Db> = None;
    // Anonymous memory before the current store was opened: what it holds is the growth.
    let mut baseline = rss_anon_bytes();
    for (n, workload) in args.workloads.iter().enumerate() {
        let seed = 1000 + n as u64;
        let fresh = workload.starts_with("fill");
        if fresh || db.is_none() {
            if let Some(old) = db.take() {
                old.close()?;
            }
            wipe(dir)?;
            baseline = rss_anon_bytes();
            db = Some(Db::open(dir, options.clone())?);
        }
        let store = db.as_ref().expect("opened above");
        let bar = progress(args.num, workload, false);
        if !fresh && store.stats().keys == 0 {
            bar.set_message(format!("{workload} (filling first)"));
            run_threads(store, setup, Op::FillSeq, args.num, args.threads, seed, &ProgressBar::hidden())?;
            bar.set_message(workload.clone());
        }
        let op = match workload.as_str() {
            "fillseq" => Op::FillSeq,
            "fillrandom" | "overwrite" => Op::Put,
            "readrandom" => Op::Read,
            "readmissing" => Op::ReadMissing,
            "readhot" => Op::ReadHot,
            "deleterandom" => Op::Delete,
            "mixed" => Op::Mixed(args.read_percent),
            "readwhilewriting" => Op::Read,
            other => unreachable!("validated workload {other}"),
        };
        let before = store.stats();
        let (secs, bytes, hist) = if workload == "readwhilewriting" {
            read_while_writing(store, setup, args, seed, &bar)?
        } else {
            run_threads(store, setup, op, args.num, args.threads, seed, &bar)?
        };
        bar.finish_and_clear();
        let stats = store.stats();
        let keys = stats.keys;
        let report = Report {
            workload: workload.clone(),
            ops: args.num,
            secs,
            bytes,
            hist,
            ram_per_key: rss_anon_bytes().saturating_sub(baseline) as f64 / keys.max(1) as f64,
            index_per_key: stats.index_memory_bytes as f64 / keys.max(1) as f64,
            keys,
            disk_bytes: stats.segments.iter().map(|s| s.data_bytes).sum(),
            space_amp: stats.space_amplification(),
            write_amp: stats.write_amplification(),
            sync: crowndb::SyncStats {
                syncs: stats.sync.syncs - before.sync.syncs,
                waits: stats.sync.waits - before.sync.waits,
                wait_micros: stats.sync.wait_micros - before.sync.wait_micros,
            },
            false_candidate_reads: stats.false_candidate_reads - before.false_candidate_reads,
        };
        if args.json {
            println!("{}", report.json(args));
        }
        reports.push(report);
    }
    if let Some(db) = db {
        db.close()?;
    }
    Ok(reports)
}

/// `--threads` readers measured while one more thread overwrites random keys.
fn read_while_writing(
    db: &Db,
    setup: &Arc<Setup>,
    args: &BenchArgs,
    seed: u64,
    bar: &ProgressBar,
) -> CliResult<(f64, u64, Histogram<u64>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, setup, stop, keyspace) = (db.clone(), setup.clone(), stop.clone(), args.num);
        std::thread::spawn(move || -> CliResult {
            let mut rng = Rng::new(seed ^ 0xdead);
            let mut key = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                setup.key(rng.below(keyspace), &mut key);
                db.put(&key, setup.value(&mut rng))?;
            }
            Ok(())
        })
    };
    let result = run_threads(db, setup, Op::Read, args.num, args.threads, seed, bar);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap_or_else(|_| Err(CliError::failure("the writer thread panicked")))?;
    result
}

fn table(reports: &[Report]) -> String {
    let mut out = format!(
        "{:<17} {:>12} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9} {:>6} {:>6} {:>10}\n",
        "workload", "ops/s", "MB/s", "p50 us", "p99 us", "p99.9 us", "max us", "RAM/key", "space", "write", "per sync"
    );
    for r in reports {
        out.push_str(&format!(
            "{:<17} {:>12.0} {:>9.1} {:>9.2} {:>9.2} {:>10.2} {:>10.0} {:>9.1} {:>6.2} {:>6.2} {:>10}\n",
            r.workload,
            r.ops as f64 / r.secs,
            r.bytes as f64 / r.secs / (1 << 20) as f64,
            r.us(0.5),
            r.us(0.99),
            r.us(0.999),
            r.hist.max() as f64 / 1000.0,
            r.ram_per_key,
            r.space_amp,
            r.write_amp,
            if r.sync.syncs == 0 { "-".to_string() } else { format!("{:.1}", r.sync.waits as f64 / r.sync.syncs as f64) },
        ));
    }
    out.push_str(&format!(
        "(keys {}, RAM/key: anonymous memory growth / keys, in bytes; space and write amplification of the store; per sync: durable writes one fdatasync covered)\n",
        reports.last().map_or(0, |r| r.keys)
    ));
    out
}
