//! The collection store at scale: one hash and one set of `--members` members each, filled
//! one member per command (HSET / SADD as a Redis client sends them), then point reads
//! (HGET / SISMEMBER), RAM per member, records and bytes written per command, DEL time and
//! reopen time. Prints one JSON object per line.
//!
//! cargo run --release -p crowndb --example collection_bench -- --members 10000000 --dir /tmp/crowndb-coll

use std::path::PathBuf;
use std::time::Instant;

use crowndb::{Collection, CollectionLimits, CollectionType, Db, Durability, Options, WriteOptions};

struct Args {
    members: u64,
    reads: u64,
    value_size: usize,
    page_size: usize,
    dir: PathBuf,
}

fn parse_args() -> Args {
    let mut args =
        Args { members: 1_000_000, reads: 1_000_000, value_size: 100, page_size: 1024, dir: std::env::temp_dir().join("crowndb-coll") };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--members" => args.members = value().parse().expect("--members takes a count"),
            "--reads" => args.reads = value().parse().expect("--reads takes a count"),
            "--value-size" => args.value_size = value().parse().expect("--value-size takes bytes"),
            "--page-size" => args.page_size = value().parse().expect("--page-size takes bytes"),
            "--dir" => args.dir = PathBuf::from(value()),
            other => panic!("unknown flag {other}; flags: --members N --reads N --value-size B --page-size B --dir DIR"),
        }
    }
    args
}

fn rss_anon_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("RssAnon:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

/// A member name as redis-benchmark makes them (`element:000000123456`).
fn member(i: u64) -> Vec<u8> {
    format!("element:{i:012}").into_bytes()
}

fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x.wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

fn open(args: &Args) -> Db {
    let options = Options { durability: Durability::Never, ..Options::default() };
    let db = Db::open(&args.dir, options).unwrap();
    db.set_collection_limits(CollectionLimits { page_size: args.page_size, ..CollectionLimits::default() });
    db
}

fn main() {
    let args = parse_args();
    let _ = std::fs::remove_dir_all(&args.dir);
    let db = open(&args);
    let value = vec![b'v'; args.value_size];
    let opts = WriteOptions::default();
    for (key, kind) in [(&b"myhash"[..], CollectionType::Hash), (&b"myset"[..], CollectionType::Set)] {
        let name = if kind == CollectionType::Hash { "hset" } else { "sadd" };
        let rss0 = rss_anon_kib();
        let s0 = db.stats();
        let started = Instant::now();
        let bar_every = (args.members / 20).max(1);
        for i in 0..args.members {
            // Random order, as redis-benchmark -r sends them.
            let m = member(mix(i) % (args.members * 4));
            db.transaction(&opts, |txn| {
                let mut c = Collection::open_or_create(txn, key, kind)?;
                c.insert(txn, &m, &value)?;
                c.commit(txn)
            })
            .unwrap();
            if i % bar_every == 0 && i > 0 {
                eprint!("\r{name}: {}%", i * 100 / args.members);
            }
        }
        eprintln!("\r{name}: done      ");
        let secs = started.elapsed().as_secs_f64();
        let s1 = db.stats();
        let count = db.read(|v| Ok(Collection::open(v, key, kind)?.map_or(0, |c| c.len()))).unwrap();
        let ram = (rss_anon_kib().saturating_sub(rss0)) as f64 * 1024.0;
        println!(
            "{}",
            serde_json::json!({
                "workload": name,
                "members": count,
                "commands": args.members,
                "ops_per_sec": args.members as f64 / secs,
                "records_written_per_command": (s1.last_sequence - s0.last_sequence) as f64 / args.members as f64,
                "bytes_written_per_command": (s1.disk_bytes_written - s0.disk_bytes_written) as f64 / args.members as f64,
                "anon_ram_bytes_per_member": ram / count.max(1) as f64,
                "index_bytes_per_member": (s1.index_memory_bytes as f64 - s0.index_memory_bytes as f64) / count.max(1) as f64,
                "page_size": args.page_size,
                "value_size": args.value_size,
            })
        );
        // Point reads of random members, present and absent, through a read view.
        let started = Instant::now();
        let mut hits = 0u64;
        for i in 0..args.reads {
            let m = member(mix(i ^ 0x5555) % (args.members * 4));
            let found = db
                .read(|v| match Collection::open(v, key, kind)? {
                    Some(mut c) => c.contains(v, &m),
                    None => Ok(false),
                })
                .unwrap();
            hits += found as u64;
        }
        let secs = started.elapsed().as_secs_f64();
        let read_name = if kind == CollectionType::Hash { "hget" } else { "sismember" };
        println!(
            "{}",
            serde_json::json!({"workload": read_name, "ops_per_sec": args.reads as f64 / secs, "hit_ratio": hits as f64 / args.reads as f64})
        );
    }
    db.sync().unwrap();
    let keys_before = db.stats().keys;
    // Reopen with both collections.
    db.close().unwrap();
    let _ = std::process::Command::new("sh").arg("-c").arg("sync; echo 3 > /proc/sys/vm/drop_caches").status();
    let started = Instant::now();
    let db = open(&args);
    let reopen = started.elapsed().as_secs_f64();
    assert_eq!(db.stats().keys, keys_before);
    println!("{}", serde_json::json!({"workload": "reopen", "secs": reopen, "keys": keys_before}));
    for key in [&b"myhash"[..], &b"myset"[..]] {
        let started = Instant::now();
        assert!(db.delete(key).unwrap());
        let del = started.elapsed().as_secs_f64();
        let started = Instant::now();
        db.compact().unwrap();
        let reclaim = started.elapsed().as_secs_f64();
        println!(
            "{}",
            serde_json::json!({"workload": format!("del {}", String::from_utf8_lossy(key)), "del_us": del * 1e6, "compact_after_secs": reclaim, "live_bytes_after": db.stats().live_bytes})
        );
    }
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&args.dir);
}
