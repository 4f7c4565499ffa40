//! The footer decoders: `FooterEntry::decode` and `Trailer::decode`, with round trips: what
//! decodes encodes back to the same bytes (the entry's reserved byte and the trailer's
//! reserved field aside).
#![no_main]

use crowndb::format::{FooterEntry, Trailer, ENTRY_LEN, TRAILER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(entry) = FooterEntry::decode(data) {
        let again = entry.encode();
        assert_eq!(FooterEntry::decode(&again), Some(entry));
        assert_eq!(again[..8], data[..8]);
        assert_eq!(again[16..ENTRY_LEN], data[16..ENTRY_LEN]);
    }
    for start in [0, data.len().saturating_sub(TRAILER_LEN)] {
        let Some(window) = data.get(start..start + TRAILER_LEN) else { continue };
        if let Some(trailer) = Trailer::decode(window) {
            let again = trailer.encode();
            assert_eq!(again[..44], window[..44]);
            assert_eq!(Trailer::decode(&again), Some(trailer));
        }
    }
    let _ = Trailer::decode(data);
});
