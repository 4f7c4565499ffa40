//! `crowndb dump [FILE]`: every live key, with its flags and deadline, to a dump file.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{io_error, progress, CliError, CliResult, DataDir};
use crate::dump_format::{DumpEntry, DumpWriter};

/// Arguments of `crowndb dump`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Write every live key with its value, flags and expiry deadline to FILE (or stdout) in the checksummed dump format of docs/format.md. Streams: memory stays flat. The dump is a consistent snapshot; versions (CAS tokens) are not kept, they belong to one store.\n\nExamples:\n  crowndb dump --data-dir data backup.crowndump\n  crowndb dump --data-dir data | \
                        crowndb load --data-dir copy"
)]
pub struct DumpArgs {
    #[command(flatten)]
    pub dir: DataDir,
    /// Output file (replaced if it exists); stdout if omitted or `-`.
    pub file: Option<PathBuf>,
}

pub fn run(args: DumpArgs) -> CliResult {
    let db = args.dir.open_existing()?;
    let target = args.file.filter(|p| p.as_os_str() != "-");
    // A file is written next to its final name and renamed at the end, so a failed dump
    // never leaves a truncated file under the name.
    let (out, temp): (Box<dyn Write>, Option<(PathBuf, PathBuf)>) = match &target {
        Some(path) => {
            let mut temp = path.clone().into_os_string();
            temp.push(".partial");
            let temp = PathBuf::from(temp);
            let file = std::fs::File::create(&temp).map_err(|e| io_error(&temp, e))?;
            (Box::new(std::io::BufWriter::with_capacity(1 << 20, file)), Some((temp, path.clone())))
        }
        None => (Box::new(std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock())), None),
    };
    let write_error = |e: std::io::Error| match &temp {
        Some((t, _)) => io_error(t, e),
        None => CliError::failure(format!("writing to stdout: {e}")),
    };
    let mut writer = DumpWriter::new(out).map_err(write_error)?;
    let bar = progress(db.stats().keys, "dumping", false);
    for item in db.iter().with_metadata() {
        let (key, entry) = item?;
        let entry = DumpEntry { key, value: entry.value, flags: entry.flags, expires_at_ms: entry.expires_at_ms };
        writer.write(&entry).map_err(write_error)?;
        bar.inc(1);
    }
    let (out, count, bytes) = writer.finish().map_err(write_error)?;
    drop(out);
    bar.finish_and_clear();
    if let Some((temp, path)) = temp {
        std::fs::File::open(&temp).and_then(|f| f.sync_all()).map_err(|e| io_error(&temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| io_error(&path, e))?;
    }
    db.close()?;
    eprintln!("dumped {count} keys ({bytes} bytes)");
    Ok(())
}
