//! The workloads of `crowndb bench`, run through one harness against CrownDB, sled, fjall
//! and redb in-process, so the stores differ and nothing else does. Used by
//! `scripts/bench-compare.sh`; prints one JSON object per line per workload with the
//! fields of `crowndb bench --json`.
//!
//!   cargo run --release -- --store sled --num 1000000 --dir /tmp/peers --workloads fillrandom,readrandom
//!
//! For every store alike: RAM per key is the growth of the process's anonymous memory
//! over live keys; space amplification is the bytes of the store's files (allocated
//! blocks) over the live keys' key + value bytes; write amplification is the bytes the
//! process dirtied for storage (`/proc/self/io` write_bytes) over the key + value bytes
//! written. No sync per write (each store's "no fsync" setting: CrownDB `Durability::Never`, sled
//! without periodic flushes, fjall's default (journal written, not synced), redb
//! `Durability::None` with every 1024th commit `Eventual`, so it frees pages), no compression.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What the harness needs of a store.
trait Store: Send + Sync {
    fn put(&self, key: &[u8], value: &[u8]) -> Res<()>;
    fn get(&self, key: &[u8]) -> Res<Option<usize>>;
    fn delete(&self, key: &[u8]) -> Res<()>;
    fn close(self: Box<Self>) -> Res<()>;
}

struct Crown(crowndb::Db);
impl Store for Crown {
    fn put(&self, k: &[u8], v: &[u8]) -> Res<()> {
        self.0.put(k, v)?;
        Ok(())
    }
    fn get(&self, k: &[u8]) -> Res<Option<usize>> {
        Ok(self.0.get(k)?.map(|v| v.len()))
    }
    fn delete(&self, k: &[u8]) -> Res<()> {
        self.0.delete(k)?;
        Ok(())
    }
    fn close(self: Box<Self>) -> Res<()> {
        Ok(self.0.close()?)
    }
}

struct Sled(sled::Db);
impl Store for Sled {
    fn put(&self, k: &[u8], v: &[u8]) -> Res<()> {
        self.0.insert(k, v)?;
        Ok(())
    }
    fn get(&self, k: &[u8]) -> Res<Option<usize>> {
        Ok(self.0.get(k)?.map(|v| v.len()))
    }
    fn delete(&self, k: &[u8]) -> Res<()> {
        self.0.remove(k)?;
        Ok(())
    }
    fn close(self: Box<Self>) -> Res<()> {
        self.0.flush()?;
        Ok(())
    }
}

struct Fjall(fjall::Keyspace, fjall::PartitionHandle);
impl Store for Fjall {
    fn put(&self, k: &[u8], v: &[u8]) -> Res<()> {
        self.1.insert(k, v)?;
        Ok(())
    }
    fn get(&self, k: &[u8]) -> Res<Option<usize>> {
        Ok(self.1.get(k)?.map(|v| v.len()))
    }
    fn delete(&self, k: &[u8]) -> Res<()> {
        self.1.remove(k)?;
        Ok(())
    }
    fn close(self: Box<Self>) -> Res<()> {
        self.0.persist(fjall::PersistMode::SyncAll)?;
        Ok(())
    }
}

