//! `crowndb put KEY [VALUE]`: store a value from an argument, a file or stdin.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Args;
use crowndb::WriteOptions;

use super::{arg_bytes, io_error, now_ms, CliError, CliResult, DataDir};

/// Arguments of `crowndb put`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Store a value under KEY. The value is VALUE, or the contents of --file, or stdin when neither is given (or VALUE is `-`). Returns once the write is on disk. A value over 1 MiB is written as a stream of chunks: any size, in flat memory.\n\nExamples:\n  crowndb put --data-dir data greeting hello\n  crowndb put --data-dir data \
                        photo --file photo.jpg\n  echo -n hello | crowndb put --data-dir data greeting --ttl 60"
)]
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

/// Values up to this size are written as one record; bigger ones as a stream of chunks.
const STREAM_ABOVE: usize = 1 << 20;

pub fn run(args: PutArgs) -> CliResult {
    let expires_at_ms = match (args.ttl, args.expires_at_ms) {
        (Some(secs), _) => Some(now_ms().saturating_add(secs.saturating_mul(1000))),
        (None, at) => at,
    };
    let opts = WriteOptions { sync: Some(true), flags: args.flags, expires_at_ms };
    let key = arg_bytes(&args.key);
    let (mut input, name): (Box<dyn Read>, String) = match (&args.value, &args.file) {
        (Some(v), None) if v != "-" => (Box::new(std::io::Cursor::new(arg_bytes(v))), "the argument".into()),
        (_, Some(path)) => (Box::new(std::fs::File::open(path).map_err(|e| io_error(path, e))?), path.display().to_string()),
        _ => (Box::new(std::io::stdin().lock()), "stdin".into()),
    };
    let read_error = |e: std::io::Error| CliError::failure(format!("reading {name}: {e}"));
    // Read up to one byte past the threshold to learn whether the value needs a stream.
    let mut head = Vec::new();
    (&mut input).take(STREAM_ABOVE as u64 + 1).read_to_end(&mut head).map_err(read_error)?;
    let db = args.dir.open_or_create()?;
    if head.len() <= STREAM_ABOVE {
        db.put_opt(&key, &head, &opts)?;
    } else {
        let mut writer = db.put_stream(&key, &opts)?;
        writer.write_all(&head).map_err(|e| CliError::failure(format!("writing the value: {e}")))?;
        std::io::copy(&mut input, &mut writer).map_err(|e| CliError::failure(format!("copying {name} into the store: {e}")))?;
        writer.finish()?;
        db.sync()?;
    }
    db.close()?;
    Ok(())
}
