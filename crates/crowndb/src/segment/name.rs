//! Segment file names: `NNNNNNNNNNNN.seg` (the generation, 12 decimal digits), and listing
//! the segment files of a data directory.

use std::path::{Path, PathBuf};

/// File name of the segment with this generation number.
pub fn file_name(generation: u64) -> String {
    format!("{generation:012}.seg")
}

/// Generation number of a segment file name, if it is one.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What a data directory holds in the way of segment files.
#[derive(Debug, Default)]
pub struct SegmentFiles {
    /// Segment files, oldest first: (generation, path).
    pub segments: Vec<(u64, PathBuf)>,
    /// `NNN.seg.tmp` files: segments whose creation a crash interrupted (they never held a
    /// record; see `Segment::create`).
    pub unfinished: Vec<PathBuf>,
}

/// Lists the segment files of `dir`.
pub fn list(dir: &Path) -> std::io::Result<SegmentFiles> {
    let mut out = SegmentFiles::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(g) = parse_file_name(name) {
            out.segments.push((g, entry.path()));
        } else if name.ends_with(".seg.tmp") {
            out.unfinished.push(entry.path());
        }
    }
    out.segments.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        assert_eq!(file_name(42), "000000000042.seg");
        assert_eq!(parse_file_name("000000000042.seg"), Some(42));
        assert_eq!(parse_file_name("42.seg"), None);
        assert_eq!(parse_file_name("000000000042.tmp"), None);
    }
}
