//! `crowndb load [FILE]`: write the keys of a dump into a store.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Args;
use crowndb::{Collection, CollectionType, Db, Layout, WriteBatch, WriteOptions};

use super::{io_error, progress, CliError, CliResult, DataDir, EXIT_DAMAGED};
use crate::dump_format::{DumpError, DumpItem, DumpReader};

/// Arguments of `crowndb load`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Write every key of a dump (from FILE or stdin) into the store, with its flags and expiry deadline, overwriting keys that exist. Hashes and sets are loaded with their members and deadline: each is built in transactions of bounded size under a temporary key (`\\x00crowndb-load: collection being loaded\\x00`) and renamed over its own key when its last member is in, so it replaces the key's old value whole (a load that crashes leaves the temporary key; the next load replaces it). Each entry's checksum is verified as it is read, and the whole dump's at the end. A damaged or truncated dump stops the load with exit code 4 and the offset of the damage; the entries before it stay loaded (a collection the damage cut is dropped, never loaded in part; use --verify first to load all or nothing).\n\nExamples:\n  crowndb load --data-dir copy backup.crowndump\n  crowndb load --verify backup.crowndump"
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

/// The key a collection is built under until its last member is in (then renamed over its
/// own key in one transaction). Documented in `--help` and docs/format.md.
pub const BUILDING_KEY: &[u8] = b"\0crowndb-load: collection being loaded\0";

/// A transaction of a collection's load stops before its batch (the pages it rewrites)
/// may pass about this many bytes.
const TXN_BYTES: u64 = 8 << 20;

/// The collection being loaded (under [`BUILDING_KEY`]).
struct Building {
    key: Vec<u8>,
    kind: CollectionType,
    expires_at_ms: Option<u64>,
    /// A transaction has written to `BUILDING_KEY` (which it first cleared).
    started: bool,
}

/// Adds `members` to the collection being built, in transactions whose batches stay
/// under [`TXN_BYTES`]: each member may rewrite a page of up to about two page sizes, and
/// members beyond the collection's existing pages make new ones.
fn insert_members(db: &Db, b: &mut Building, members: &[(Vec<u8>, Vec<u8>)], opts: &WriteOptions) -> CliResult {
    let page_size = db.collection_limits().page_size.max(256) as u64;
    let mut rest = members;
    while !rest.is_empty() {
        let taken = db.transaction(opts, |txn| {
            if !b.started {
                txn.delete(BUILDING_KEY)?;
            }
            let mut c = Collection::open_or_create(txn, BUILDING_KEY, b.kind)?;
            let pages = match &c.head().layout {
                Layout::Paged(lh) => lh.buckets(),
                Layout::Inline(_) => 0,
            };
            let (mut taken, mut bytes) = (0usize, 0u64);
            for (m, v) in rest {
                let rewritten = (taken as u64).min(pages) * 2 * page_size;
                let grown = bytes * 2;
                if taken > 0 && rewritten + grown >= TXN_BYTES {
                    break;
                }
                c.insert(txn, m, v)?;
                taken += 1;
                bytes += (m.len() + v.len() + 8) as u64;
            }
            c.commit(txn)?;
            Ok(taken)
        })?;
        b.started = true;
        rest = &rest[taken..];
    }
    Ok(())
}

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
    let mut building: Option<Building> = None;
    let txn_opts = WriteOptions { sync: Some(false), ..Default::default() };
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
            Ok(Some(DumpItem::Collection { key, kind, expires_at_ms })) => {
                count += 1;
                // Writes land in the order of the dump.
                flush(&mut batch)?;
                batch_bytes = 0;
                building = Some(Building { key, kind, expires_at_ms, started: false });
            }
            Ok(Some(DumpItem::Members(members))) => {
                let b = building.as_mut().expect("the reader checks that members follow a collection entry");
                if let Some(db) = &db {
                    insert_members(db, b, &members, &txn_opts)?;
                }
            }
            Ok(Some(DumpItem::CollectionEnd { .. })) => {
                let b = building.take().expect("the reader checks that a collection end follows a collection entry");
                if let Some(db) = &db {
                    db.transaction(&txn_opts, |txn| {
                        if b.started {
                            txn.rename(BUILDING_KEY, &b.key)?;
                            txn.set_collection_expiry(&b.key, b.expires_at_ms.unwrap_or(0))?;
                        } else {
                            // No members: the key holds nothing (the engine keeps no empty collection).
                            txn.delete(&b.key)?;
                        }
                        Ok(())
                    })?;
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(damaged(e)),
        }
        bar.set_position(reader.offset());
    };
    // A value cut short by damage is abandoned unfinished: it leaves no trace.
    drop(stream);
    // So is a collection: what of it was loaded goes.
    if let (Some(db), Some(Building { started: true, .. })) = (&db, &building) {
        db.transaction(&txn_opts, |txn| txn.delete(BUILDING_KEY))?;
    }
    // What was read before any damage is written, and synced, either way.
    flush(&mut batch)?;
    bar.finish_and_clear();
    if let Some(db) = db {
        db.sync()?;
        db.close()?;
    }
    result?;
    if args.verify {
        eprintln!("{name}: a valid dump (format version {}) of {count} keys ({} bytes)", reader.version(), reader.offset());
    } else {
        eprintln!("loaded {count} keys ({} bytes) from {name}", reader.offset());
    }
    Ok(())
}
