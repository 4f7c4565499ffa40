//! Opens a store, writes, closes, reopens and reads back: the engine in ten lines.
//!
//! cargo run --release -p crowndb --example quickstart [DATA_DIR]

use crowndb::{Db, Options, WriteBatch};

fn main() -> Result<(), crowndb::Error> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "crowndb-data".into());
    let db = Db::open(&dir, Options::default())?;
    let runs = db.get(b"quickstart:runs")?.map_or(0, |v| String::from_utf8_lossy(&v).parse::<u64>().unwrap_or(0));
    let mut batch = WriteBatch::new();
    batch.put(b"quickstart:runs", (runs + 1).to_string().as_bytes());
    batch.put(b"quickstart:greeting", b"hello from CrownDB");
    db.write(&batch)?;
    db.close()?;

    let db = Db::open(&dir, Options::default())?;
    let greeting = db.get(b"quickstart:greeting")?.unwrap_or_default();
    let runs = db.get(b"quickstart:runs")?.unwrap_or_default();
    println!("{} (run {} on {dir})", String::from_utf8_lossy(&greeting), String::from_utf8_lossy(&runs));
    let stats = db.stats();
    println!("{} keys, {} segment(s), {} bytes of index", stats.keys, stats.segment_count(), stats.index_memory_bytes);
    Ok(())
}
