//! `crowndb load [FILE]`: write the keys of a dump into a store.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Args;
use crowndb::{WriteBatch, WriteOptions};

use super::{io_error, progress, CliError, CliResult, DataDir, EXIT_DAMAGED};
use crate::dump_format::{DumpError, DumpItem, DumpReader};

/// Arguments of `crowndb load`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Write every key of a dump (from FILE or stdin) into the store, with its flags and expiry deadline, overwriting keys that exist. Each entry's checksum is verified as it is read, and the whole dump's at the end. A damaged or truncated dump stops the load with exit code 4 and the offset of the damage; the entries before it stay loaded (use --verify first to load all or nothing).\n\nExamples:\n  crowndb load --data-dir copy backup.crowndump\n  crowndb load --verify backup.crowndump"
)]
pub struct LoadArgs {
    #[command(flatten)]
    pub dir: DataDir,
    /// Input file; stdin if omitted or `-`.
    pub file: Option<PathBuf>,
    /// Only verify the dump (every checksum); write nothing.
    #[arg(long)]
    pub verify: bool,
}

/// Writes go in batches of about this many bytes (one envelope record each).
const BATCH_BYTES: usize = 1 << 20;

pub fn run(args: LoadArgs) -> CliResult {
    let source = args.file.filter(|p| p.as_os_str() != "-");
    let (input, len): (Box<dyn Read>, u64) = match &source {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            (Box::new(file), len)
        }
        None => (Box::new(std::io::stdin().lock()), 0),
    };
    let name = source.as_ref().map_or_else(|| "stdin".to_string(), |p| p.display().to_string());
    let damaged = |e: DumpError| match e {
        DumpError::Io(e) => CliError::failure(format!("reading {name}: {e}")),
        e @ DumpError::Damaged { .. } => CliError::new(EXIT_DAMAGED, format!("{name}: {e}")),
    };
    let mut reader = DumpReader::new(std::io::BufReader::with_capacity(1 << 20, input)).map_err(damaged)?;
    let db = if args.verify { None } else { Some(args.dir.open_or_create()?) };
    let bar = progress(len, if args.verify { "verifying" } else { "loading" }, true);
    let (mut batch, mut batch_bytes, mut count) = (WriteBatch::new(), 0usize, 0u64);
    let flush = |batch: &mut WriteBatch| -> CliResult {
        if let Some(db) = &db {
            if !batch.is_empty() {
                db.write_opt(batch, &WriteOptions { sync: Some(false), ..Default::default() })?;
            }
        }
        batch.clear();
        Ok(())
    };
    // A value streamed in pieces: its writer and the bytes still to come.
    let mut stream: Option<(Option<crowndb::ValueWriter>, u64)> = None;
    let result = loop {
        match reader.next_item() {
            Ok(Some(DumpItem::Entry(e))) => {
                count += 1;
                if let Some(db) = &db {
                    let size = e.key.len() + e.value.len() + 32;
                    if size >= BATCH_BYTES {
                        // Too big to share an envelope: written on its own.
                        let opts = WriteOptions { sync: Some(false), flags: e.flags, expires_at_ms: e.expires_at_ms };
                        db.put_opt(&e.key, &e.value, &opts)?;
                    } else {
                        batch.put_with(&e.key, &e.value, e.flags, e.expires_at_ms);
                        batch_bytes += size;
                        if batch_bytes >= BATCH_BYTES {
                            flush(&mut batch)?;
                            batch_bytes = 0;
                        }
                    }
                }
            }
            Ok(Some(DumpItem::Stream { entry, len })) => {
                count += 1;
                let writer = match &db {
                    Some(db) => {
                        let opts = WriteOptions { sync: Some(false), flags: entry.flags, expires_at_ms: entry.expires_at_ms };
                        Some(db.put_stream(&entry.key, &opts)?)
                    }
                    None => None,
                };
                stream = Some((writer, len));
            }
            Ok(Some(DumpItem::Piece(piece))) => {
                let (writer, left) = stream.as_mut().expect("the reader checks that pieces follow a stream entry");
                if let Some(w) = writer {
                    w.write_all(&piece).map_err(|e| CliError::failure(format!("writing a streamed value: {e}")))?;
                }
                *left -= piece.len() as u64;
                if *left == 0 {
                    if let Some((Some(w), _)) = stream.take() {
                        w.finish()?;
                    }
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(damaged(e)),
        }
        bar.set_position(reader.offset());
    };
    // A value cut short by damage is abandoned unfinished: it leaves no trace.
    drop(stream);
    // What was read before any damage is written, and synced, either way.
    flush(&mut batch)?;
    bar.finish_and_clear();
    if let Some(db) = db {
        db.sync()?;
        db.close()?;
    }
    result?;
    if args.verify {
        eprintln!("{name}: a valid dump of {count} keys ({} bytes)", reader.offset());
    } else {
        eprintln!("loaded {count} keys ({} bytes) from {name}", reader.offset());
    }
    Ok(())
}
