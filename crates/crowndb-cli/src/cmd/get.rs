//! `crowndb get KEY`: print a value.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use clap::Args;

use super::{arg_bytes, escape, CliError, CliResult, DataDir, EXIT_NOT_FOUND};

/// Print the value of KEY: its raw bytes on stdout (plus a newline when stdout is a
/// terminal). Exit code 1 if the key is absent, deleted or expired.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  crowndb get --data-dir /var/lib/crowndb user:1 > value.bin")]
pub struct GetArgs {
    #[command(flatten)]
    pub dir: DataDir,
    /// The key (any bytes).
    pub key: OsString,
    /// Print `version=N flags=N expires_at_ms=N|none len=N` instead of the value.
    #[arg(long)]
    pub meta: bool,
}

pub fn run(args: GetArgs) -> CliResult {
    let db = args.dir.open_existing()?;
    let key = arg_bytes(&args.key);
    let entry = db.get_entry(&key)?;
    db.close()?;
    let Some(entry) = entry else {
        return Err(CliError::new(EXIT_NOT_FOUND, format!("key {} not found", escape(&key))));
    };
    let mut out = std::io::stdout().lock();
    let result = if args.meta {
        let expiry = entry.expires_at_ms.map_or_else(|| "none".to_string(), |t| t.to_string());
        writeln!(out, "version={} flags={} expires_at_ms={expiry} len={}", entry.version, entry.flags, entry.value.len())
    } else {
        out.write_all(&entry.value).and_then(|()| if std::io::stdout().is_terminal() { writeln!(out) } else { Ok(()) })
    };
    result.and_then(|()| out.flush()).map_err(|e| CliError::failure(format!("writing to stdout: {e}")))
}
