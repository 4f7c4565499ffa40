//! `crowndb put KEY [VALUE]`: store a value from an argument, a file or stdin.

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;

use clap::Args;
use crowndb::WriteOptions;

use super::{arg_bytes, io_error, now_ms, CliError, CliResult, DataDir};

/// Store a value under KEY. The value is VALUE, or the contents of --file, or stdin when
/// neither is given (or VALUE is `-`). Returns once the write is on disk.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  crowndb put --data-dir data greeting hello\n  crowndb put --data-dir data \
                        photo --file photo.jpg\n  echo -n hello | crowndb put --data-dir data greeting --ttl 60")]
pub struct PutArgs {
    #[command(flatten)]
    pub dir: DataDir,
    /// The key (any bytes).
    pub key: OsString,
    /// The value; omit it (or give `-`) to read stdin.
    #[arg(conflicts_with = "file")]
    pub value: Option<OsString>,
    /// Read the value from this file.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Client flags stored with the value (memcached flags).
    #[arg(long, default_value_t = 0)]
    pub flags: u32,
    /// Expire the key this many seconds from now.
    #[arg(long, value_name = "SECS", conflicts_with = "expires_at_ms")]
    pub ttl: Option<u64>,
    /// Expire the key at this Unix time, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub expires_at_ms: Option<u64>,
}

pub fn run(args: PutArgs) -> CliResult {
    let value = match (&args.value, &args.file) {
        (Some(v), None) if v != "-" => arg_bytes(v),
        (_, Some(path)) => std::fs::read(path).map_err(|e| io_error(path, e))?,
        _ => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| CliError::failure(format!("reading stdin: {e}")))?;
            buf
        }
    };
    let expires_at_ms = match (args.ttl, args.expires_at_ms) {
        (Some(secs), _) => Some(now_ms().saturating_add(secs.saturating_mul(1000))),
        (None, at) => at,
    };
    let db = args.dir.open_or_create()?;
    let opts = WriteOptions { sync: Some(true), flags: args.flags, expires_at_ms };
    db.put_opt(&arg_bytes(&args.key), &value, &opts)?;
    db.close()?;
    Ok(())
}
