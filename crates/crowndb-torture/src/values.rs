//! Values derived from (operation id, position in the operation, length): the side log
//! records only these three numbers, and the verifier regenerates the exact bytes.

use crate::rng::Rng;

/// What one acknowledged write stored under a key: enough to rebuild the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueId {
    pub op: u64,
    pub slot: u32,
    pub len: u64,
}

impl ValueId {
    /// The value's bytes. The first bytes spell the op and slot, so a wrong value seen in a
    /// failure message says which write it came from.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.len as usize];
        self.fill(0, &mut out);
        out
    }

    /// Writes the bytes of the value from `offset` on into `out` (for streams, piece by piece).
    pub fn fill(&self, offset: u64, out: &mut [u8]) {
        // Blocks of 64 bytes, each from its own seed, so any range can be generated alone.
        let mut pos = offset;
        let mut i = 0;
        while i < out.len() {
            let block = pos / 64;
            let within = (pos % 64) as usize;
            let mut buf = [0u8; 64];
            Rng::new(self.op.wrapping_mul(0x1000_0001) ^ ((self.slot as u64) << 48) ^ block.wrapping_mul(0x9E37_79B9)).fill(&mut buf);
            if block == 0 {
                let tag = format!("op{}.{}:", self.op, self.slot);
                let n = tag.len().min(64);
                buf[..n].copy_from_slice(&tag.as_bytes()[..n]);
            }
            let n = (64 - within).min(out.len() - i);
            out[i..i + n].copy_from_slice(&buf[within..within + n]);
            i += n;
            pos += n as u64;
        }
    }

    /// A short description of a value found in the store, for messages: its tag if it has one.
    pub fn describe(found: &[u8]) -> String {
        let head = &found[..found.len().min(24)];
        let text: String = head.iter().take_while(|b| **b != b':').map(|&b| if b.is_ascii_graphic() { b as char } else { '?' }).collect();
        format!("{} bytes starting {text:?}", found.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_range_matches_the_whole() {
        let id = ValueId { op: 77, slot: 3, len: 1000 };
        let whole = id.bytes();
        for (from, len) in [(0, 10), (5, 100), (63, 2), (64, 64), (900, 100)] {
            let mut part = vec![0; len];
            id.fill(from as u64, &mut part);
            assert_eq!(part, whole[from..from + len]);
        }
        assert!(whole.starts_with(b"op77.3:"));
        assert_ne!(whole, ValueId { op: 78, slot: 3, len: 1000 }.bytes());
    }
}
