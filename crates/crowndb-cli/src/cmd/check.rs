//! `crowndb check`: verify every checksum of every segment and footer.

use clap::Args;

use super::{io_error, progress, CliError, CliResult, DataDir, DirLock, EXIT_DAMAGED};
use crowndb::check::{list_segments, scan_segment, Mapped, Severity};

/// Arguments of `crowndb check`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Verify every record, segment header and footer of the store, reading the files directly. Prints one line per finding, `DAMAGE <file> offset <n>: <why>` or `WARNING ...` (what a crash leaves and the next open fixes), then a summary line. Hashes' and sets' heads and pages are verified too (a head or a page must decode; a damaged page is named by its collection epoch and bucket). Exit code 4 if anything is damaged (run `crowndb repair`), 0 otherwise.\n\nIt takes the directory lock, so it fails (exit code 3) while a server has the store open: a live store's newest segment is being written and its segments sealed and compacted away, which a reader without the lock would report as damage.\n\nExample:\n  crowndb check --data-dir data || crowndb repair --data-dir data"
)]
pub struct CheckArgs {
    #[command(flatten)]
    pub dir: DataDir,
}

pub fn run(args: CheckArgs) -> CliResult {
    let dir = &args.dir.data_dir;
    let _lock = DirLock::acquire(dir)?;
    let segments = list_segments(dir).map_err(|e| io_error(dir, e))?;
    let total: u64 = segments.iter().map(|(_, p)| std::fs::metadata(p).map_or(0, |m| m.len())).sum();
    let bar = progress(total, "checking", true);
    let (mut records, mut damaged, mut warnings, mut done) = (0u64, 0usize, 0usize, 0u64);
    for (i, (generation, path)) in segments.iter().enumerate() {
        let newest = i + 1 == segments.len();
        let mapped = Mapped::open(path).map_err(|e| io_error(path, e))?;
        let scan = scan_segment(path, *generation, mapped.bytes(), newest, |n| bar.set_position(done + n));
        done += scan.file_len;
        records += scan.entries.len() as u64;
        for f in &scan.findings {
            match f.severity {
                Severity::Damage => damaged += 1,
                Severity::Warning => warnings += 1,
            }
            let label = f.severity.label();
            bar.suspend(|| println!("{label} {} offset {}: {}", path.display(), f.offset, f.reason));
        }
    }
    bar.finish_and_clear();
    let summary = format!("{} segments, {total} bytes, {records} records verified", segments.len());
    if damaged > 0 {
        println!("damaged: {damaged} problems, {warnings} warnings in {summary}");
        return Err(CliError::new(
            EXIT_DAMAGED,
            format!("{} is damaged; `crowndb repair --data-dir {}` salvages what verifies", dir.display(), dir.display()),
        ));
    }
    println!("ok: {warnings} warnings in {summary}");
    Ok(())
}
