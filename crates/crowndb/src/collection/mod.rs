//! Collections (hashes and sets) on the hash store: a head record under the key, and for
//! large collections pages in their own namespace. See docs/architecture.md, "Collections".

// Wired into the store in the next commits; until then parts are unused.
#![allow(dead_code)]

pub(crate) mod access;
pub(crate) mod handle;
pub(crate) mod epochs;
pub(crate) mod head;
pub(crate) mod linear;
pub(crate) mod members;
pub(crate) mod varint;
