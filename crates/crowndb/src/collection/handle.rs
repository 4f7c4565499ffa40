//! One collection loaded for a command: reads members through its head and pages, changes
//! them in memory, and stages the head and the changed pages when the command commits.
//!
//! A point operation touches the head and one page; a split touches two more pages. The
//! pages a command reads are cached for the rest of the command, so a multi-member command
//! (HMGET, SADD of many members) reads each page once.

use std::collections::BTreeMap;

use super::access::{CollectionLimits, KeyState, ReadRecords, WriteRecords};
use super::head::{CollectionType, Head, Layout};
use super::linear::{member_hash, LinearHash};
use super::members::{item_len, Members};
use crate::error::{Error, Result};

/// A collection of a key, as one command sees it.
#[derive(Debug)]
pub struct Collection {
    key: Vec<u8>,
    head: Head,
    expires_at_ms: u64,
    /// False for a collection this command creates.
    existed: bool,
    /// Pages read or changed by this command (paged layout only): bucket -> (members, dirty).
    pages: BTreeMap<u64, (Members, bool)>,
    head_dirty: bool,
    /// This command inserted members: Redis's conversion rules apply at commit (a command
    /// that only removes never converts, in Redis as here).
    inserted: bool,
}

/// The error for a command on a key of another type (Redis's WRONGTYPE).
pub fn wrong_type() -> Error {
    Error::WrongType
}

impl Collection {
    /// Loads the collection under `key`; `None` if the key has no live value; WrongType if
    /// it holds another type.
    pub fn open(r: &mut dyn ReadRecords, key: &[u8], kind: CollectionType) -> Result<Option<Collection>> {
        match r.key_state(key)? {
            KeyState::Absent => Ok(None),
            KeyState::Other => Err(wrong_type()),
            KeyState::Collection { head, .. } if head.kind != kind => Err(wrong_type()),
            KeyState::Collection { head, expires_at_ms } => Ok(Some(Collection {
                key: key.to_vec(),
                head,
                expires_at_ms,
                existed: true,
                pages: BTreeMap::new(),
                head_dirty: false,
                inserted: false,
            })),
        }
    }

    /// Loads the collection, or starts an empty one (written only if members are added).
    pub fn open_or_create(w: &mut dyn WriteRecords, key: &[u8], kind: CollectionType) -> Result<Collection> {
        if let Some(c) = Collection::open(w, key, kind)? {
            return Ok(c);
        }
        let epoch = w.new_epoch();
        Ok(Collection {
            key: key.to_vec(),
            head: Head::new_inline(kind, epoch),
            expires_at_ms: 0,
            existed: false,
            pages: BTreeMap::new(),
            head_dirty: false,
            inserted: false,
        })
    }

    pub fn kind(&self) -> CollectionType {
        self.head.kind
    }

    pub fn len(&self) -> u64 {
        self.head.count
    }

    pub fn is_empty(&self) -> bool {
        self.head.count == 0
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The deadline (Unix ms, 0: none) the head is written with at commit.
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }

    /// Sets the deadline written at commit.
    pub fn set_expiry(&mut self, expires_at_ms: u64) {
        self.expires_at_ms = expires_at_ms;
        self.head_dirty = true;
    }

    /// Whether Redis's encoding is `hashtable` (see [`Head::converted`]).
    pub fn converted(&self) -> bool {
        self.head.converted || !self.is_inline()
    }

    /// Gives the collection `hashtable` encoding from now on (COPY of one that has it).
    pub fn mark_converted(&mut self) {
        self.head.converted = true;
        self.head_dirty = true;
    }

    pub fn is_inline(&self) -> bool {
        matches!(self.head.layout, Layout::Inline(_))
    }

    /// The page holding `member`'s bucket, read once per command.
    fn page_of(&mut self, r: &mut dyn ReadRecords, member: &[u8]) -> Result<u64> {
        let Layout::Paged(lh) = &self.head.layout else { unreachable!("paged layout checked by the caller") };
        let bucket = lh.bucket_of(member_hash(self.head.epoch, member));
        self.load(r, bucket)?;
        Ok(bucket)
    }

