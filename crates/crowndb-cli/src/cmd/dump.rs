//! `crowndb dump [FILE]`: every live key, with its flags and deadline, to a dump file.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use crowndb::{Collection, Db, Entry, Head, KeyState, KeyType, Members, ReadRecords, ReadView};

use super::{escape, io_error, progress, CliError, CliResult, DataDir, EXIT_DAMAGED};
use crate::dump_format::{DumpEntry, DumpWriter};

/// Members read from the store per step of a collection's walk (whole pages each step).
const SCAN_STEP: usize = 512;

/// Arguments of `crowndb dump`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Write every live key with its value, flags and expiry deadline to FILE (or stdout) in the checksummed dump format of docs/format.md. Hashes and sets are written as collection entries with their members, walked page by page. Streams: memory stays flat, whatever the size of a value or a collection. The dump is a consistent snapshot (a key whose deadline passes while the dump runs may be left out); versions (CAS tokens) are not kept, they belong to one store.\n\nExamples:\n  crowndb dump --data-dir data backup.crowndump\n  crowndb dump --data-dir data | \
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
        // The walk yields a collection's head as a value; its type says which it is. This
        // process holds the directory, so the store is as the walk's snapshot sees it but
        // for deadlines passing meanwhile.
        match db.read(|view| view.key_type(&key))? {
            None => {} // expired since the walk started
            Some(KeyType::String) => {
                let entry = DumpEntry { key, value: entry.value, flags: entry.flags, expires_at_ms: entry.expires_at_ms };
                writer.write(&entry).map_err(write_error)?;
            }
            Some(KeyType::Hash | KeyType::Set) => dump_collection(&db, &mut writer, &key, &entry, &write_error)?,
        }
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

/// Reads a collection through the head the walk's snapshot saw (so a deadline passing
/// during the walk does not cut it short), and its pages from the store.
struct PinnedHead<'h, 'v, 'a> {
    head: &'h Head,
    expires_at_ms: u64,
    view: &'v mut ReadView<'a>,
}

impl ReadRecords for PinnedHead<'_, '_, '_> {
    fn key_state(&mut self, _key: &[u8]) -> crowndb::Result<KeyState> {
        Ok(KeyState::Collection { head: self.head.clone(), expires_at_ms: self.expires_at_ms })
    }

    fn page(&mut self, epoch: u64, bucket: u64, with_values: bool) -> crowndb::Result<Members> {
        self.view.page(epoch, bucket, with_values)
    }
}

/// Writes one collection entry: its members walked a few pages at a time (each step in a
/// short read view), so memory holds a step's members, never the collection.
fn dump_collection<W: Write>(
    db: &Db,
    writer: &mut DumpWriter<W>,
    key: &[u8],
    entry: &Entry,
    write_error: &dyn Fn(std::io::Error) -> CliError,
) -> CliResult {
    let head = Head::decode(&entry.value)
        .map_err(|why| CliError::new(EXIT_DAMAGED, format!("the head of collection {} does not decode: {why}", escape(key))))?;
    let expires_at_ms = entry.expires_at_ms.unwrap_or(0);
    let mut collection = db
        .read(|view| Collection::open(&mut PinnedHead { head: &head, expires_at_ms, view }, key, head.kind))?
        .expect("a pinned head is a collection");
    writer.begin_collection(key, head.kind, entry.expires_at_ms).map_err(write_error)?;
    let (mut cursor, mut step) = (0u64, Vec::new());
    loop {
        cursor = db.read(|view| collection.scan(&mut PinnedHead { head: &head, expires_at_ms, view }, cursor, SCAN_STEP, &mut step))?;
        for (member, value) in step.drain(..) {
            writer.write_member(&member, &value).map_err(write_error)?;
        }
        if cursor == 0 {
            break;
        }
    }
    let written = writer.end_collection().map_err(write_error)?;
    if written != head.count {
        // The store's damage, not the dump's: say so, and dump what is there.
        eprintln!(
            "crowndb: warning: {} {} counts {} members, its pages hold {written}; dumped those (run `crowndb check`)",
            head.kind.name(),
            escape(key),
            head.count
        );
    }
    Ok(())
}
