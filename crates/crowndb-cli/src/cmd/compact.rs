//! `crowndb compact`: a full compaction now.

use std::time::Instant;

use clap::Args;

use super::{spinner, CliResult, DataDir};

/// Arguments of `crowndb compact`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Compact every sealed segment now: live records are copied forward and the old files deleted. Prints the space before and after.\n\nExample:\n  crowndb compact --data-dir data"
)]
pub struct CompactArgs {
    #[command(flatten)]
    pub dir: DataDir,
}

pub fn run(args: CompactArgs) -> CliResult {
    let db = args.dir.open_existing()?;
    let before = db.stats();
    let on_disk = |s: &crowndb::Stats| s.segments.iter().map(|g| g.data_bytes).sum::<u64>();
    // The engine's compaction reports nothing while it runs: a spinner shows it is alive.
    let bar = spinner("compacting");
    let start = Instant::now();
    let report = db.compact()?;
    bar.finish_and_clear();
    let after = db.stats();
    println!(
        "compacted {} segments in {:.2} s: {} -> {} bytes on disk, space amplification {:.2} -> {:.2}",
        report.segments,
        start.elapsed().as_secs_f64(),
        on_disk(&before),
        on_disk(&after),
        before.space_amplification(),
        after.space_amplification()
    );
    db.close()?;
    Ok(())
}
