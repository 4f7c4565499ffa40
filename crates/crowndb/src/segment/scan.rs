//! Reading a segment's records in log order (recovery of an unsealed segment, sealing,
//! paranoid open): each record verified, batch envelopes split into their records.

use crate::envelope;
use crate::footer::FooterEntry;
use crate::record::{self, RecordError, RecordKind, RecordRef, HEADER_LEN};

use super::{Segment, SEGMENT_HEADER_LEN};

/// Where and why a scan of records stopped.
#[derive(Debug, Clone)]
pub struct ScanEnd {
    /// Offset just past the last valid record.
    pub end: u64,
    /// Why the scan stopped before `to`, if it did.
    pub stop: Option<RecordError>,
    /// Highest sequence number seen.
    pub max_seq: u64,
    /// Lowest sequence number of a put seen (`u64::MAX` if none).
    pub min_put_seq: u64,
}

impl Segment {
    /// Decodes records in `[from, to)` (clamped to the published length), calling `visit`
    /// with the offset of each Put/Delete record (records inside a batch included).
    /// Stops at the first invalid record or invalid batch.
    pub fn scan(&self, from: u64, to: u64, mut visit: impl FnMut(u64, &RecordRef<'_>)) -> ScanEnd {
        let data = self.published();
        let to = (to as usize).min(data.len());
        let mut off = from as usize;
        let mut max_seq = 0;
        let mut min_put_seq = u64::MAX;
        while off < to {
            let rec = match record::decode(&data[off..to]) {
                Ok(rec) => rec,
                Err(e) => return ScanEnd { end: off as u64, stop: Some(e), max_seq, min_put_seq },
            };
            let rec_len = rec.header.record_len() as usize;
            if rec.header.kind == RecordKind::Batch {
                let inner_start = off + HEADER_LEN + rec.key.len();
                match envelope::split(rec.value) {
                    Some(inner) => {
                        for (inner_off, r) in inner {
                            max_seq = max_seq.max(r.header.seq);
                            if r.header.kind == RecordKind::Put {
                                min_put_seq = min_put_seq.min(r.header.seq);
                            }
                            visit((inner_start + inner_off) as u64, &r);
                        }
                    }
                    None => {
                        let stop = Some(RecordError::BadKind(RecordKind::Batch as u8));
                        return ScanEnd { end: off as u64, stop, max_seq, min_put_seq };
                    }
                }
            } else {
                max_seq = max_seq.max(rec.header.seq);
                if rec.header.kind == RecordKind::Put {
                    min_put_seq = min_put_seq.min(rec.header.seq);
                }
                visit(off as u64, &rec);
            }
            off += rec_len;
        }
        ScanEnd { end: off as u64, stop: None, max_seq, min_put_seq }
    }

    /// The footer entries of the records in `[header, to)`, as a scan finds them, sorted by
    /// (hash, offset) as a footer lists them; and where the scan stopped.
    pub fn footer_entries_by_scan(&self, to: u64) -> (Vec<FooterEntry>, ScanEnd) {
        let mut entries = Vec::new();
        let end = self.scan(SEGMENT_HEADER_LEN, to, |offset, rec| {
            entries.push(FooterEntry::of(offset, rec));
        });
        entries.sort_unstable_by_key(|e| (e.hash, e.offset));
        (entries, end)
    }
}
