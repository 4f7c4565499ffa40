//! Compaction under a uniform random overwrite workload (16-byte keys, 100-byte values):
//! space and write amplification over 10x the dataset, and readrandom throughput while a
//! rate-limited compaction runs against readrandom with none.
//!
//! cargo run --release -p crowndb --example compaction_bench -- [KEYS] [DIR]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crowndb::{Db, Durability, Options};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    let mut n = i;
    for b in k.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

fn readrandom(db: &Db, keys: u64, rng: &mut Rng, until: impl Fn(u64) -> bool) -> (u64, f64) {
    let start = Instant::now();
    let mut ops = 0;
    while !until(ops) {
        for _ in 0..10_000 {
            db.get(&key(rng.next() % keys)).unwrap().expect("every key exists");
        }
        ops += 10_000;
    }
    (ops, start.elapsed().as_secs_f64())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let keys: u64 = args.next().map_or(1_000_000, |s| s.parse().expect("key count"));
    let dir = args.next().unwrap_or_else(|| std::env::temp_dir().join("crowndb-compaction-bench").display().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let value = [42u8; 100];
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);

    // Phase 1: fill, then overwrite 10x the dataset with background compaction on.
    let segment_size =
        std::env::var("SEGMENT_MB").ok().and_then(|s| s.parse::<u64>().ok()).map_or(Options::default().segment_size, |mb| mb << 20);
    let db = Db::open(&dir, Options { durability: Durability::Never, segment_size, ..Options::default() }).unwrap();
    for i in 0..keys {
        db.put(&key(i), &value).unwrap();
    }
    let start = Instant::now();
    let mut max_amp: f64 = 0.0;
    let overwrites = keys * 10;
    for n in 0..overwrites {
        db.put(&key(rng.next() % keys), &value).unwrap();
        if n % (keys / 10).max(1) == 0 {
            let st = db.stats();
            max_amp = max_amp.max(st.space_amplification());
            if std::env::var("CDEBUG").is_ok() {
                let ratios: Vec<String> =
                    st.segments.iter().map(|s| format!("{:.0}", 100.0 * s.dead_bytes as f64 / s.data_bytes.max(1) as f64)).collect();
                eprintln!(
                    "n={n} amp={:.2} live={}MB segs={} dead%={}",
                    st.space_amplification(),
                    st.live_bytes >> 20,
                    st.segments.len(),
                    ratios.join(",")
                );
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let s = db.stats();
    println!(
        "overwrite    {overwrites} ops in {secs:.2} s ({:.0} ops/s); space amp max {max_amp:.2}, at end {:.2}; write amp {:.2}; compacted {} MB, {} segments deleted",
        overwrites as f64 / secs,
        s.space_amplification(),
        s.write_amplification(),
        s.bytes_compacted >> 20,
        s.segments_deleted
    );
    db.close().unwrap();

    // Phase 2: readrandom with no compaction, then while a throttled full compaction runs.
    let db = Arc::new(
        Db::open(&dir, Options { durability: Durability::Never, background_compaction: false, segment_size, ..Options::default() })
            .unwrap(),
    );
    for _ in 0..keys {
        db.put(&key(rng.next() % keys), &value).unwrap(); // garbage for the compaction to work on
    }
    db.sync().unwrap();
    let (ops, secs) = readrandom(&db, keys, &mut rng, |ops| ops >= 2_000_000);
    let quiet = ops as f64 / secs;
    let running = Arc::new(AtomicBool::new(true));
    let compactor = {
        let (db, running) = (db.clone(), running.clone());
        std::thread::spawn(move || {
            let report = db.compact_with_limit(Options::default().compaction_bytes_per_sec).unwrap();
            running.store(false, Ordering::Release);
            report
        })
    };
    let (ops, secs) = readrandom(&db, keys, &mut rng, |_| !running.load(Ordering::Acquire));
    let report = compactor.join().unwrap();
    let busy = ops as f64 / secs;
    println!(
        "readrandom   {quiet:.0} ops/s without compaction, {busy:.0} ops/s during compaction of {} segments ({} MB copied in {secs:.2} s): ratio {:.2}",
        report.segments,
        report.bytes_copied >> 20,
        busy / quiet
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
