//! The footer of a sealed segment: one entry per record, so opening a store reads
//! footers instead of data. Byte layout in docs/format.md ("Footer").
//!
//! ```text
//! entries   N × 20 bytes: key hash u64 | offset u48 + flags u8 + kind u8 (as one u64) | record length u32
//! trailer   48 bytes: "CROWNFTR" | entries offset u64 | entry count u64 | max sequence u64
//!                     | min put sequence u64 | crc32c u32 (over the entries and the first 40
//!                     trailer bytes) | 0u32
//! ```

use std::ops::Range;

use crate::record::RecordKind;
use crate::segment::SEGMENT_HEADER_LEN;

pub const ENTRY_LEN: usize = 20;
pub const TRAILER_LEN: usize = 48;
pub const MAGIC: &[u8; 8] = b"CROWNFTR";
const OFFSET_MASK: u64 = (1 << 48) - 1;
/// Footer entry flag: the record is the head of a paged collection, whose epoch open must
/// learn (pages of other epochs are garbage). Stores written before collections have 0.
pub const FLAG_PAGED_HEAD: u8 = 1;

/// One record as the footer lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FooterEntry {
    pub hash: u64,
    pub offset: u64,
    pub kind: RecordKind,
    pub len: u32,
    /// `FLAG_PAGED_HEAD` or 0.
    pub flags: u8,
}

impl FooterEntry {
    pub fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0u8; ENTRY_LEN];
        out[0..8].copy_from_slice(&self.hash.to_le_bytes());
        let packed = (self.offset & OFFSET_MASK) | ((self.flags as u64) << 48) | ((self.kind as u64) << 56);
        out[8..16].copy_from_slice(&packed.to_le_bytes());
        out[16..20].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// Decodes one entry; `None` if its kind is not Put or Delete.
    pub fn decode(bytes: &[u8]) -> Option<FooterEntry> {
        let hash = u64::from_le_bytes(bytes.get(0..8)?.try_into().ok()?);
        let packed = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
        let len = u32::from_le_bytes(bytes.get(16..20)?.try_into().ok()?);
        let kind = RecordKind::from_byte((packed >> 56) as u8).filter(|k| *k != RecordKind::Batch)?;
        let flags = (packed >> 48) as u8;
        if flags & !FLAG_PAGED_HEAD != 0 {
            return None;
        }
        Some(FooterEntry { hash, offset: packed & OFFSET_MASK, kind, len, flags })
    }

    /// The entry of a record at `offset`.
    pub fn of(offset: u64, rec: &crate::record::RecordRef<'_>) -> FooterEntry {
        let paged_head = rec.header.kind == RecordKind::Put
            && rec.header.codec == crate::codec::COLLECTION
            && crate::collection::head::is_paged(rec.value);
        FooterEntry {
            hash: crate::hash::key_hash(rec.key),
            offset,
            kind: rec.header.kind,
            len: rec.header.record_len() as u32,
            flags: if paged_head { FLAG_PAGED_HEAD } else { 0 },
        }
    }
}

/// The fixed-size end of a footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub entries_offset: u64,
    pub entry_count: u64,
    pub max_seq: u64,
    /// Lowest sequence number of a put in the segment (`u64::MAX` if it holds none).
    pub min_put_seq: u64,
    pub crc: u32,
}

impl Trailer {
    /// The trailer bytes covered by the footer checksum (all but the checksum itself).
    pub fn checksummed_prefix(&self) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[0..8].copy_from_slice(MAGIC);
        out[8..16].copy_from_slice(&self.entries_offset.to_le_bytes());
        out[16..24].copy_from_slice(&self.entry_count.to_le_bytes());
        out[24..32].copy_from_slice(&self.max_seq.to_le_bytes());
        out[32..40].copy_from_slice(&self.min_put_seq.to_le_bytes());
        out
    }

    pub fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut out = [0u8; TRAILER_LEN];
        out[..40].copy_from_slice(&self.checksummed_prefix());
        out[40..44].copy_from_slice(&self.crc.to_le_bytes());
        out
    }

    /// Decodes a trailer if the magic matches; the checksum is verified by the caller,
    /// which has the entries.
    pub fn decode(bytes: &[u8]) -> Option<Trailer> {
        if bytes.len() != TRAILER_LEN || &bytes[0..8] != MAGIC {
            return None;
        }
        Some(Trailer {
            entries_offset: u64::from_le_bytes(bytes[8..16].try_into().ok()?),
            entry_count: u64::from_le_bytes(bytes[16..24].try_into().ok()?),
            max_seq: u64::from_le_bytes(bytes[24..32].try_into().ok()?),
            min_put_seq: u64::from_le_bytes(bytes[32..40].try_into().ok()?),
            crc: u32::from_le_bytes(bytes[40..44].try_into().ok()?),
        })
    }
}