/// redb: commits with `Durability::None`, except every 1024th with `Eventual`, without
/// which redb never frees pages and its file grows by gigabytes.
struct Redb(redb::Database, AtomicU64);
impl Redb {
    fn durability(&self) -> redb::Durability {
        if self.1.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            redb::Durability::Eventual
        } else {
            redb::Durability::None
        }
    }
}
const TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("kv");
impl Store for Redb {
    fn put(&self, k: &[u8], v: &[u8]) -> Res<()> {
        let mut tx = self.0.begin_write()?;
        tx.set_durability(self.durability());
        tx.open_table(TABLE)?.insert(k, v)?;
        tx.commit()?;
        Ok(())
    }
    fn get(&self, k: &[u8]) -> Res<Option<usize>> {
        let tx = self.0.begin_read()?;
        let table = match tx.open_table(TABLE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(table.get(k)?.map(|v| v.value().len()))
    }
    fn delete(&self, k: &[u8]) -> Res<()> {
        let mut tx = self.0.begin_write()?;
        tx.set_durability(self.durability());
        tx.open_table(TABLE)?.remove(k)?;
        tx.commit()?;
        Ok(())
    }
    fn close(self: Box<Self>) -> Res<()> {
        let mut tx = self.0.begin_write()?;
        tx.set_durability(redb::Durability::Immediate);
        tx.commit()?;
        Ok(())
    }
}

fn open(store: &str, dir: &Path) -> Res<Box<dyn Store>> {
    std::fs::create_dir_all(dir)?;
    Ok(match store {
        "crowndb" => {
            let options = crowndb::Options { durability: crowndb::Durability::Never, ..Default::default() };
            Box::new(Crown(crowndb::Db::open(dir, options)?))
        }
        "sled" => Box::new(Sled(sled::Config::new().path(dir).flush_every_ms(None).open()?)),
        "fjall" => {
            let ks = fjall::Config::new(dir).open()?;
            let part = ks.open_partition("kv", fjall::PartitionCreateOptions::default())?;
            Box::new(Fjall(ks, part))
        }
        "redb" => Box::new(Redb(redb::Database::create(dir.join("store.redb"))?, AtomicU64::new(0))),
        other => return Err(format!("unknown store {other}: crowndb, sled, fjall or redb").into()),
    })
}

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

struct Setup {
    num: u64,
    key_size: usize,
    value_size: usize,
    pool: Vec<u8>,
    /// Which keys are live, one bit each, for the live-bytes figure.
    live: Vec<AtomicU64>,
}

impl Setup {
    fn key(&self, i: u64, out: &mut Vec<u8>) {
        out.clear();
        let digits = i.to_string();
        out.resize(self.key_size.saturating_sub(digits.len()), b'0');
        out.extend_from_slice(digits.as_bytes());
    }
    fn value(&self, rng: &mut Rng) -> &[u8] {
        let start = rng.below((self.pool.len() - self.value_size + 1) as u64) as usize;
        &self.pool[start..start + self.value_size]
    }
    fn mark(&self, i: u64, live: bool) {
        let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        if live {
            self.live[word].fetch_or(bit, Ordering::Relaxed);
        } else {
            self.live[word].fetch_and(!bit, Ordering::Relaxed);
        }
    }
    fn live_keys(&self) -> u64 {
        self.live.iter().map(|w| w.load(Ordering::Relaxed).count_ones() as u64).sum()
    }
}

#[derive(Clone, Copy)]
enum Op {
    FillSeq,
    Put,
    Read,
    ReadMissing,
    ReadHot,
    Delete,
    Mixed(u64),
}

fn worker(db: &dyn Store, s: &Setup, op: Op, lo: u64, hi: u64, seed: u64) -> Res<(u64, u64, Histogram<u64>)> {
    let mut rng = Rng::new(seed);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)?;
    let (mut key, mut bytes, mut written) = (Vec::new(), 0u64, 0u64);
    for i in lo..hi {
        let began = Instant::now();
        let idx = match op {
            Op::FillSeq => i,
            Op::ReadHot => rng.below((s.num / 100).max(1)),
            _ => rng.below(s.num),
        };
        s.key(idx, &mut key);
        let read = match op {
            Op::Read | Op::ReadHot => true,
            Op::Mixed(p) => rng.below(100) < p,
            _ => false,
        };
        if matches!(op, Op::ReadMissing) {
            *key.last_mut().unwrap() = b'm';
            bytes += key.len() as u64 + db.get(&key)?.unwrap_or(0) as u64;
        } else if read {
            bytes += key.len() as u64 + db.get(&key)?.unwrap_or(0) as u64;
        } else if matches!(op, Op::Delete) {
            db.delete(&key)?;
            s.mark(idx, false);
            bytes += key.len() as u64;
        } else {
            let v = s.value(&mut rng);
            db.put(&key, v)?;
            s.mark(idx, true);
            bytes += (key.len() + v.len()) as u64;
            written += (key.len() + v.len()) as u64;
        }
        hist.saturating_record(began.elapsed().as_nanos() as u64);
    }
    Ok((bytes, written, hist))
}

fn run(db: &dyn Store, s: &Setup, op: Op, threads: u64, seed: u64) -> Res<(f64, u64, u64, Histogram<u64>)> {
    let start = Instant::now();
    let results: Vec<_> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..threads)
            .map(|t| scope.spawn(move || worker(db, s, op, s.num * t / threads, s.num * (t + 1) / threads, seed ^ (t + 1))))
            .collect();
        hs.into_iter().map(|h| h.join().expect("worker panicked")).collect()
    });
    let secs = start.elapsed().as_secs_f64();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)?;
    let (mut bytes, mut written) = (0, 0);
    for r in results {
        let (b, w, h) = r?;
        bytes += b;
        written += w;
        hist.add(&h)?;
    }
    Ok((secs, bytes, written, hist))
}

fn proc_field(file: &str, name: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += disk_bytes(&e.path()),
                Ok(m) => total += m.blocks() * 512,
                Err(_) => {}
            }
        }
    }
    total
}

