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
//! previous version, if one survives.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use clap::Args;
use crowndb::format::{FooterEntry, ENTRY_LEN, TRAILER_LEN};
use crowndb::{Db, Options};

use super::{io_error, progress, CliError, CliResult, DataDir, DirLock, EXIT_DAMAGED};
use crate::segment_scan::{encode_header, list_segments, scan_segment, FooterState, Mapped, SegmentScan};

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
        for (name, range) in &pieces {
            write_quarantine(&dir, name, &data[range.start as usize..range.end as usize])?;
        }
        rewrite(&dir, &scan, data)?;
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

/// Name and byte range of each part of the file the rewrite leaves behind.
fn quarantine_pieces(scan: &SegmentScan) -> Vec<(String, crate::segment_scan::BadRange)> {
    use crate::segment_scan::BadRange;
    let name = scan.path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut out = Vec::new();
    if !scan.header_ok {
        let end = scan.file_len.min(32);
        out.push((format!("{name}.0.header"), BadRange { start: 0, end }));
    }
    for r in &scan.bad {
        let start = r.start.max(if scan.header_ok { 0 } else { 32 });
        if start < r.end {
            out.push((format!("{name}.{start}.bad"), BadRange { start, end: r.end }));
        }
    }
    if let FooterState::Damaged = scan.footer {
        if scan.data_end < scan.file_len {
            out.push((format!("{name}.{}.footer", scan.data_end), BadRange { start: scan.data_end, end: scan.file_len }));
        }
    }
    out
}

fn write_quarantine(dir: &Path, name: &str, bytes: &[u8]) -> CliResult {
    let qdir = dir.join("quarantine");
    std::fs::create_dir_all(&qdir).map_err(|e| io_error(&qdir, e))?;
    let path = qdir.join(name);
    let mut file = std::fs::File::create(&path).map_err(|e| io_error(&path, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| io_error(&path, e))?;
    sync_dir(&qdir)
}

fn sync_dir(dir: &Path) -> CliResult {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, e))
}

/// Writes header, the records that verify, and a footer to `<segment>.repair`, syncs it,
/// and renames it over the segment.
fn rewrite(dir: &Path, scan: &SegmentScan, data: &[u8]) -> CliResult {
    let mut temp_name = scan.path.clone().into_os_string();
    temp_name.push(".repair");
    let temp = std::path::PathBuf::from(temp_name);
    let file = std::fs::File::create(&temp).map_err(|e| io_error(&temp, e))?;
    let err = |e| io_error(&temp, e);
    file.write_all_at(&encode_header(scan.generation), 0).map_err(err)?;
    // Old offset -> new offset of each kept top-level record; inner records move with
    // their envelope.
    let mut pos = 32u64;
    let mut moves = Vec::with_capacity(scan.good.len());
    for &(offset, len) in &scan.good {
        file.write_all_at(&data[offset as usize..(offset + len) as usize], pos).map_err(err)?;
        moves.push((offset, len, pos));
        pos += len;
    }
    let relocate = |old: u64| -> u64 {
        let i = moves.partition_point(|&(o, _, _)| o <= old) - 1;
        let (o, _, n) = moves[i];
        n + (old - o)
    };
    let mut entries: Vec<FooterEntry> = scan.entries.iter().map(|e| FooterEntry { offset: relocate(e.offset), ..*e }).collect();
    entries.sort_unstable_by_key(|e| (e.hash, e.offset));
    let mut footer = Vec::with_capacity(entries.len() * ENTRY_LEN + 48);
    for e in &entries {
        footer.extend_from_slice(&e.encode());
    }
    // Trailer (docs/format.md, "Footer"), written field by field.
    let mut trailer = Vec::with_capacity(TRAILER_LEN);
    trailer.extend_from_slice(b"CROWNFTR");
    for field in [pos, entries.len() as u64, scan.max_seq, scan.min_put_seq] {
        trailer.extend_from_slice(&field.to_le_bytes());
    }
    let crc = crc32c::crc32c_append(crc32c::crc32c(&footer), &trailer);
    trailer.extend_from_slice(&crc.to_le_bytes());
    trailer.extend_from_slice(&[0u8; 4]);
    footer.extend_from_slice(&trailer);
    file.write_all_at(&footer, pos).map_err(err)?;
    file.sync_all().map_err(err)?;
    drop(file);
    std::fs::rename(&temp, &scan.path).map_err(|e| io_error(&scan.path, e))?;
    sync_dir(dir)
}
