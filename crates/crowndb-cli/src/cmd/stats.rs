//! `crowndb stats`: the engine's figures, for people or (`--json`) for scripts.

use clap::Args;
use crowndb::Stats;

use super::{CliResult, DataDir};

/// Arguments of `crowndb stats`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Print the store's figures: keys, live and dead bytes, segments, index memory, space amplification. Figures of this process's writes (bytes written, syncs) start at 0.\n\nExamples:\n  crowndb stats --data-dir data\n  crowndb stats --data-dir data --json | jq .keys"
)]
pub struct StatsArgs {
    #[command(flatten)]
    pub dir: DataDir,
    /// One JSON object (field names as in `crowndb::Stats`, plus `space_amplification`,
    /// `write_amplification`, `disk_bytes`, `segment_count`, and `segments` as a list).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: StatsArgs) -> CliResult {
    let db = args.dir.open_existing()?;
    let stats = db.stats();
    db.close()?;
    if args.json {
        println!("{}", to_json(&stats));
    } else {
        print!("{}", human(&stats));
    }
    Ok(())
}

fn disk_bytes(stats: &Stats) -> u64 {
    stats.segments.iter().map(|s| s.data_bytes).sum()
}

pub fn to_json(stats: &Stats) -> serde_json::Value {
    let segments: Vec<_> = stats
        .segments
        .iter()
        .map(|s| {
            serde_json::json!({
                "generation": s.generation, "data_bytes": s.data_bytes, "live_bytes": s.live_bytes,
                "dead_bytes": s.dead_bytes, "sealed": s.sealed,
            })
        })
        .collect();
    serde_json::json!({
        "keys": stats.keys,
        "live_bytes": stats.live_bytes,
        "dead_bytes": stats.dead_bytes,
        "disk_bytes": disk_bytes(stats),
        "segment_count": stats.segment_count(),
        "index_memory_bytes": stats.index_memory_bytes,
        "space_amplification": stats.space_amplification(),
        "write_amplification": stats.write_amplification(),
        "user_bytes_written": stats.user_bytes_written,
        "disk_bytes_written": stats.disk_bytes_written,
        "syncs": stats.syncs,
        "sync_waits": stats.sync.waits,
        "sync_wait_micros": stats.sync.wait_micros,
        "false_candidate_reads": stats.false_candidate_reads,
        "bytes_compacted": stats.bytes_compacted,
        "segments_deleted": stats.segments_deleted,
        "last_sequence": stats.last_sequence,
        "segments": segments,
    })
}

/// `1.5 MiB` style.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut value, mut unit) = (n as f64, 0);
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human(stats: &Stats) -> String {
    let per_key = if stats.keys == 0 { 0.0 } else { stats.index_memory_bytes as f64 / stats.keys as f64 };
    let sealed = stats.segments.iter().filter(|s| s.sealed).count();
    let mut out = String::new();
    let mut line = |name: &str, value: String| out.push_str(&format!("{name:<22}{value}\n"));
    line("keys", stats.keys.to_string());
    line("live data", format!("{} ({} bytes)", bytes(stats.live_bytes), stats.live_bytes));
    line("dead data", format!("{} ({} bytes)", bytes(stats.dead_bytes), stats.dead_bytes));
    line("on disk", format!("{} ({} bytes)", bytes(disk_bytes(stats)), disk_bytes(stats)));
    line("space amplification", format!("{:.2}", stats.space_amplification()));
    line("segments", format!("{} ({sealed} sealed)", stats.segment_count()));
    line("index memory", format!("{} ({per_key:.1} bytes per key)", bytes(stats.index_memory_bytes)));
    line("last sequence", stats.last_sequence.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
    }
}
