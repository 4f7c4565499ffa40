//! The key hash: XXH3-64 with seed 0, stored in footers and split for the index.
//!
//! The hash is part of the on-disk format (footers store it), so it must never change
//! for format version 1.

/// Hash of a key as stored in segment footers.
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}