fn main() -> Res<()> {
    let mut store = String::from("crowndb");
    let (mut num, mut threads, mut key_size, mut value_size, mut read_percent) = (1_000_000u64, 1u64, 16usize, 100usize, 90u64);
    let mut dir = std::env::temp_dir().join("crowndb-peers");
    let mut workloads = "fillseq,fillrandom,overwrite,readrandom,readmissing,readhot,readwhilewriting,deleterandom,mixed".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--store" => store = value,
            "--num" => num = value.parse()?,
            "--threads" => threads = value.parse()?,
            "--key-size" => key_size = value.parse()?,
            "--value-size" => value_size = value.parse()?,
            "--read-percent" => read_percent = value.parse()?,
            "--dir" => dir = PathBuf::from(value),
            "--workloads" => workloads = value,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let mut rng = Rng::new(42);
    let mut pool = Vec::with_capacity(1 << 20);
    while pool.len() < (1 << 20).max(4 * value_size) {
        let raw: Vec<u8> = (0..50).map(|_| rng.next() as u8).collect();
        pool.extend(raw.iter().chain(raw.iter()));
    }
    let setup = Setup { num, key_size, value_size, pool, live: (0..num.div_ceil(64)).map(|_| AtomicU64::new(0)).collect() };
    let baseline = proc_field("/proc/self/status", "RssAnon:") * 1024;
    let mut db: Option<Box<dyn Store>> = None;
    let (mut written_user, mut io_base) = (0u64, 0u64);
    for (n, w) in workloads.split(',').enumerate() {
        let seed = 1000 + n as u64;
        if w.starts_with("fill") || db.is_none() {
            if let Some(old) = db.take() {
                old.close()?;
            }
            let _ = std::fs::remove_dir_all(&dir);
            setup.live.iter().for_each(|x| x.store(0, Ordering::Relaxed));
            db = Some(open(&store, &dir)?);
            written_user = 0;
            io_base = proc_field("/proc/self/io", "write_bytes:");
        }
        let s = db.as_deref().unwrap();
        if !w.starts_with("fill") && setup.live_keys() == 0 {
            written_user += run(s, &setup, Op::FillSeq, threads, seed)?.2;
        }
        let op = match w {
            "fillseq" => Op::FillSeq,
            "fillrandom" | "overwrite" => Op::Put,
            "readrandom" | "readwhilewriting" => Op::Read,
            "readmissing" => Op::ReadMissing,
            "readhot" => Op::ReadHot,
            "deleterandom" => Op::Delete,
            "mixed" => Op::Mixed(read_percent),
            other => return Err(format!("unknown workload {other}").into()),
        };
        let (secs, bytes, written, hist) = if w == "readwhilewriting" {
            let stop = AtomicBool::new(false);
            let writer_written = AtomicU64::new(0);
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    let mut rng = Rng::new(seed ^ 0xdead);
                    let mut key = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let idx = rng.below(num);
                        setup.key(idx, &mut key);
                        let v = setup.value(&mut rng);
                        if s.put(&key, v).is_ok() {
                            setup.mark(idx, true);
                            writer_written.fetch_add((key.len() + v.len()) as u64, Ordering::Relaxed);
                        }
                    }
                });
                let r = run(s, &setup, op, threads, seed);
                stop.store(true, Ordering::Relaxed);
                r
            })
            .map(|(a, b, c, d)| (a, b, c + writer_written.load(Ordering::Relaxed), d))?
        } else {
            run(s, &setup, op, threads, seed)?
        };
        written_user += written;
        let live = setup.live_keys();
        let live_bytes = live * (key_size + value_size) as u64;
        let disk = disk_bytes(&dir);
        let dirtied = proc_field("/proc/self/io", "write_bytes:").saturating_sub(io_base);
        let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        let line = serde_json::json!({
            "store": store, "workload": w, "ops": num, "threads": threads, "secs": secs,
            "ops_per_sec": num as f64 / secs, "mb_per_sec": bytes as f64 / secs / (1 << 20) as f64,
            "p50_us": us(0.5), "p99_us": us(0.99), "p999_us": us(0.999), "max_us": hist.max() as f64 / 1000.0,
            "ram_per_key_bytes": (proc_field("/proc/self/status", "RssAnon:") * 1024).saturating_sub(baseline) as f64 / live.max(1) as f64,
            "keys": live, "disk_bytes": disk,
            "space_amp": disk as f64 / live_bytes.max(1) as f64,
            "write_amp": dirtied as f64 / written_user.max(1) as f64,
            "key_size": key_size, "value_size": value_size, "durability": "never",
        });
        println!("{line}");
    }
    if let Some(db) = db {
        db.close()?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
