//! Linear hashing (Litwin, 1980) over the members of a paged collection: buckets
//! `0 .. 2^level + split`, each one page record. A member's bucket is its hash modulo
//! `2^level`, or modulo `2^(level+1)` if that bucket has already been split in this round.
//! When the members' bytes exceed `page_size` per bucket on average, bucket `split` is
//! split: its members move to itself or to bucket `split + 2^level`, and `split` advances.
//! Growth touches two pages at a time and needs no directory: the head holds the whole
//! addressing state in 17 bytes.
//!
//! Buckets are never merged (as Redis never shrinks a hash back to a listpack): scanning
//! buckets in increasing order then returns every member present for the whole scan,
//! whatever splits happen meanwhile, because a split only moves members to a bucket past
//! every existing one. See `Collection::scan`.

/// Addressing state of a paged collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearHash {
    pub level: u8,
    /// Next bucket to split, below `2^level`.
    pub split: u64,
    /// Encoded bytes of all members (what the pages hold, without their headers).
    pub bytes: u64,
}

impl LinearHash {
    /// A table of at least `buckets` buckets (rounded up to a power of two).
    pub fn with_buckets(buckets: u64, bytes: u64) -> LinearHash {
        let level = 64 - (buckets.max(1) - 1).leading_zeros();
        let level = if buckets <= 1 { 0 } else { level as u8 };
        LinearHash { level, split: 0, bytes }
    }

    pub fn buckets(&self) -> u64 {
        (1u64 << self.level) + self.split
    }

    pub fn bucket_of(&self, hash: u64) -> u64 {
        let low = hash & ((1u64 << self.level) - 1);
        if low < self.split {
            hash & ((1u64 << (self.level + 1)) - 1)
        } else {
            low
        }
    }

    /// True if the average bucket holds more than `page_size` bytes.
    pub fn wants_split(&self, page_size: usize) -> bool {
        self.bytes > self.buckets() * page_size as u64
    }

    /// Advances the split pointer; returns the bucket split and the new bucket its members
    /// may move to. A member of `from` goes to `to` if `bucket_of` says so afterwards.
    pub fn split(&mut self) -> (u64, u64) {
        let from = self.split;
        let to = from + (1u64 << self.level);
        self.split += 1;
        if self.split == 1u64 << self.level {
            self.level += 1;
            self.split = 0;
        }
        (from, to)
    }
}

/// The hash that places a member in a bucket. Seeded by the collection's epoch, so that
/// members chosen to collide in one incarnation spread in the next.
pub fn member_hash(epoch: u64, member: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(member, epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_move_members_only_to_the_new_bucket_and_every_member_stays_addressable() {
        let mut lh = LinearHash::with_buckets(1, 0);
        let hashes: Vec<u64> = (0..5000u64).map(|i| member_hash(1, &i.to_le_bytes())).collect();
        let mut placed: Vec<u64> = hashes.iter().map(|&h| lh.bucket_of(h)).collect();
        for _ in 0..300 {
            let (from, to) = lh.split();
            assert_eq!(to + 1, lh.buckets());
            for (i, &h) in hashes.iter().enumerate() {
                let now = lh.bucket_of(h);
                if placed[i] != now {
                    assert_eq!((placed[i], now), (from, to), "a member moved between other buckets");
                }
                assert!(now < lh.buckets());
                placed[i] = now;
            }
        }
        assert_eq!(lh.buckets(), 301);
        assert_eq!(LinearHash::with_buckets(5, 0).buckets(), 8);
    }
}
