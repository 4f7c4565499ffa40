//! The head of a collection: the record under the collection's own key (a put with codec
//! `COLLECTION`). It names the type and the incarnation (epoch), counts the members, and
//! either holds them (inline layout) or says how they are spread over pages (paged layout,
//! a linear hash). Byte layout in docs/format.md, "Collection head".

use super::linear::LinearHash;
use super::members::Members;

/// Version byte of the head layout.
const HEAD_VERSION: u8 = 1;
/// Bytes before the inline members or the linear-hash parameters.
const FIXED_LEN: usize = 20;
const PAGED_LEN: usize = FIXED_LEN + 17;

/// What a collection key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectionType {
    /// Field -> value (Redis hash).
    Hash = 1,
    /// Members without values (Redis set).
    Set = 2,
}

impl CollectionType {
    fn from_byte(b: u8) -> Option<CollectionType> {
        match b {
            1 => Some(CollectionType::Hash),
            2 => Some(CollectionType::Set),
            _ => None,
        }
    }

    /// Members carry values.
    pub fn has_values(self) -> bool {
        self == CollectionType::Hash
    }

    /// The name Redis's TYPE gives it.
    pub fn name(self) -> &'static str {
        match self {
            CollectionType::Hash => "hash",
            CollectionType::Set => "set",
        }
    }
}

/// Where the members are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// In the head itself (small collections: one record read and written per command).
    Inline(Members),
    /// In pages: the buckets of a linear hash on the members' hashes.
    Paged(LinearHash),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub kind: CollectionType,
    /// Names this incarnation of the key: the sequence number of the write that created it.
    /// Pages carry it in their keys; pages of another epoch belong to a dead incarnation.
    pub epoch: u64,
    pub count: u64,
    pub layout: Layout,
    /// Redis's encoding is `hashtable` (byte 3, bit 0): set when an insertion converts it by
    /// Redis's rules, never cleared (Redis never converts back), kept by RENAME and COPY.
    /// A paged collection always has it.
    pub converted: bool,
}

impl Head {
    pub fn new_inline(kind: CollectionType, epoch: u64) -> Head {
        Head { kind, epoch, count: 0, layout: Layout::Inline(Members::new(kind.has_values())), converted: false }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PAGED_LEN);
        out.push(HEAD_VERSION);
        out.push(self.kind as u8);
        out.push(match self.layout {
            Layout::Inline(_) => 0,
            Layout::Paged(_) => 1,
        });
        out.push(u8::from(self.converted));
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        match &self.layout {
            Layout::Inline(members) => members.encode_into(&mut out),
            Layout::Paged(lh) => {
                out.push(lh.level);
                out.extend_from_slice(&lh.split.to_le_bytes());
                out.extend_from_slice(&lh.bytes.to_le_bytes());
            }
        }
        out
    }

    /// Decodes a head; the error says what is wrong, for the corruption report.
    pub fn decode(bytes: &[u8]) -> Result<Head, String> {
        if bytes.len() < FIXED_LEN {
            return Err(format!("collection head of {} bytes, shorter than {FIXED_LEN}", bytes.len()));
        }
        if bytes[0] != HEAD_VERSION {
            return Err(format!("collection head version {} (this build reads {HEAD_VERSION})", bytes[0]));
        }
        let kind = CollectionType::from_byte(bytes[1]).ok_or_else(|| format!("unknown collection type {}", bytes[1]))?;
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let (epoch, count) = (u64_at(4), u64_at(12));
        if bytes[3] > 1 {
            return Err(format!("collection head flags {:#x} (this build knows bit 0)", bytes[3]));
        }
        let converted = bytes[3] == 1;
        let layout = match bytes[2] {
            0 => Layout::Inline(
                Members::decode(&bytes[FIXED_LEN..], count as usize, kind.has_values())
                    .ok_or_else(|| format!("inline members do not match the count {count}"))?,
            ),
            1 if bytes.len() == PAGED_LEN => {
                let level = bytes[FIXED_LEN];
                if level > 62 {
                    return Err(format!("linear hash level {level} out of range"));
                }
                let lh = LinearHash { level, split: u64_at(FIXED_LEN + 1), bytes: u64_at(FIXED_LEN + 9) };
                if lh.split >= 1u64 << level {
                    return Err(format!("linear hash split pointer {} past level {level}", lh.split));
                }
                Layout::Paged(lh)
            }
            other => return Err(format!("collection layout {other} with {} bytes", bytes.len())),
        };
        Ok(Head { kind, epoch, count, layout, converted })
    }
}

/// True if these head bytes describe a paged collection (read by footers, at sealing).
pub fn is_paged(value: &[u8]) -> bool {
    value.len() > 2 && value[0] == HEAD_VERSION && value[2] == 1
}

/// The epoch and bucket count of a paged head, read from its fixed fields (no member is
/// decoded); `None` for an inline head or bytes that are not a paged head.
pub fn paged_state(value: &[u8]) -> Option<(u64, u64)> {
    if value.len() != PAGED_LEN || !is_paged(value) {
        return None;
    }
    let u64_at = |at: usize| u64::from_le_bytes(value[at..at + 8].try_into().expect("8 bytes"));
    let level = value[FIXED_LEN];
    let split = u64_at(FIXED_LEN + 1);
    (level <= 62 && split < 1u64 << level).then(|| (u64_at(4), (1u64 << level) + split))
}

/// The key of page `bucket` of the incarnation `epoch`: pages live in their own namespace,
/// and are reached through the head, which names the epoch (so RENAME moves only the head).
pub fn page_key(epoch: u64, bucket: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&epoch.to_be_bytes());
    key[8..].copy_from_slice(&bucket.to_be_bytes());
    key
}

/// The epoch and bucket of a page key.
pub fn parse_page_key(key: &[u8]) -> Option<(u64, u64)> {
    let key: &[u8; 16] = key.try_into().ok()?;
    Some((u64::from_be_bytes(key[..8].try_into().ok()?), u64::from_be_bytes(key[8..].try_into().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_paged_heads_round_trip_and_damage_is_described() {
        let mut head = Head::new_inline(CollectionType::Hash, 42);
        if let Layout::Inline(m) = &mut head.layout {
            m.insert(b"field", b"value");
        }
        head.count = 1;
        assert_eq!(Head::decode(&head.encode()).unwrap(), head);
        head.converted = true;
        assert_eq!(Head::decode(&head.encode()).unwrap(), head);
        head.converted = false;
        let paged = Head {
            kind: CollectionType::Set,
            epoch: 7,
            count: 10_000,
            layout: Layout::Paged(LinearHash { level: 3, split: 5, bytes: 90_000 }),
            converted: true,
        };
        assert_eq!(Head::decode(&paged.encode()).unwrap(), paged);
        let mut bad = paged.encode();
        bad[FIXED_LEN] = 2; // split 5 >= 2^2
        assert!(Head::decode(&bad).unwrap_err().contains("split pointer"));
        assert!(Head::decode(&head.encode()[..FIXED_LEN + 3]).unwrap_err().contains("count"));
        assert_eq!(parse_page_key(&page_key(9, 300)), Some((9, 300)));
    }
}
