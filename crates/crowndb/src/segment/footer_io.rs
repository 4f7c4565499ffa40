//! Reading and writing a segment's footer (layout and verification in `footer`).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use crate::error::{Error, Result};
use crate::footer::{self, FooterEncoder, FooterEntry, Trailer};

use super::{Segment, SEGMENT_HEADER_LEN};

impl Segment {
    /// Reads and verifies this segment's footer. `Ok(None)`: there is no footer (the segment
    /// was never sealed). `Err`: a footer is there but damaged.
    pub fn footer(&self) -> Result<Option<(Trailer, &[u8])>> {
        let data = self.published();
        let file_len = data.len() as u64;
        if file_len < SEGMENT_HEADER_LEN + footer::TRAILER_LEN as u64 {
            return Ok(None);
        }
        let trailer_at = file_len - footer::TRAILER_LEN as u64;
        let Some(trailer) = Trailer::decode(&data[trailer_at as usize..]) else { return Ok(None) };
        let bad = |d: footer::FooterDamage| Error::corruption(&self.path, d.offset, format!("footer damaged: {}", d.reason));
        let range = footer::entries_range(&trailer, trailer_at).map_err(bad)?;
        // Read front to back (the mapping is advised random, for gets).
        let _ = self.map.advise_range(memmap2::Advice::Sequential, range.start as usize, (range.end - range.start) as usize);
        let _ = self.map.advise_range(memmap2::Advice::WillNeed, range.start as usize, (range.end - range.start) as usize);
        let entries = &data[range.start as usize..range.end as usize];
        footer::verify_entries(&trailer, entries).map_err(bad)?;
        Ok(Some((trailer, entries)))
    }

    /// The entries of this sealed segment's footer, read from the file and verified.
    pub fn read_footer_entries(&self) -> Result<Vec<FooterEntry>> {
        let io = |e| Error::io(&self.path, e);
        let file = File::open(&self.path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let bad = |offset: u64, why: &str| Error::corruption(&self.path, offset, format!("footer damaged: {why}"));
        if file_len < SEGMENT_HEADER_LEN + footer::TRAILER_LEN as u64 {
            return Err(bad(file_len, "file too short"));
        }
        let trailer_at = file_len - footer::TRAILER_LEN as u64;
        let mut tail = [0u8; footer::TRAILER_LEN];
        file.read_exact_at(&mut tail, trailer_at).map_err(io)?;
        let trailer = Trailer::decode(&tail).ok_or_else(|| bad(file_len, "no trailer"))?;
        let range = footer::entries_range(&trailer, trailer_at).map_err(|d| bad(d.offset, &d.reason))?;
        let mut bytes = vec![0u8; (range.end - range.start) as usize];
        file.read_exact_at(&mut bytes, range.start).map_err(io)?;
        footer::verify_entries(&trailer, &bytes).map_err(|d| bad(d.offset, &d.reason))?;
        Ok(footer::decode_entries(&bytes))
    }

    /// Seals the segment: writes a footer listing the records in `[header, data_end)` right
    /// after them, cuts the file there and syncs it. Entries are sorted by key hash, so the
    /// index can be rebuilt by walking its tables in order (see recovery).
    pub fn write_footer(&self, data_end: u64) -> Result<()> {
        let (entries, end) = self.footer_entries_by_scan(data_end);
        if end.end != data_end {
            let why = end.stop.map(|s| s.to_string()).unwrap_or_default();
            return Err(Error::corruption(&self.path, end.end, format!("cannot seal: {why}")));
        }
        let file = OpenOptions::new().write(true).open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let footer_end = write_footer_at(&file, &self.path, data_end, &entries, end.max_seq, end.min_put_seq)?;
        file.set_len(footer_end).map_err(|e| Error::io(&self.path, e))?;
        file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        self.synced_len.fetch_max(data_end, Ordering::AcqRel);
        self.mark_sealed();
        Ok(())
    }
}

/// Writes a footer listing `entries` (sorted by hash, then offset) at `pos` of `file`,
/// in pieces of 64 KiB (a segment of any size needs no footer-sized buffer). Returns the
/// offset just past it. Neither cuts nor syncs the file.
pub fn write_footer_at(file: &File, path: &Path, pos: u64, entries: &[FooterEntry], max_seq: u64, min_put_seq: u64) -> Result<u64> {
    let mut encoder = FooterEncoder::new();
    let mut buf = Vec::with_capacity(64 << 10);
    let mut at = pos;
    for entry in entries {
        buf.extend_from_slice(&encoder.entry(entry));
        if buf.len() >= (64 << 10) {
            file.write_all_at(&buf, at).map_err(|e| Error::io(path, e))?;
            at += buf.len() as u64;
            buf.clear();
        }
    }
    buf.extend_from_slice(&encoder.trailer(pos, max_seq, min_put_seq));
    file.write_all_at(&buf, at).map_err(|e| Error::io(path, e))?;
    Ok(at + buf.len() as u64)
}
