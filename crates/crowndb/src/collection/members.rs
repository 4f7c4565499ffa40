//! A run of members as stored inline in a head and in a page: each member is
//! `varint len | bytes`, followed for hashes by `varint len | value bytes`.
//! Members keep the order they were added in (as Redis's listpacks do); an update keeps
//! the member's place.

use super::varint;

/// Members of one inline head or one page, decoded. Small by construction (a page is a
/// few KiB), so a command decodes the run, changes it, and encodes it again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    /// (member, value); the value is empty and unused for sets.
    pub items: Vec<(Vec<u8>, Vec<u8>)>,
    pub with_values: bool,
}

impl Members {
    pub fn new(with_values: bool) -> Members {
        Members { items: Vec::new(), with_values }
    }

    /// Decodes `count` members from `bytes`; `None` if the bytes do not hold exactly them.
    pub fn decode(bytes: &[u8], count: usize, with_values: bool) -> Option<Members> {
        let mut at = 0;
        let mut items = Vec::with_capacity(count.min(bytes.len()));
        let take = |at: &mut usize| -> Option<Vec<u8>> {
            let n = varint::get(bytes, at)? as usize;
            let end = at.checked_add(n).filter(|&e| e <= bytes.len())?;
            let out = bytes[*at..end].to_vec();
            *at = end;
            Some(out)
        };
        for _ in 0..count {
            let member = take(&mut at)?;
            let value = if with_values { take(&mut at)? } else { Vec::new() };
            items.push((member, value));
        }
        (at == bytes.len()).then_some(Members { items, with_values })
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        for (m, v) in &self.items {
            varint::put(out, m.len() as u64);
            out.extend_from_slice(m);
            if self.with_values {
                varint::put(out, v.len() as u64);
                out.extend_from_slice(v);
            }
        }
    }

    /// Bytes `encode_into` writes.
    pub fn encoded_len(&self) -> usize {
        self.items.iter().map(|(m, v)| item_len(m, self.with_values.then_some(v.as_slice()))).sum()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn position(&self, member: &[u8]) -> Option<usize> {
        self.items.iter().position(|(m, _)| m == member)
    }

    pub fn get(&self, member: &[u8]) -> Option<&[u8]> {
        self.position(member).map(|i| self.items[i].1.as_slice())
    }

    /// Sets `member` (to `value`, for hashes); true if it was not there.
    pub fn insert(&mut self, member: &[u8], value: &[u8]) -> bool {
        match self.position(member) {
            Some(i) => {
                self.items[i].1 = value.to_vec();
                false
            }
            None => {
                self.items.push((member.to_vec(), value.to_vec()));
                true
            }
        }
    }

    /// Removes `member`; its value if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<Vec<u8>> {
        let i = self.position(member)?;
        Some(self.items.remove(i).1)
    }
}

/// Encoded length of one member (and its value, for hashes).
pub fn item_len(member: &[u8], value: Option<&[u8]>) -> usize {
    varint::len(member.len() as u64) + member.len() + value.map_or(0, |v| varint::len(v.len() as u64) + v.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_insertion_order_and_round_trips() {
        let mut m = Members::new(true);
        assert!(m.insert(b"b", b"2"));
        assert!(m.insert(b"a", b"1"));
        assert!(!m.insert(b"b", b"two"));
        let mut bytes = Vec::new();
        m.encode_into(&mut bytes);
        assert_eq!(bytes.len(), m.encoded_len());
        let back = Members::decode(&bytes, 2, true).unwrap();
        assert_eq!(back.items, vec![(b"b".to_vec(), b"two".to_vec()), (b"a".to_vec(), b"1".to_vec())]);
        assert_eq!(Members::decode(&bytes, 3, true), None);
        assert_eq!(Members::decode(&bytes[..bytes.len() - 1], 2, true), None);
        assert_eq!(m.clone().remove(b"a"), Some(b"1".to_vec()));
    }
}
