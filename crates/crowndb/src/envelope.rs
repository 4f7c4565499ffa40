//! The batch envelope (docs/format.md, "Batch envelope"): one record of kind `Batch`
//! whose value is a run of complete Put/Delete records and whose checksum covers them all,
//! so a batch is applied whole or not at all. Laid out here for the writer; split here
//! for every reader (open, sealing, `crowndb check` and `repair`).

use std::borrow::Cow;

use crate::batch::{BatchOp, WriteBatch};
use crate::record::{self, RecordKind, RecordMeta, RecordRef, HEADER_LEN};

/// Splits a batch envelope's payload into its records; `None` if it is not exactly a run
/// of valid Put/Delete records.
pub fn split(payload: &[u8]) -> Option<Vec<(usize, RecordRef<'_>)>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < payload.len() {
        let rec = record::decode(&payload[off..]).ok()?;
        if !matches!(rec.header.kind, RecordKind::Put | RecordKind::Delete | RecordKind::Page) {
            return None;
        }
        out.push((off, rec));
        off += rec.header.record_len() as usize;
    }
    Some(out)
}

/// One operation of a batch as it will be laid out: its stored (possibly compressed)
/// value, or for a streamed value the manifest, once its chunks are written.
pub(crate) struct Prepared<'b> {
    pub stored: Cow<'b, [u8]>,
    pub codec: u8,
    /// Length of its record inside the envelope.
    pub len: usize,
}

pub(crate) type PreparedBatch<'b> = Vec<Prepared<'b>>;

/// Lays out a batch envelope: header, then each operation as a complete record.
pub(crate) fn encode(buf: &mut [u8], batch: &WriteBatch, prepared: &[Prepared<'_>], first_seq: u64) {
    let mut at = HEADER_LEN;
    for (i, (op, p)) in batch.ops.iter().zip(prepared).enumerate() {
        let seq = first_seq + i as u64;
        let out = &mut buf[at..at + p.len];
        match op {
            BatchOp::Put { key, flags, expires_at_ms, .. } => record::encode_into(
                out,
                RecordMeta { kind: RecordKind::Put, codec: p.codec, flags: *flags, seq, expires_at_ms: *expires_at_ms },
                key,
                &p.stored,
            ),
            BatchOp::Delete { key } => {
                record::encode_into(out, RecordMeta { kind: RecordKind::Delete, codec: 0, flags: 0, seq, expires_at_ms: 0 }, key, &[])
            }
            BatchOp::Head { key, expires_at_ms, .. } => record::encode_into(
                out,
                RecordMeta { kind: RecordKind::Put, codec: p.codec, flags: 0, seq, expires_at_ms: *expires_at_ms },
                key,
                &p.stored,
            ),
            BatchOp::Page { key, .. } => record::encode_into(
                out,
                RecordMeta { kind: RecordKind::Page, codec: p.codec, flags: 0, seq, expires_at_ms: 0 },
                key,
                &p.stored,
            ),
        }
        at += p.len;
    }
    let payload = (buf.len() - HEADER_LEN) as u32;
    buf[4] = RecordKind::Batch as u8;
    buf[5] = 0;
    buf[6..8].copy_from_slice(&0u16.to_le_bytes());
    buf[8..12].copy_from_slice(&payload.to_le_bytes());
    buf[12..16].copy_from_slice(&(batch.ops.len() as u32).to_le_bytes());
    buf[16..24].copy_from_slice(&first_seq.to_le_bytes());
    buf[24..32].copy_from_slice(&0u64.to_le_bytes());
    record::seal_checksum(buf);
}
