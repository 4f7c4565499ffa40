//! `crowndb repair`: make a damaged store open and verify again, keeping every byte it
//! cannot use in `quarantine/`.
//!
//! For each segment that needs it (damaged records, header or footer; a footer that does
//! not list the records; an unsealed older segment; a torn tail), the records that verify
//! are copied byte for byte (same sequence numbers, so the same versions win) into a new
//! file with a fresh header and footer, which replaces the old one by rename. Before
//! that, the bytes left behind go to `quarantine/`: `<segment>.<offset>.bad` for each
//! range that is not a valid record, `<segment>.0.header` for a damaged header and
//! `<segment>.<offset>.footer` for a damaged footer. In a sealed segment, records that
//! verify after a damaged one are kept (a damaged batch's inner records that verify on
//! their own included: the batch was committed before the segment was sealed). In a
//! segment without a footer (what a crash leaves), the records end at the first one that
//! does not verify, as at open: what follows was in flight and is only quarantined, so a
//! torn batch never comes back in part. A key whose newest record was damaged reads as its
//! previous version, if one survives. So does a hash's or set's page: a collection that lost
//! a page keeps every member of its other pages, and reads the lost bucket as an older
//! version of that page, or as empty (its head's member count is then off by those).

//!
//! The work is the engine's (`crowndb::check` finds, `crowndb::repair` rewrites); this
//! command takes the lock, shows progress, prints, and proves the result with a paranoid
//! open.

use clap::Args;
use crowndb::check::{list_segments, scan_segment, Mapped};
use crowndb::repair::{quarantine_pieces, repair_segment};
use crowndb::{Db, Options};

use super::{io_error, progress, CliError, CliResult, DataDir, DirLock, EXIT_DAMAGED};

/// Arguments of `crowndb repair`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Repair a damaged store: rebuild damaged or missing footers, cut torn tails, and move records that do not verify aside into the `quarantine/` directory (nothing is deleted). Then opens the store verifying every record (paranoid open). Prints what it did. Exit code 0 once the store verifies, 4 if it still does not.\n\nExamples:\n  crowndb repair --data-dir data --dry-run\n  crowndb repair --data-dir data && crowndb \
                        check --data-dir data"
)]
pub struct RepairArgs {
    #[command(flatten)]
    pub dir: DataDir,
    /// Say what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: RepairArgs) -> CliResult {
    let dir = args.dir.data_dir.clone();
    let lock = DirLock::acquire(&dir)?;
    let segments = list_segments(&dir).map_err(|e| io_error(&dir, e))?;
    let total: u64 = segments.iter().map(|(_, p)| std::fs::metadata(p).map_or(0, |m| m.len())).sum();
    let bar = progress(total, "repairing", true);
    let (mut repaired, mut salvaged, mut quarantined, mut done) = (0usize, 0u64, 0u64, 0u64);
    for (i, (generation, path)) in segments.iter().enumerate() {
        let newest = i + 1 == segments.len();
        let mapped = Mapped::open(path).map_err(|e| io_error(path, e))?;
        let data = mapped.bytes();
        let scan = scan_segment(path, *generation, data, newest, |n| bar.set_position(done + n));
        done += scan.file_len;
        if scan.unknown_version {
            bar.suspend(|| println!("skipped {}: {}", path.display(), scan.findings[0].reason));
            continue;
        }
        if !scan.needs_repair(newest) {
            continue;
        }
        for f in &scan.findings {
            bar.suspend(|| println!("{} {} offset {}: {}", f.severity.label(), path.display(), f.offset, f.reason));
        }
        let pieces = quarantine_pieces(&scan);
        let moved: u64 = pieces.iter().map(|(_, r)| r.end - r.start).sum();
        bar.suspend(|| {
            println!(
                "{} {}: {} problems; keeping {} records, {moved} bytes to quarantine/",
                if args.dry_run { "would rewrite" } else { "rewrote" },
                path.display(),
                scan.findings.len(),
                scan.entries.len(),
            )
        });
        repaired += 1;
        salvaged += scan.entries.len() as u64;
        quarantined += moved;
        if args.dry_run {
            continue;
        }
        repair_segment(&dir, &scan, data, &pieces).map_err(engine_io)?;
    }
    bar.finish_and_clear();
    if args.dry_run {
        println!("dry run: {repaired} segments would be rewritten, {quarantined} bytes moved to quarantine/");
        return Ok(());
    }
    drop(lock);
    // The proof: every record of every segment verifies at open.
    let db = Db::open(&dir, Options { paranoid_open: true, create_if_missing: false, ..Options::default() })
        .map_err(|e| CliError::new(EXIT_DAMAGED, format!("the store still does not verify after repair: {e}")))?;
    let keys = db.stats().keys;
    db.close()?;
    println!(
        "repaired {repaired} segments ({salvaged} records kept, {quarantined} bytes moved to {}); the store verifies: {keys} keys",
        dir.join("quarantine").display()
    );
    Ok(())
}

/// An engine error as this command reports it: `path: what went wrong` for I/O, as the
/// command's own I/O errors read.
fn engine_io(e: crowndb::Error) -> CliError {
    match e {
        crowndb::Error::Io { path, source } | crowndb::Error::DiskFull { path, source } => io_error(&path, source),
        other => other.into(),
    }
}
