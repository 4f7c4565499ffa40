//! `crowndb scan [PATTERN]`: list keys.

use std::io::Write;

use clap::Args;

use super::{escape, CliError, CliResult, DataDir};

/// Arguments of `crowndb scan`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "List live keys, one per line, in no particular order (a hash store has no key order). Bytes other than printable ASCII are printed as `\\xNN`, a backslash as `\\\\`.\n\nExamples:\n  crowndb scan --data-dir data\n  crowndb scan --data-dir data 'user:*' --limit 10"
)]
pub struct ScanArgs {
    #[command(flatten)]
    pub dir: DataDir,
    /// Only keys matching this glob (`*`, `?`, `[abc]`), matched against the printed form.
    pub pattern: Option<String>,
    /// Stop after this many keys.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

pub fn run(args: ScanArgs) -> CliResult {
    let pattern = match &args.pattern {
        Some(p) => Some(glob::Pattern::new(p).map_err(|e| CliError::new(2, format!("pattern {p:?}: {e}")))?),
        None => None,
    };
    let db = args.dir.open_existing()?;
    let limit = args.limit.unwrap_or(u64::MAX);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut cursor, mut printed) = (0, 0u64);
    // The cursor walk reads keys only (no values). No one else writes meanwhile (this
    // process holds the directory), so each key comes exactly once.
    'walk: while printed < limit {
        let page = db.scan(cursor, 1024)?;
        for key in page.keys {
            let shown = escape(&key);
            if pattern.as_ref().is_some_and(|p| !p.matches(&shown)) {
                continue;
            }
            writeln!(out, "{shown}").map_err(|e| CliError::failure(format!("writing to stdout: {e}")))?;
            printed += 1;
            if printed >= limit {
                break 'walk;
            }
        }
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    out.flush().map_err(|e| CliError::failure(format!("writing to stdout: {e}")))?;
    drop(out);
    db.close()?;
    Ok(())
}
