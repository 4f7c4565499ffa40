//! Builds (once) and reopens a store of N sequential 16-byte keys, timing each open: for
//! profiling recovery. cargo run --release -p crowndb --example reopen_profile -- DIR N
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "/tmp/crowndb-reopen".into());
    let n: u64 = args.next().map_or(3_000_000, |s| s.parse().expect("key count"));
    // PARANOID=1: open by reading and verifying every record instead of the footers.
    let paranoid_open = std::env::var("PARANOID").is_ok();
    let opts = || crowndb::Options { durability: crowndb::Durability::Never, paranoid_open, ..Default::default() };
    if !std::path::Path::new(&dir).exists() {
        let db = crowndb::Db::open(&dir, opts()).unwrap();
        for i in 0..n {
            db.put(format!("{i:016}").as_bytes(), &[7u8; 100]).unwrap();
        }
        db.close().unwrap();
    }
    for _ in 0..3 {
        let start = Instant::now();
        let db = crowndb::Db::open(&dir, opts()).unwrap();
        println!("open: {:.3} s, {} keys", start.elapsed().as_secs_f64(), db.stats().keys);
        db.close().unwrap();
    }
}