    fn load(&mut self, r: &mut dyn ReadRecords, bucket: u64) -> Result<()> {
        if !self.pages.contains_key(&bucket) {
            let page = r.page(self.head.epoch, bucket, self.head.kind.has_values())?;
            self.pages.insert(bucket, (page, false));
        }
        Ok(())
    }

    /// The member's value (empty for sets) if it is there.
    pub fn get(&mut self, r: &mut dyn ReadRecords, member: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Layout::Inline(m) = &self.head.layout {
            return Ok(m.get(member).map(<[u8]>::to_vec));
        }
        let Layout::Paged(lh) = &self.head.layout else { unreachable!("inline handled above") };
        let bucket = lh.bucket_of(member_hash(self.head.epoch, member));
        match self.pages.get(&bucket) {
            Some((page, _)) => Ok(page.get(member).map(<[u8]>::to_vec)),
            // A page not needed whole: looked up in its bytes.
            None => r.find_in_page(self.head.epoch, bucket, member, self.head.kind.has_values()),
        }
    }

    pub fn contains(&mut self, r: &mut dyn ReadRecords, member: &[u8]) -> Result<bool> {
        Ok(self.get(r, member)?.is_some())
    }

    /// Sets `member` (to `value` for hashes); true if it is new.
    pub fn insert(&mut self, w: &mut dyn WriteRecords, member: &[u8], value: &[u8]) -> Result<bool> {
        let value = if self.head.kind.has_values() { value } else { &[][..] };
        let size = item_len(member, self.head.kind.has_values().then_some(value));
        if size > w.max_member_bytes() {
            return Err(Error::TooLarge { what: "collection member", size: size as u64, limit: w.max_member_bytes() as u64 });
        }
        self.head_dirty = true;
        self.inserted = true;
        let with_values = self.head.kind.has_values();
        if with_values {
            // Redis converts a hash by the field's and value's lengths (HSET: by every
            // argument, before it runs), whatever the final value.
            let limit = w.limits().hash_max_listpack_value;
            self.head.converted |= member.len() > limit || value.len() > limit;
        }
        let added = match &mut self.head.layout {
            Layout::Inline(m) => m.insert(member, value),
            Layout::Paged(_) => {
                let bucket = self.page_of(w, member)?;
                let (page, dirty) = self.pages.get_mut(&bucket).expect("loaded");
                let old = page.get(member).map_or(0, |v| item_len(member, with_values.then_some(v)));
                let added = page.insert(member, value);
                *dirty = true;
                if let Layout::Paged(lh) = &mut self.head.layout {
                    lh.bytes = (lh.bytes + size as u64).saturating_sub(old as u64);
                }
                added
            }
        };
        if added {
            self.head.count += 1;
        }
        Ok(added)
    }

    /// Removes `member`; its value (empty for sets) if it was there.
    pub fn remove(&mut self, w: &mut dyn WriteRecords, member: &[u8]) -> Result<Option<Vec<u8>>> {
        let with_values = self.head.kind.has_values();
        let removed = match &mut self.head.layout {
            Layout::Inline(m) => m.remove(member),
            Layout::Paged(_) => {
                let bucket = self.page_of(w, member)?;
                let (page, dirty) = self.pages.get_mut(&bucket).expect("loaded");
                let removed = page.remove(member);
                if let (Some(v), Layout::Paged(lh)) = (&removed, &mut self.head.layout) {
                    *dirty = true;
                    lh.bytes = lh.bytes.saturating_sub(item_len(member, with_values.then_some(v)) as u64);
                }
                removed
            }
        };
        if removed.is_some() {
            self.head.count -= 1;
            self.head_dirty = true;
        }
        Ok(removed)
    }

