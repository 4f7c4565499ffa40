//! LEB128 unsigned integers: the lengths inside collection heads and pages.

/// Appends `n` as LEB128 (7 bits a byte, low bits first, high bit = more follows).
pub fn put(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a LEB128 integer at `*at`, advancing it; `None` if truncated or over 64 bits.
pub fn get(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        n |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// Encoded length of `n`.
pub fn len(n: u64) -> usize {
    (64 - (n | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_rejects_truncation() {
        for n in [0u64, 1, 127, 128, 300, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            super::put(&mut out, n);
            assert_eq!(out.len(), super::len(n), "{n}");
            let mut at = 0;
            assert_eq!(super::get(&out, &mut at), Some(n));
            assert_eq!(at, out.len());
            let mut at = 0;
            assert_eq!(super::get(&out[..out.len() - 1], &mut at), None);
        }
    }
}
