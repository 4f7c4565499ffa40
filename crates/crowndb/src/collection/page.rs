//! A page record's value: `varint count | members` (see `members.rs`), stored with the
//! store's value codec (LZ4 where it pays). Byte layout in docs/format.md, "Collection page".

use super::members::Members;
use super::varint;

pub fn encode(members: &Members) -> Vec<u8> {
    let mut out = Vec::with_capacity(members.encoded_len() + 4);
    varint::put(&mut out, members.len() as u64);
    members.encode_into(&mut out);
    out
}

/// Decodes a page; `None` if the bytes are not exactly a count and that many members.
pub fn decode(bytes: &[u8], with_values: bool) -> Option<Members> {
    let mut at = 0;
    let count = varint::get(bytes, &mut at)? as usize;
    Members::decode(&bytes[at..], count, with_values)
}