    /// Every member, in bucket order (inline: insertion order).
    pub fn all(&mut self, r: &mut dyn ReadRecords) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::with_capacity(self.head.count.min(1 << 20) as usize);
        let mut cursor = 0;
        loop {
            cursor = self.scan(r, cursor, usize::MAX, &mut out)?;
            if cursor == 0 {
                return Ok(out);
            }
        }
    }

    /// Bytes of all members (and values) as stored: what reading it whole holds in memory.
    pub fn stored_bytes(&self) -> u64 {
        match &self.head.layout {
            Layout::Inline(m) => m.encoded_len() as u64,
            Layout::Paged(lh) => lh.bytes,
        }
    }

    /// [`Collection::all`], refused with `TooLarge` if the members take more than
    /// `max_bytes`: a command that reads a collection whole must not hold gigabytes.
    pub fn all_within(&mut self, r: &mut dyn ReadRecords, max_bytes: u64) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let size = self.stored_bytes();
        if size > max_bytes {
            return Err(Error::TooLarge { what: "collection read whole (read it in pieces: HSCAN / SSCAN)", size, limit: max_bytes });
        }
        self.all(r)
    }

    /// One step of a resumable walk (HSCAN / SSCAN): appends whole buckets' members to
    /// `out` until at least `count` were added, and returns the cursor to continue from (0
    /// when done). Every member present for the whole walk is returned at least once:
    /// buckets are walked in increasing order and a split only moves members to a bucket
    /// past every existing one.
    pub fn scan(&mut self, r: &mut dyn ReadRecords, cursor: u64, count: usize, out: &mut Vec<(Vec<u8>, Vec<u8>)>) -> Result<u64> {
        let lh = match &self.head.layout {
            Layout::Inline(m) => {
                out.extend(m.items.iter().cloned());
                return Ok(0);
            }
            Layout::Paged(lh) => *lh,
        };
        let start = out.len();
        let mut bucket = cursor;
        while bucket < lh.buckets() {
            self.load(r, bucket)?;
            out.extend(self.pages[&bucket].0.items.iter().cloned());
            // Pages read by a walk are not kept: a walk of a large collection must not hold it.
            if !self.pages[&bucket].1 {
                self.pages.remove(&bucket);
            }
            bucket += 1;
            if out.len() - start >= count {
                break;
            }
        }
        Ok(if bucket >= lh.buckets() { 0 } else { bucket })
    }

    /// Up to `count` members picked at random (distinct), for SRANDMEMBER / HRANDFIELD / SPOP.
    /// `pick(n)` returns a random number below `n`.
    pub fn sample(&mut self, r: &mut dyn ReadRecords, count: usize, pick: &mut dyn FnMut(u64) -> u64) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let count = count.min(self.head.count as usize);
        let lh = match &self.head.layout {
            Layout::Inline(m) => {
                let mut items = m.items.clone();
                shuffle_prefix(&mut items, count, pick);
                items.truncate(count);
                return Ok(items);
            }
            Layout::Paged(lh) => *lh,
        };
        if count as u64 * 2 >= self.head.count {
            let mut items = self.all(r)?;
            shuffle_prefix(&mut items, count, pick);
            items.truncate(count);
            return Ok(items);
        }
        // Random buckets, a random member of each until enough distinct ones are found.
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(count);
        let mut tries = 0u64;
        while out.len() < count {
            tries += 1;
            let bucket = pick(lh.buckets());
            self.load(r, bucket)?;
            let page = &self.pages[&bucket].0;
            if page.is_empty() {
                if tries > 64 * (count as u64 + lh.buckets()) {
                    break; // only possible with damaged counts; never loop forever
                }
                continue;
            }
            let (m, v) = &page.items[pick(page.len() as u64) as usize];
            if seen.insert(m.clone()) {
                out.push((m.clone(), v.clone()));
            }
        }
        Ok(out)
    }

    /// Stages the command's changes: the head and every changed page, converting an inline
    /// collection that outgrew `limits` to pages and splitting buckets as the pages fill.
    /// An emptied collection is deleted (Redis removes empty hashes and sets).
    pub fn commit(mut self, w: &mut dyn WriteRecords) -> Result<()> {
        if !self.head_dirty {
            return Ok(());
        }
        if self.head.count == 0 {
            if self.existed {
                w.delete_key(&self.key)?;
            }
            return Ok(());
        }
        let limits = w.limits();
        if let (Layout::Inline(m), true) = (&mut self.head.layout, self.inserted) {
            self.head.converted |= match self.head.kind {
                CollectionType::Hash => m.len() > limits.hash_max_listpack_entries,
                CollectionType::Set => !is_intset(m) || m.len() > limits.set_max_intset_entries,
            };
            // A hash is paged when Redis converts it (by the inserted fields and values and
            // the count: not by a long value already there under a limit lowered since); a
            // set by CrownDB's own inline limits (its encoding is the bit).
            let page = match self.head.kind {
                CollectionType::Hash => self.head.converted,
                CollectionType::Set => set_outgrows_inline(m, &limits),
            };
            if page {
                self.convert_to_pages(limits.page_size);
            } else if self.head.kind == CollectionType::Set && is_intset(m) {
                // Redis keeps small sets of integers sorted (an intset): SMEMBERS answers so.
                m.items.sort_by_key(|(x, _)| parse_canonical_i64(x));
            }
        }
        if let Layout::Paged(_) = self.head.layout {
            self.split_while_full(w, limits.page_size)?;
            for (&bucket, (page, dirty)) in &self.pages {
                if *dirty {
                    w.write_page(self.head.epoch, bucket, page)?;
                }
            }
        }
        w.write_head(&self.key, &self.head, self.expires_at_ms)
    }

    fn convert_to_pages(&mut self, page_size: usize) {
        let Layout::Inline(members) = std::mem::replace(&mut self.head.layout, Layout::Paged(LinearHash::with_buckets(1, 0))) else {
            unreachable!("inline layout checked by the caller")
        };
        let bytes = members.encoded_len() as u64;
        let lh = LinearHash::with_buckets(bytes.div_ceil(page_size as u64 / 2).max(1), bytes);
        let with_values = self.head.kind.has_values();
        for bucket in 0..lh.buckets() {
            self.pages.insert(bucket, (Members::new(with_values), true));
        }
        for (m, v) in members.items {
            let bucket = lh.bucket_of(member_hash(self.head.epoch, &m));
            self.pages.get_mut(&bucket).expect("every bucket made").0.items.push((m, v));
        }
        self.head.layout = Layout::Paged(lh);
        self.head.converted = true;
    }

    fn split_while_full(&mut self, w: &mut dyn WriteRecords, page_size: usize) -> Result<()> {
        let with_values = self.head.kind.has_values();
        loop {
            let Layout::Paged(lh) = &mut self.head.layout else { return Ok(()) };
            if !lh.wants_split(page_size) {
                return Ok(());
            }
            let from = lh.split;
            if !self.pages.contains_key(&from) {
                let page = w.page(self.head.epoch, from, with_values)?;
                self.pages.insert(from, (page, false));
            }
            let Layout::Paged(lh) = &mut self.head.layout else { return Ok(()) };
            let (from, to) = lh.split();
            let lh = *lh;
            let (old, _) = self.pages.remove(&from).expect("loaded above");
            let (mut stay, mut go) = (Members::new(with_values), Members::new(with_values));
            for item in old.items {
                if lh.bucket_of(member_hash(self.head.epoch, &item.0)) == to {
                    go.items.push(item);
                } else {
                    stay.items.push(item);
                }
            }
            self.pages.insert(from, (stay, true));
            self.pages.insert(to, (go, true));
        }
    }
}

/// True if an inline set must move to pages under CrownDB's inline limits.
fn set_outgrows_inline(m: &Members, limits: &CollectionLimits) -> bool {
    if is_intset(m) {
        m.len() > limits.set_max_intset_entries
    } else {
        m.len() > limits.set_max_listpack_entries || m.items.iter().any(|(x, _)| x.len() > limits.set_max_listpack_value)
    }
}

/// True if every member is an integer as Redis's intsets hold them (a canonical decimal i64).
pub fn is_intset(m: &Members) -> bool {
    m.items.iter().all(|(x, _)| parse_canonical_i64(x).is_some())
}

/// `x` as an i64 if it is written the way Redis writes that number (no sign on 0, no
/// leading zeros or plus sign, no spaces).
pub fn parse_canonical_i64(x: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(x).ok()?;
    let n: i64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

/// Moves `count` randomly chosen items to the front (a partial Fisher-Yates shuffle).
fn shuffle_prefix<T>(items: &mut [T], count: usize, pick: &mut dyn FnMut(u64) -> u64) {
    for i in 0..count.min(items.len()) {
        let j = i + pick((items.len() - i) as u64) as usize;
        items.swap(i, j);
    }
}
