//! The dump format reader of `crowndb load` (crates/crowndb-cli/src/dump_format.rs, a
//! binary crate, so its file is compiled in here as is). Half the inputs get their entry
//! checksums patched, so the fuzzer reaches the reader's length and tag handling.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/crowndb-cli/src/dump_format.rs"]
mod dump_format;

use dump_format::{DumpReader, ENTRY_HEADER_LEN, FILE_HEADER_LEN, MAGIC};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        // A valid file header, then entries with their CRCs fixed as far as their lengths say.
        let mut fixed = MAGIC.to_vec();
        fixed.extend_from_slice(&1u32.to_le_bytes());
        fixed.extend_from_slice(&0u32.to_le_bytes());
        let mut pos = FILE_HEADER_LEN;
        fixed.extend_from_slice(&bytes);
        while pos + ENTRY_HEADER_LEN <= fixed.len() {
            let key_len = u32::from_le_bytes(fixed[pos + 8..pos + 12].try_into().unwrap()) as usize % 64;
            let value_len = u32::from_le_bytes(fixed[pos + 12..pos + 16].try_into().unwrap()) as usize % 256;
            fixed[pos + 8..pos + 12].copy_from_slice(&(key_len as u32).to_le_bytes());
            fixed[pos + 12..pos + 16].copy_from_slice(&(value_len as u32).to_le_bytes());
            let end = (pos + ENTRY_HEADER_LEN + key_len + value_len).min(fixed.len());
            let crc = crc32c::crc32c(&fixed[pos + 4..end]);
            fixed[pos..pos + 4].copy_from_slice(&crc.to_le_bytes());
            pos = end;
        }
        bytes = fixed;
    }
    let Ok(mut reader) = DumpReader::new(std::io::Cursor::new(bytes)) else { return };
    for _ in 0..10_000 {
        match reader.next_item() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
});
