//! Repairing a damaged segment file (what `crowndb repair` does to each segment
//! [`crate::check`] finds in need): the bytes the rewrite leaves behind go to
//! `quarantine/` first (`<segment>.<offset>.bad` for each range that is not a valid record,
//! `<segment>.0.header` for a damaged header, `<segment>.<offset>.footer` for a damaged
//! footer); then the records that verify are copied byte for byte (same sequence numbers,
//! so the same versions win) into `<segment>.repair` with a fresh header and footer, which
//! replaces the segment by rename.
//!
//! REQUIRES: the caller holds the directory lock (as for [`crate::check`]).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::check::{BadRange, FooterState, SegmentScan};
use crate::error::{Error, Result};
use crate::footer::FooterEntry;
use crate::segment::{header, sync_dir, write_footer_at, SEGMENT_HEADER_LEN};

/// Name (in `quarantine/`) and byte range of each part of the file the rewrite leaves
/// behind.
pub fn quarantine_pieces(scan: &SegmentScan) -> Vec<(String, BadRange)> {
    let name = scan.path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut out = Vec::new();
    if !scan.header_ok {
        let end = scan.file_len.min(SEGMENT_HEADER_LEN);
        out.push((format!("{name}.0.header"), BadRange { start: 0, end }));
    }
    for r in &scan.bad {
        let start = r.start.max(if scan.header_ok { 0 } else { SEGMENT_HEADER_LEN });
        if start < r.end {
            out.push((format!("{name}.{start}.bad"), BadRange { start, end: r.end }));
        }
    }
    if let FooterState::Damaged = scan.footer {
        if scan.data_end < scan.file_len {
            out.push((format!("{name}.{}.footer", scan.data_end), BadRange { start: scan.data_end, end: scan.file_len }));
        }
    }
    out
}

/// Moves `pieces` of the segment (its bytes are `data`) to `dir/quarantine/`, then
/// rewrites it from the records that verify.
pub fn repair_segment(dir: &Path, scan: &SegmentScan, data: &[u8], pieces: &[(String, BadRange)]) -> Result<()> {
    for (name, range) in pieces {
        write_quarantine(dir, name, &data[range.start as usize..range.end as usize])?;
    }
    rewrite(dir, scan, data)
}

fn write_quarantine(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let qdir = dir.join("quarantine");
    std::fs::create_dir_all(&qdir).map_err(|e| Error::io(&qdir, e))?;
    let path = qdir.join(name);
    let mut file = File::create(&path).map_err(|e| Error::io(&path, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| Error::io(&path, e))?;
    sync_dir(&qdir)
}

/// Writes header, the records that verify, and a footer to `<segment>.repair`, syncs it,
/// and renames it over the segment.
fn rewrite(dir: &Path, scan: &SegmentScan, data: &[u8]) -> Result<()> {
    let mut temp_name = scan.path.clone().into_os_string();
    temp_name.push(".repair");
    let temp = PathBuf::from(temp_name);
    let file = File::create(&temp).map_err(|e| Error::io(&temp, e))?;
    let err = |e| Error::io(&temp, e);
    file.write_all_at(&header::encode(scan.generation), 0).map_err(err)?;
    // Old offset -> new offset of each kept top-level record; inner records move with
    // their envelope.
    let mut pos = SEGMENT_HEADER_LEN;
    let mut moves = Vec::with_capacity(scan.good.len());
    for &(offset, len) in &scan.good {
        file.write_all_at(&data[offset as usize..(offset + len) as usize], pos).map_err(err)?;
        moves.push((offset, pos));
        pos += len;
    }
    let relocate = |old: u64| -> u64 {
        let i = moves.partition_point(|&(o, _)| o <= old) - 1;
        let (o, n) = moves[i];
        n + (old - o)
    };
    let mut entries: Vec<FooterEntry> = scan.entries.iter().map(|e| FooterEntry { offset: relocate(e.offset), ..*e }).collect();
    entries.sort_unstable_by_key(|e| (e.hash, e.offset));
    write_footer_at(&file, &temp, pos, &entries, scan.max_seq, scan.min_put_seq)?;
    file.sync_all().map_err(err)?;
    drop(file);
    std::fs::rename(&temp, &scan.path).map_err(|e| Error::io(&scan.path, e))?;
    sync_dir(dir)
}
