//! `crowndb get KEY`: print a value.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use clap::Args;

use super::{arg_bytes, escape, CliError, CliResult, DataDir, EXIT_NOT_FOUND};

/// Arguments of `crowndb get`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Print the value of KEY: its raw bytes on stdout (plus a newline when stdout is a terminal), streamed in pieces whatever its size. Exit code 1 if the key is absent, deleted or expired.\n\nExample:\n  crowndb get --data-dir /var/lib/crowndb user:1 > value.bin"
)]
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
    // A stream reads values of any size in pieces: memory stays flat.
    let Some(mut reader) = db.get_stream(&key)? else {
        db.close()?;
        return Err(CliError::new(EXIT_NOT_FOUND, format!("key {} not found", escape(&key))));
    };
    let stdout_error = |e: std::io::Error| CliError::failure(format!("writing to stdout: {e}"));
    let mut out = std::io::stdout().lock();
    if args.meta {
        let entry = reader.metadata();
        let expiry = entry.expires_at_ms.map_or_else(|| "none".to_string(), |t| t.to_string());
        writeln!(out, "version={} flags={} expires_at_ms={expiry} len={}", entry.version, entry.flags, reader.len())
            .map_err(stdout_error)?;
    } else {
        std::io::copy(&mut reader, &mut out).map_err(|e| match e.get_ref().and_then(|inner| inner.downcast_ref::<crowndb::Error>()) {
            Some(_) => CliError::new(super::EXIT_DAMAGED, e.to_string()),
            None => stdout_error(e),
        })?;
        if std::io::stdout().is_terminal() {
            writeln!(out).map_err(stdout_error)?;
        }
    }
    out.flush().map_err(stdout_error)?;
    drop(reader);
    db.close()?;
    Ok(())
}
