//! The key hash: XXH3-64 with seed 0, stored in footers and split for the index.
//!
//! The hash is part of the on-disk format (footers store it), so it must never change
//! for format version 1.

/// Hash of a key as stored in segment footers.
#[cfg(not(feature = "colliding-hash"))]
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// Test builds only (`--features colliding-hash`): keeps 4 bits of the hash, so that every
/// lookup meets other keys' index entries and must tell them apart by reading their
/// records. A store written by such a build is not readable by a normal one.
#[cfg(feature = "colliding-hash")]
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key) & (0xF << 60)
}
