//! The logged operations (`oplog.rs`) against a store: performing one, what it leaves, and
//! reading that back. Shared by the crash torture's writer and verifier (`crash.rs`) and the
//! I/O fault harness (`io_faults.rs`).

use std::io::{Read, Write};

use crowndb::{Db, WriteBatch, WriteOptions};

use crate::rng::Rng;

use crate::oplog::{Item, Op};
use crate::values::ValueId;

/// What one key holds after a write: its value (`None`: absent), and whether it was written
/// as a stream (then it is read back with `get_stream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub value: Option<ValueId>,
    pub streamed: bool,
}

/// A key with no value.
pub const ABSENT: Known = Known { value: None, streamed: false };

/// The keys operation `id` writes, and what each then holds (a compaction writes none).
pub fn effects(id: u64, op: &Op) -> Vec<(String, Known)> {
    let put = |key: &String, slot: usize, len: u64, streamed: bool| {
        (key.clone(), Known { value: Some(ValueId { op: id, slot: slot as u32, len }), streamed })
    };
    match op {
        Op::Put { key, len } => vec![put(key, 0, *len, false)],
        Op::Delete { key } => vec![(key.clone(), ABSENT)],
        Op::Stream { key, len } => vec![put(key, 0, *len, true)],
        Op::Batch(items) => items
            .iter()
            .enumerate()
            .map(|(slot, item)| match item {
                Item::Put { key, len } => put(key, slot, *len, false),
                Item::Delete { key } => (key.clone(), ABSENT),
            })
            .collect(),
        Op::Compact => Vec::new(),
    }
}

/// Performs operation `id`, every write synced; stream values go in pieces of random sizes.
pub fn perform(db: &Db, id: u64, op: &Op, rng: &mut Rng) -> crowndb::Result<()> {
    let synced = WriteOptions::synced();
    match op {
        Op::Put { key, len } => db.put_opt(key.as_bytes(), &ValueId { op: id, slot: 0, len: *len }.bytes(), &synced).map(drop),
        Op::Delete { key } => db.delete_opt(key.as_bytes(), &synced).map(drop),
        Op::Batch(items) => {
            let mut batch = WriteBatch::new();
            for (slot, item) in items.iter().enumerate() {
                match item {
                    Item::Put { key, len } => batch.put(key.as_bytes(), &ValueId { op: id, slot: slot as u32, len: *len }.bytes()),
                    Item::Delete { key } => batch.delete(key.as_bytes()),
                };
            }
            db.write_opt(&batch, &synced)
        }
        Op::Stream { key, len } => {
            let value = ValueId { op: id, slot: 0, len: *len };
            let mut writer = db.put_stream(key.as_bytes(), &synced)?;
            let mut pos = 0u64;
            let mut piece = Vec::new();
            while pos < value.len {
                let n = rng.range(1, 300 << 10).min(value.len - pos);
                piece.resize(n as usize, 0);
                value.fill(pos, &mut piece);
                writer.write_all(&piece).map_err(|e| {
                    // The stream writer wraps the engine's error in an io::Error: give back the
                    // engine's, so its kind (Poisoned, DiskFull...) is not lost.
                    let message = e.to_string();
                    match e.into_inner().map(|inner| inner.downcast::<crowndb::Error>()) {
                        Some(Ok(engine)) => *engine,
                        _ => crowndb::Error::InvalidArgument(format!("stream write: {message}")),
                    }
                })?;
                pos += n;
            }
            writer.finish().map(drop)
        }
        Op::Compact => db.compact().map(drop),
    }
}

/// Reads `key` the way it was written. `Ok(None)`: absent.
pub fn read_value(db: &Db, key: &str, streamed: bool) -> Result<Option<Vec<u8>>, String> {
    if !streamed {
        return db.get(key.as_bytes()).map_err(|e| format!("get {key}: {e}"));
    }
    let Some(mut reader) = db.get_stream(key.as_bytes()).map_err(|e| format!("get_stream {key}: {e}"))? else { return Ok(None) };
    let mut out = Vec::new();
    reader.read_to_end(&mut out).map_err(|e| format!("reading the stream of {key}: {e}"))?;
    Ok(Some(out))
}

/// Whether what was read is exactly what `expected` says.
pub fn matches(found: &Option<Vec<u8>>, expected: &Known) -> bool {
    match (found, &expected.value) {
        (None, None) => true,
        (Some(bytes), Some(id)) => bytes.len() as u64 == id.len && *bytes == id.bytes(),
        _ => false,
    }
}

/// What was read, for a failure message.
pub fn describe(found: &Option<Vec<u8>>) -> String {
    found.as_ref().map_or("absent".to_string(), |v| ValueId::describe(v))
}
