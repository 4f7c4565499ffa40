//! The record decoder (`crowndb::format::decode_record`) and value codecs. Half the inputs
//! get a correct checksum patched in, so the fuzzer reaches the structure behind the CRC
//! (the header fields, and LZ4 and stream-manifest values decoded from arbitrary bytes).
#![no_main]

use crowndb::format::{decode_record, RecordHeader, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 && bytes.len() >= HEADER_LEN {
        // Patch the CRC over the span the header declares (clamped to what is there).
        let head: [u8; HEADER_LEN] = bytes[..HEADER_LEN].try_into().unwrap();
        if let Some(h) = RecordHeader::decode(&head) {
            let end = (h.record_len().min(bytes.len() as u64)) as usize;
            let crc = crc32c::crc32c(&bytes[4..end]);
            bytes[..4].copy_from_slice(&crc.to_le_bytes());
        }
    }
    if let Ok(rec) = decode_record(&bytes) {
        assert_eq!(HEADER_LEN + rec.key.len() + rec.value.len(), rec.header.record_len() as usize);
        assert!(rec.header.record_len() as usize <= bytes.len());
        // Finding 5 (fixed in 1bf8196): an LZ4 value used to allocate the length it declared,
        // up to 4 GiB; fuzz/regressions/record_decode/lz4-declared-4GiB-oom replays it.
        let _ = rec.decoded_value();
    }
});
