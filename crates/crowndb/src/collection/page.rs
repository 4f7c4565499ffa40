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

/// Looks `member` up in a page's bytes without decoding the others (point reads):
/// `Some(value)` if it is there (empty for sets), `Ok(None)` if not, `Err(())` if the bytes
/// are damaged.
pub fn find<'a>(bytes: &'a [u8], member: &[u8], with_values: bool) -> Result<Option<&'a [u8]>, ()> {
    let mut at = 0;
    let count = varint::get(bytes, &mut at).ok_or(())?;
    let take = |at: &mut usize| -> Result<&'a [u8], ()> {
        let n = varint::get(bytes, at).ok_or(())? as usize;
        let end = at.checked_add(n).filter(|&e| e <= bytes.len()).ok_or(())?;
        let out = &bytes[*at..end];
        *at = end;
        Ok(out)
    };
    for _ in 0..count {
        let m = take(&mut at)?;
        let v = if with_values { take(&mut at)? } else { &[][..] };
        if m == member {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// Decodes a page; `None` if the bytes are not exactly a count and that many members.
pub fn decode(bytes: &[u8], with_values: bool) -> Option<Members> {
    let mut at = 0;
    let count = varint::get(bytes, &mut at)? as usize;
    Members::decode(&bytes[at..], count, with_values)
}