/// Why a footer does not verify: where (a file offset) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FooterDamage {
    pub offset: u64,
    pub reason: String,
}

/// Where the entries of the footer whose trailer starts at `trailer_at` lie, if the
/// trailer's offset and count agree with that position.
pub fn entries_range(trailer: &Trailer, trailer_at: u64) -> Result<Range<u64>, FooterDamage> {
    let len = trailer.entry_count.checked_mul(ENTRY_LEN as u64);
    if trailer.entries_offset < SEGMENT_HEADER_LEN || len.and_then(|n| trailer.entries_offset.checked_add(n)) != Some(trailer_at) {
        return Err(FooterDamage { offset: trailer_at, reason: "entry count and offset do not match the file size".into() });
    }
    Ok(trailer.entries_offset..trailer_at)
}

/// The one footer validator (open, sealing checks, `crowndb check` and `repair`): the
/// entries (as [`entries_range`] locates them) match the trailer's checksum, each names a
/// put, delete or chunk, and they are sorted by key hash.
pub fn verify_entries(trailer: &Trailer, entries: &[u8]) -> Result<(), FooterDamage> {
    let at = trailer.entries_offset;
    let crc = crc32c::crc32c_append(crc32c::crc32c(entries), &trailer.checksummed_prefix());
    if crc != trailer.crc {
        return Err(FooterDamage { offset: at, reason: format!("checksum mismatch (stored {:#010x}, computed {crc:#010x})", trailer.crc) });
    }
    let mut previous = 0;
    for (i, chunk) in entries.chunks_exact(ENTRY_LEN).enumerate() {
        let Some(e) = FooterEntry::decode(chunk) else {
            return Err(FooterDamage { offset: at + (i * ENTRY_LEN) as u64, reason: format!("entry {i} has an invalid record kind") });
        };
        if e.hash < previous {
            return Err(FooterDamage { offset: at, reason: "entries are not sorted by key hash".into() });
        }
        previous = e.hash;
    }
    Ok(())
}

/// The entries of a footer that [`verify_entries`] accepted.
pub fn decode_entries(entries: &[u8]) -> Vec<FooterEntry> {
    entries.chunks_exact(ENTRY_LEN).filter_map(FooterEntry::decode).collect()
}

/// Encodes a footer piece by piece: every entry (sorted by hash, then offset), then the
/// trailer, whose checksum covers them all.
#[derive(Debug, Default)]
pub struct FooterEncoder {
    crc: u32,
    count: u64,
}

impl FooterEncoder {
    pub fn new() -> FooterEncoder {
        FooterEncoder::default()
    }

    /// The bytes of the next entry.
    pub fn entry(&mut self, e: &FooterEntry) -> [u8; ENTRY_LEN] {
        let bytes = e.encode();
        self.crc = crc32c::crc32c_append(self.crc, &bytes);
        self.count += 1;
        bytes
    }

    /// The trailer after the entries, which start at `entries_offset`.
    pub fn trailer(self, entries_offset: u64, max_seq: u64, min_put_seq: u64) -> [u8; TRAILER_LEN] {
        let mut trailer = Trailer { entries_offset, entry_count: self.count, max_seq, min_put_seq, crc: 0 };
        trailer.crc = crc32c::crc32c_append(self.crc, &trailer.checksummed_prefix());
        trailer.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trip() {
        let e = FooterEntry { hash: u64::MAX - 3, offset: (1 << 40) + 17, kind: RecordKind::Delete, len: 1234, flags: 0 };
        assert_eq!(FooterEntry::decode(&e.encode()), Some(e));
    }

    #[test]
    fn trailer_round_trip_and_bad_magic() {
        let t = Trailer { entries_offset: 4096, entry_count: 10, max_seq: 77, min_put_seq: 5, crc: 0xdead_beef };
        let bytes = t.encode();
        assert_eq!(Trailer::decode(&bytes), Some(t));
        let mut bad = bytes;
        bad[0] = b'X';
        assert_eq!(Trailer::decode(&bad), None);
    }
}
