//! `crowndb get KEY`: print a value, or the members of a hash or set.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use clap::Args;
use crowndb::{Collection, CollectionType, Db, KeyType};

use super::{arg_bytes, escape, CliError, CliResult, DataDir, EXIT_NOT_FOUND};

/// Arguments of `crowndb get`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Print the value of KEY: its raw bytes on stdout (plus a newline when stdout is a terminal), streamed in pieces whatever its size. Exit code 1 if the key is absent, deleted or expired.\n\nA key holding a hash or a set (written over the Redis protocol) has no single value: `get` says so (exit code 5) unless given --members, which prints one member per line, a hash's as `FIELD<TAB>VALUE`, with bytes other than printable ASCII as `\\xNN` and a backslash as `\\\\` (as `scan` prints keys), in no particular order, walked a few pages at a time. --meta prints `type=hash|set members=N expires_at_ms=N|none` for them.\n\nExamples:\n  crowndb get --data-dir /var/lib/crowndb user:1 > value.bin\n  crowndb get --data-dir /var/lib/crowndb --members user:1:tags"
)]
pub struct GetArgs {
    #[command(flatten)]
    pub dir: DataDir,
    /// The key (any bytes).
    pub key: OsString,
    /// Print `version=N flags=N expires_at_ms=N|none len=N` instead of the value
    /// (`type=hash|set members=N expires_at_ms=N|none` for a hash or a set).
    #[arg(long)]
    pub meta: bool,
    /// The key holds a hash or a set: print its members, one per line (escaped).
    #[arg(long, conflicts_with = "meta")]
    pub members: bool,
}

/// Members read per step of a walk.
const SCAN_STEP: usize = 512;

fn stdout_error(e: std::io::Error) -> CliError {
    CliError::failure(format!("writing to stdout: {e}"))
}

pub fn run(args: GetArgs) -> CliResult {
    let db = args.dir.open_existing()?;
    let key = arg_bytes(&args.key);
    let result = match db.read(|view| view.key_type(&key))? {
        None => Err(CliError::new(EXIT_NOT_FOUND, format!("key {} not found", escape(&key)))),
        Some(KeyType::String) if args.members => {
            Err(CliError::failure(format!("key {} holds a string, not a hash or a set: drop --members", escape(&key))))
        }
        Some(KeyType::String) => print_value(&db, &key, args.meta),
        Some(KeyType::Hash) => print_collection(&db, &key, CollectionType::Hash, &args),
        Some(KeyType::Set) => print_collection(&db, &key, CollectionType::Set, &args),
    };
    db.close()?;
    result
}

fn print_value(db: &Db, key: &[u8], meta: bool) -> CliResult {
    // A stream reads values of any size in pieces: memory stays flat.
    let Some(mut reader) = db.get_stream(key)? else {
        return Err(CliError::new(EXIT_NOT_FOUND, format!("key {} not found", escape(key))));
    };
    let mut out = std::io::stdout().lock();
    if meta {
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
    out.flush().map_err(stdout_error)
}

fn print_collection(db: &Db, key: &[u8], kind: CollectionType, args: &GetArgs) -> CliResult {
    let Some(mut c) = db.read(|view| Collection::open(view, key, kind))? else {
        return Err(CliError::new(EXIT_NOT_FOUND, format!("key {} not found", escape(key))));
    };
    let what = if kind == CollectionType::Hash { "fields" } else { "members" };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.meta {
        let expires_at_ms = c.expires_at_ms();
        let expiry = if expires_at_ms == 0 { "none".to_string() } else { expires_at_ms.to_string() };
        writeln!(out, "type={} members={} expires_at_ms={expiry}", kind.name(), c.len()).map_err(stdout_error)?;
    } else if !args.members {
        return Err(CliError::failure(format!(
            "key {} holds a {} of {} {what}, not a string value: `crowndb get --members` prints them{}",
            escape(key),
            kind.name(),
            c.len(),
            if kind == CollectionType::Hash { " (or HGETALL over the Redis protocol)" } else { " (or SMEMBERS over the Redis protocol)" },
        )));
    } else {
        // No other process writes the store meanwhile (this one holds the directory), so
        // the head read above stays current for the walk.
        let (mut cursor, mut step) = (0u64, Vec::new());
        loop {
            cursor = db.read(|view| c.scan(view, cursor, SCAN_STEP, &mut step))?;
            for (member, value) in step.drain(..) {
                if kind == CollectionType::Hash {
                    writeln!(out, "{}\t{}", escape(&member), escape(&value)).map_err(stdout_error)?;
                } else {
                    writeln!(out, "{}", escape(&member)).map_err(stdout_error)?;
                }
            }
            if cursor == 0 {
                break;
            }
        }
    }
    out.flush().map_err(stdout_error)
}
