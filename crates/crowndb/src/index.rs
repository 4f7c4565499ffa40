//! The in-memory index: key hash -> address of the key's newest record. It holds no keys.
//!
//! Layout: 65,536 shards, chosen by the top 16 bits of the 64-bit key hash; each shard is an
//! open-addressing table of `u64` entries with Robin Hood probing. An entry packs
//!
//! ```text
//! bits 63..44  fragment: the next 20 bits of the key hash (home slot and filter)
//! bits 43..0   address:  segment slot << segment bits | offset in the segment
//! ```
//!
//! and 0 means "empty" (offset 0 is a segment header, never a record). The home slot of
//! an entry is `fragment * capacity >> 20`, so a table can be resized to any capacity
//! without knowing the keys. A shard grows by 1.2x when 92% full, under its own lock:
//! the store never doubles, and never stops more than one shard, at a time. Several keys
//! can share a fragment: the caller compares the keys of the candidate records.
//!
//! Shard and fragment together tell keys apart by 36 bits of their hash: a lookup among n
//! keys meets about n / 2^36 entries of other keys (0.007 at 500M keys, 0.015 at 1G), each
//! of which costs a read of that key's record. With 256 shards (28 bits, the first
//! layout) that was 0.76 at 200M keys: most puts of a new key read a record from disk
//! once the data outgrew the page cache. An empty shard holds no table, so the many
//! shards cost a small store only their headers (about 2.5 MiB in all).
//!
//! Thread-safety: each shard has its own `RwLock`; lookups take it shared and copy the
//! candidate addresses out, so no lock is held while records are read.

use memmap2::MmapMut;
use parking_lot::RwLock;

const SHARD_BITS: u32 = 16;
const SHARDS: usize = 1 << SHARD_BITS;
const FRAG_BITS: u32 = 20;
/// Bits of an entry available for the address.
pub const ADDRESS_BITS: u32 = 64 - FRAG_BITS;
const ADDRESS_MASK: u64 = (1 << ADDRESS_BITS) - 1;
/// Capacity of a shard's first table (an empty shard has none).
const MIN_CAPACITY: usize = 8;
/// Tables of at least this many bytes live in their own anonymous mapping, so their
/// memory returns to the OS when they are resized (the heap would keep it).
const MAP_THRESHOLD_BYTES: usize = 16 << 10;

#[inline]
fn shard_of(hash: u64) -> usize {
    (hash >> (64 - SHARD_BITS)) as usize
}

#[inline]
fn frag_of(hash: u64) -> u64 {
    (hash >> (64 - SHARD_BITS - FRAG_BITS)) & ((1 << FRAG_BITS) - 1)
}

#[inline]
fn entry_frag(entry: u64) -> u64 {
    entry >> ADDRESS_BITS
}

#[inline]
fn entry_address(entry: u64) -> u64 {
    entry & ADDRESS_MASK
}

/// Up to a few addresses whose entries match a hash, copied out of a shard.
#[derive(Debug, Default)]
pub struct Candidates {
    inline: [u64; 4],
    len: usize,
    spill: Vec<u64>,
}

