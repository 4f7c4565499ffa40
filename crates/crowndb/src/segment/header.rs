//! The 32-byte segment header (docs/format.md, "Segment file"):
//!
//! ```text
//! 0  8 magic "CROWNSEG"
//! 8  4 format version (u32 LE)
//! 12 4 zero
//! 16 8 generation (u64 LE), the number in the file name
//! 24 4 zero
//! 28 4 crc32c of bytes 0..28
//! ```

/// Bytes of the segment header.
pub const SEGMENT_HEADER_LEN: u64 = 32;
/// First bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"CROWNSEG";
/// On-disk format version written in every segment header.
pub const FORMAT_VERSION: u32 = 1;

/// The header of the segment with this generation.
pub fn encode(generation: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[0..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&generation.to_le_bytes());
    let crc = crc32c::crc32c(&h[..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Why a segment header is not the one a segment of this generation must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderProblem {
    /// Fewer bytes than a header.
    Short(u64),
    /// The magic is not `CROWNSEG`: not a segment, or a damaged one.
    BadMagic,
    /// The checksum does not match; `version` is what the (damaged) header says.
    Checksum { version: u32 },
    /// A valid header of a format version this build does not read (a newer CrownDB).
    UnknownVersion(u32),
    /// A valid header naming another generation than the file name.
    Generation { stored: u64 },
}

/// Checks the header bytes `h` of the segment whose file name says `generation`.
pub fn check(h: &[u8], generation: u64) -> Result<(), HeaderProblem> {
    if h.len() < SEGMENT_HEADER_LEN as usize {
        return Err(HeaderProblem::Short(h.len() as u64));
    }
    if &h[0..8] != SEGMENT_MAGIC {
        return Err(HeaderProblem::BadMagic);
    }
    let version = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(h[28..32].try_into().expect("4 bytes"));
    if crc != crc32c::crc32c(&h[..28]) {
        return Err(HeaderProblem::Checksum { version });
    }
    if version != FORMAT_VERSION {
        return Err(HeaderProblem::UnknownVersion(version));
    }
    let stored = u64::from_le_bytes(h[16..24].try_into().expect("8 bytes"));
    if stored != generation {
        return Err(HeaderProblem::Generation { stored });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_checks_only_for_its_own_generation() {
        let h = encode(7);
        assert_eq!(check(&h, 7), Ok(()));
        assert_eq!(check(&h, 8), Err(HeaderProblem::Generation { stored: 7 }));
        assert_eq!(check(&h[..10], 7), Err(HeaderProblem::Short(10)));
        let mut bad = h;
        bad[20] ^= 1;
        assert_eq!(check(&bad, 7), Err(HeaderProblem::Checksum { version: FORMAT_VERSION }));
        bad[0] = b'X';
        assert_eq!(check(&bad, 7), Err(HeaderProblem::BadMagic));
    }
}
