//! The segments a store has open, by slot: the piece of an index address that names a file.
//!
//! Readers load the table without locking (`ArcSwap`); it is replaced whole when a
//! segment is added or removed. A segment joins the table before any index entry points
//! into it and leaves only after none does, which is what makes reads safe.

use std::sync::Arc;

use crate::index::ADDRESS_BITS;
use crate::segment::Segment;

/// Splits index addresses into (slot, offset) for a store's segment size.
#[derive(Debug, Clone, Copy)]
pub struct AddressCodec {
    segment_bits: u32,
}

impl AddressCodec {
    /// A codec for segments of at most `max_segment_bytes` (offsets below it).
    pub fn for_segment_size(max_segment_bytes: u64) -> AddressCodec {
        let segment_bits = 64 - (max_segment_bytes.max(2) - 1).leading_zeros();
        AddressCodec { segment_bits }
    }

    pub fn encode(&self, slot: u32, offset: u64) -> u64 {
        ((slot as u64) << self.segment_bits) | offset
    }

    pub fn decode(&self, address: u64) -> (u32, u64) {
        ((address >> self.segment_bits) as u32, address & ((1 << self.segment_bits) - 1))
    }

    /// How many segments can be open at once with this segment size.
    pub fn max_slots(&self) -> u32 {
        let bits = ADDRESS_BITS.saturating_sub(self.segment_bits).min(31);
        1 << bits
    }
}

/// Open segments by slot.
#[derive(Debug, Default, Clone)]
pub struct SegmentTable {
    slots: Vec<Option<Arc<Segment>>>,
}

impl SegmentTable {
    pub fn get(&self, slot: u32) -> Option<&Arc<Segment>> {
        self.slots.get(slot as usize).and_then(|s| s.as_ref())
    }

    /// The lowest unused slot below `max_slots`.
    pub fn free_slot(&self, max_slots: u32) -> Option<u32> {
        let first_hole = self.slots.iter().position(|s| s.is_none()).unwrap_or(self.slots.len());
        (first_hole < max_slots as usize).then_some(first_hole as u32)
    }

    /// A copy of this table with `segment` in its slot.
    pub fn with(&self, segment: Arc<Segment>) -> SegmentTable {
        let mut next = self.clone();
        let slot = segment.slot as usize;
        if next.slots.len() <= slot {
            next.slots.resize(slot + 1, None);
        }
        next.slots[slot] = Some(segment);
        next
    }

    /// A copy of this table without the segment in `slot`.
    pub fn without(&self, slot: u32) -> SegmentTable {
        let mut next = self.clone();
        if let Some(s) = next.slots.get_mut(slot as usize) {
            *s = None;
        }
        next
    }

    /// Segments in generation order (oldest first).
    pub fn by_generation(&self) -> Vec<Arc<Segment>> {
        let mut all: Vec<_> = self.slots.iter().flatten().cloned().collect();
        all.sort_by_key(|s| s.generation);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_round_trips_and_sizes() {
        let c = AddressCodec::for_segment_size(128 << 20);
        assert_eq!(c.max_slots(), 1 << 17);
        let a = c.encode(70_000, (128 << 20) - 1);
        assert_eq!(c.decode(a), (70_000, (128 << 20) - 1));
        // 16 GiB segments still leave 1024 of them: 16 TiB addressable.
        assert_eq!(AddressCodec::for_segment_size(16 << 30).max_slots(), 1024);
    }
}