impl Candidates {
    fn push(&mut self, address: u64) {
        if self.len < self.inline.len() {
            self.inline[self.len] = address;
        } else {
            self.spill.push(address);
        }
        self.len += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.inline[..self.len.min(4)].iter().copied().chain(self.spill.iter().copied())
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Storage of one table: small ones on the heap, big ones in an anonymous mapping.
enum Slots {
    Heap(Vec<u64>),
    Mapped(MmapMut),
}

impl Slots {
    fn zeroed(capacity: usize) -> Slots {
        let bytes = capacity * 8;
        if bytes >= MAP_THRESHOLD_BYTES {
            if let Ok(map) = MmapMut::map_anon(bytes) {
                return Slots::Mapped(map);
            }
        }
        Slots::Heap(vec![0; capacity])
    }

    fn as_slice(&self) -> &[u64] {
        match self {
            Slots::Heap(v) => v,
            // SAFETY: an anonymous mapping is page-aligned (so aligned for u64), zero-filled
            // and `m.len()` bytes long: `m.len() / 8` u64s lie inside it, every bit pattern
            // is a valid u64, and the slice borrows `self`, which owns the mapping.
            Slots::Mapped(m) => unsafe { std::slice::from_raw_parts(m.as_ptr() as *const u64, m.len() / 8) },
        }
    }

    fn as_mut_slice(&mut self) -> &mut [u64] {
        match self {
            Slots::Heap(v) => v,
            // SAFETY: as in `as_slice`; `&mut self` makes this the only reference to the
            // mapping while the slice lives.
            Slots::Mapped(m) => unsafe { std::slice::from_raw_parts_mut(m.as_mut_ptr() as *mut u64, m.len() / 8) },
        }
    }
}

struct Table {
    slots: Slots,
    len: usize,
}

impl Table {
    fn with_capacity(capacity: usize) -> Table {
        Table { slots: Slots::zeroed(capacity.max(MIN_CAPACITY)), len: 0 }
    }

    /// A shard with no entries and no table.
    fn empty() -> Table {
        Table { slots: Slots::Heap(Vec::new()), len: 0 }
    }

    fn capacity(&self) -> usize {
        self.slots.as_slice().len()
    }

    #[inline]
    fn home(frag: u64, capacity: usize) -> usize {
        ((frag * capacity as u64) >> FRAG_BITS) as usize
    }

    #[inline]
    fn distance(pos: usize, home: usize, capacity: usize) -> usize {
        if pos >= home {
            pos - home
        } else {
            pos + capacity - home
        }
    }

    /// Calls `found(pos, entry)` for each entry with this fragment, in probe order.
    fn probe(&self, frag: u64, mut found: impl FnMut(usize, u64) -> bool) {
        let slots = self.slots.as_slice();
        let cap = slots.len();
        if cap == 0 {
            return;
        }
        let mut pos = Self::home(frag, cap);
        let mut dist = 0;
        loop {
            let entry = slots[pos];
            if entry == 0 {
                return;
            }
            let entry_dist = Self::distance(pos, Self::home(entry_frag(entry), cap), cap);
            if entry_dist < dist {
                return;
            }
            if entry_frag(entry) == frag && found(pos, entry) {
                return;
            }
            pos += 1;
            if pos == cap {
                pos = 0;
            }
            dist += 1;
        }
    }

    fn insert_entry(&mut self, mut entry: u64) {
        let slots = self.slots.as_mut_slice();
        let cap = slots.len();
        let mut pos = Self::home(entry_frag(entry), cap);
        let mut dist = 0;
        loop {
            let here = slots[pos];
            if here == 0 {
                slots[pos] = entry;
                self.len += 1;
                return;
            }
            let here_dist = Self::distance(pos, Self::home(entry_frag(here), cap), cap);
            if here_dist < dist {
                slots[pos] = entry;
                entry = here;
                dist = here_dist;
            }
            pos += 1;
            if pos == cap {
                pos = 0;
            }
            dist += 1;
        }
    }

    fn remove_at(&mut self, mut pos: usize) {
        let slots = self.slots.as_mut_slice();
        let cap = slots.len();
        loop {
            let next = if pos + 1 == cap { 0 } else { pos + 1 };
            let entry = slots[next];
            if entry == 0 || Self::distance(next, Self::home(entry_frag(entry), cap), cap) == 0 {
                slots[pos] = 0;
                break;
            }
            slots[pos] = entry;
            pos = next;
        }
        self.len -= 1;
    }

    fn find_exact(&self, entry: u64) -> Option<usize> {
        let mut at = None;
        self.probe(entry_frag(entry), |pos, e| {
            if e == entry {
                at = Some(pos);
                true
            } else {
                false
            }
        });
        at
    }

    fn grow_if_full(&mut self, extra: usize) {
        let cap = self.capacity();
        if (self.len + extra) * 100 <= cap * 92 {
            return;
        }
        let wanted = ((self.len + extra) * 100 / 92 + 1).max(cap + cap / 5).max(MIN_CAPACITY);
        self.resize(wanted);
    }

    fn resize(&mut self, capacity: usize) {
        let mut bigger = Table::with_capacity(capacity);
        for &entry in self.slots.as_slice() {
            if entry != 0 {
                bigger.insert_entry(entry);
            }
        }
        *self = bigger;
    }
}

/// The sharded hash index. See the module documentation.
pub struct Index {
    shards: Box<[RwLock<Table>]>,
}

impl Default for Index {
    fn default() -> Index {
        Index::new()
    }
}

impl Index {
    pub fn new() -> Index {
        Index { shards: (0..SHARDS).map(|_| RwLock::new(Table::empty())).collect() }
    }

    /// Pre-sizes the shards for the given number of entries per shard (used by recovery,
    /// which knows the counts from the footers).
    pub fn reserve_per_shard(&self, counts: &[usize]) {
        for (shard, &n) in self.shards.iter().zip(counts) {
            let mut t = shard.write();
            let need = (t.len + n) * 100 / 90 + 1;
            if n > 0 && need > t.capacity() {
                t.resize(need);
            }
        }
    }

    /// Which shard a hash belongs to (recovery splits work by shard).
    pub fn shard_count() -> usize {
        SHARDS
    }

    pub fn shard_of(hash: u64) -> usize {
        shard_of(hash)
    }

    /// One page of a resumable walk over every entry (Redis `SCAN` semantics): appends the
    /// addresses of at least `count` entries (fewer at the end) to `out` and returns the
    /// cursor to continue from, 0 when the walk is complete. Start with cursor 0.
    ///
    /// The cursor is `shard << 20 | fragment` (36 bits): the walk goes by hash fragment, which
    /// resizes do not change, so an entry present for the whole walk is returned at least
    /// once however the tables grow meanwhile. A page always ends after a whole home group.
    pub fn scan(&self, cursor: u64, count: usize, out: &mut Vec<u64>) -> u64 {
        let mut shard = (cursor >> FRAG_BITS) as usize;
        let mut frag = cursor & ((1 << FRAG_BITS) - 1);
        let wanted = out.len() + count.max(1);
        while shard < SHARDS {
            let t = self.shards[shard].read();
            let slots = t.slots.as_slice();
            let cap = slots.len();
            let start_home = Table::home(frag, cap);
            let mut last_home = None;
            // Entries in home order: positions start_home.. to the end (skipping entries
            // displaced past the end, whose home is after their position), then those
            // wrapped entries at the front.
            let in_place = (start_home..cap).filter(|&p| slots[p] != 0 && Table::home(entry_frag(slots[p]), cap) <= p);
            let wrapped = (0..cap).map_while(|p| {
                let e = slots[p];
                (e != 0 && Table::home(entry_frag(e), cap) > p).then_some(p)
            });
            for pos in in_place.chain(wrapped) {
                let e = slots[pos];
                let home = Table::home(entry_frag(e), cap);
                if home < start_home || entry_frag(e) < frag {
                    continue; // returned by an earlier page
                }
                if out.len() >= wanted && last_home != Some(home) {
                    // Page full at a home-group boundary: resume at the first fragment whose
                    // home is after the last one returned.
                    let last = last_home.expect("page is full, so something was returned") as u64;
                    let next = ((last + 1) << FRAG_BITS).div_ceil(cap as u64);
                    return if next >= 1 << FRAG_BITS { Self::next_shard_cursor(shard) } else { ((shard as u64) << FRAG_BITS) | next };
                }
                out.push(entry_address(e));
                last_home = Some(home);
            }
            drop(t);
            shard += 1;
            frag = 0;
            if out.len() >= wanted {
                return Self::next_shard_cursor(shard - 1);
            }
        }
        0
    }

    fn next_shard_cursor(shard: usize) -> u64 {
        if shard + 1 >= SHARDS {
            0
        } else {
            ((shard + 1) as u64) << FRAG_BITS
        }
    }

    /// True if an entry for this hash points at exactly `address`.
    pub fn contains_exact(&self, hash: u64, address: u64) -> bool {
        self.shards[shard_of(hash)].read().find_exact((frag_of(hash) << ADDRESS_BITS) | address).is_some()
    }

    /// Addresses of every entry that may hold this hash's key.
    pub fn candidates(&self, hash: u64) -> Candidates {
        let mut out = Candidates::default();
        let frag = frag_of(hash);
        self.shards[shard_of(hash)].read().probe(frag, |_, e| {
            out.push(entry_address(e));
            false
        });
        out
    }

    /// Adds an entry unless entries with a matching hash exist; then returns them instead
    /// (one lock and one probe for the common case of a new key; used by recovery).
    pub fn insert_if_vacant(&self, hash: u64, address: u64) -> Result<(), Candidates> {
        let frag = frag_of(hash);
        let mut t = self.shards[shard_of(hash)].write();
        let mut found = Candidates::default();
        t.probe(frag, |_, e| {
            found.push(entry_address(e));
            false
        });
        if !found.is_empty() {
            return Err(found);
        }
        t.grow_if_full(1);
        t.insert_entry((frag << ADDRESS_BITS) | address);
        Ok(())
    }

    /// Adds an entry for a key the caller knows is not in the index.
    pub fn insert(&self, hash: u64, address: u64) {
        debug_assert!(address != 0 && address <= ADDRESS_MASK);
        let mut t = self.shards[shard_of(hash)].write();
        t.grow_if_full(1);
        t.insert_entry((frag_of(hash) << ADDRESS_BITS) | address);
    }

    /// Points the entry at `old` to `new`; false if no entry for this hash is at `old`
    /// (someone moved or removed it since it was looked up).
    pub fn replace(&self, hash: u64, old: u64, new: u64) -> bool {
        let frag = frag_of(hash) << ADDRESS_BITS;
        let mut t = self.shards[shard_of(hash)].write();
        match t.find_exact(frag | old) {
            Some(pos) => {
                t.slots.as_mut_slice()[pos] = frag | new;
                true
            }
            None => false,
        }
    }

    /// Removes the entry for this hash at `address`; false if there is none.
    pub fn remove(&self, hash: u64, address: u64) -> bool {
        let mut t = self.shards[shard_of(hash)].write();
        match t.find_exact((frag_of(hash) << ADDRESS_BITS) | address) {
            Some(pos) => {
                t.remove_at(pos);
                true
            }
            None => false,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len).sum()
    }

    /// Bytes of memory held by the tables.
    pub fn memory_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.read().capacity() * 8).sum::<usize>() + SHARDS * std::mem::size_of::<RwLock<Table>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn hash_for(i: u64) -> u64 {
        crate::hash::key_hash(&i.to_le_bytes())
    }

    #[test]
    fn matches_a_hashmap_through_growth_and_removal() {
        let index = Index::new();
        let mut model: HashMap<u64, u64> = HashMap::new();
        for i in 1..50_000u64 {
            index.insert(hash_for(i), i);
            model.insert(i, i);
        }
        for i in (1..50_000u64).step_by(3) {
            assert!(index.remove(hash_for(i), i));
            model.remove(&i);
        }
        for i in (2..50_000u64).step_by(3) {
            assert!(index.replace(hash_for(i), i, i + 1_000_000));
            model.insert(i, i + 1_000_000);
        }
        assert_eq!(index.len(), model.len());
        for i in 1..50_000u64 {
            let found: Vec<u64> = index.candidates(hash_for(i)).iter().collect();
            match model.get(&i) {
                Some(&addr) => assert!(found.contains(&addr), "key {i} lost"),
                None => assert!(!found.contains(&i), "key {i} still present"),
            }
        }
    }

    #[test]
    fn equal_hashes_keep_separate_entries() {
        let index = Index::new();
        let h = hash_for(7);
        index.insert(h, 100);
        index.insert(h, 200);
        let mut found: Vec<u64> = index.candidates(h).iter().collect();
        found.sort();
        assert_eq!(found, vec![100, 200]);
        assert!(index.remove(h, 100));
        assert_eq!(index.candidates(h).iter().collect::<Vec<_>>(), vec![200]);
        assert!(!index.replace(h, 100, 300));
    }

    #[test]
    fn scan_returns_every_entry_despite_growth() {
        let index = Index::new();
        for i in 1..=5_000u64 {
            index.insert(hash_for(i), i);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut next_key = 5_001u64;
        loop {
            let mut page = Vec::new();
            cursor = index.scan(cursor, 7, &mut page);
            seen.extend(page);
            // Grow the tables while the walk is under way.
            for _ in 0..40 {
                index.insert(hash_for(next_key), next_key);
                next_key += 1;
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 1..=5_000u64 {
            assert!(seen.contains(&i), "entry {i} present for the whole walk was never returned");
        }
    }

    #[test]
    fn stays_compact() {
        let index = Index::new();
        let headers = SHARDS * std::mem::size_of::<RwLock<Table>>();
        assert!(headers <= 3 << 20, "the shards alone take {headers} bytes");
        assert!(index.memory_bytes() <= headers, "an empty index holds tables");
        let n = 1_000_000u64;
        for i in 1..=n {
            index.insert(hash_for(i), i);
        }
        // The tables grow with the keys; the shard headers are a constant (2.5 MiB: 2.6
        // bytes per key at this size, 0.005 at 500M keys).
        let per_key = (index.memory_bytes() - headers) as f64 / n as f64;
        assert!(per_key < 10.0, "index tables use {per_key:.2} bytes per key");
    }

    #[test]
    fn keys_sharing_28_bits_of_hash_are_told_apart_by_the_next_8() {
        // Under the first layout (8 shard bits + 20 fragment bits) these hashes all matched
        // one another; now each finds only its own entry.
        let index = Index::new();
        let base = 0xABCD_EF12_3456_7890u64 & !(0xFFu64 << 28);
        for i in 0..256u64 {
            let h = base | (i << 28);
            index.insert(h, i + 1);
        }
        for i in 0..256u64 {
            let h = base | (i << 28);
            assert_eq!(index.candidates(h).iter().collect::<Vec<_>>(), vec![i + 1]);
        }
    }
}
