//! What the hash and set commands share: opening a collection for a read or a write, the
//! random numbers of HRANDFIELD / SRANDMEMBER / SPOP, the count arguments and their bounds,
//! HSCAN / SSCAN, and the replies Redis 7 gives in RESP2 and RESP3.
//!
//! A read-only command runs in `Ctx::read` (a consistent view without the writer lock, or
//! EXEC's transaction); a write runs in `Ctx::transaction` (one batch; inside EXEC, EXEC's
//! batch). A command stages its writes only through `Collection::commit` at its end, so a
//! command that fails (a bad value, a member too large) writes nothing.

use bytes::Bytes;
use crowndb::{Collection, CollectionType, ReadRecords};

use crate::redis::dispatch::Ctx;
use crate::redis::glob;
use crate::redis::reply::{self, is, parse_i64, Reply};
use crate::resp::Frame;

/// The collection under `key`, `None` if absent; WRONGTYPE (as an engine error) for another type.
pub fn open(r: &mut dyn ReadRecords, key: &[u8], kind: CollectionType) -> crowndb::Result<Option<Collection>> {
    if key.len() > reply::MAX_KEY_LEN {
        return Ok(None);
    }
    Collection::open(r, key, kind)
}

/// Members (with their values) as a collection yields them.
pub type Items = Vec<(Vec<u8>, Vec<u8>)>;

/// Members with repetitions one HRANDFIELD / SRANDMEMBER with a negative count may return.
/// Redis streams such a reply and has no bound; CrownDB builds a reply whole, so it refuses
/// more than this instead of holding an unbounded reply in memory.
pub const MAX_REPEATED_PICKS: u64 = 1 << 20;

/// A small random number generator (xorshift64*), seeded per command.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(crate::store::now_ms());
        Rng(h.finish() | 1)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// The count of HRANDFIELD / SRANDMEMBER: Redis's range `-LONG_MAX ..= LONG_MAX`.
pub fn random_count(arg: &[u8]) -> Result<i64, Frame> {
    let n = parse_i64(arg)?;
    if n == i64::MIN {
        return Err(Frame::err("value is out of range, value must between -9223372036854775807 and 9223372036854775807"));
    }
    Ok(n)
}

/// Most bytes of members a command reads whole (HGETALL, SMEMBERS, SINTER...); a larger
/// collection is read with HSCAN / SSCAN. Redis has no such limit, but would hold the reply in
/// its output buffer: bounded memory matters more here.
pub const MAX_WHOLE_READ: u64 = 256 << 20;

/// `count` members picked at random with repetitions (a negative count), at most
/// [`MAX_REPEATED_PICKS`]. Memory is bounded by the collection and by the reply.
pub fn repeated_picks(r: &mut dyn ReadRecords, c: &mut Collection, count: u64) -> crowndb::Result<Result<Items, Frame>> {
    if count > MAX_REPEATED_PICKS {
        return Ok(Err(Frame::err(format!(
            "count of random members with repetitions is at most {MAX_REPEATED_PICKS} in CrownDB (one reply is built in memory)"
        ))));
    }
    let mut rng = Rng::new();
    let mut out = Vec::with_capacity(count as usize);
    if c.is_empty() || count == 0 {
        return Ok(Ok(out));
    }
    if c.is_inline() || count * 2 >= c.len() {
        let all = c.all_within(r, MAX_WHOLE_READ)?;
        for _ in 0..count {
            out.push(all[rng.below(all.len() as u64) as usize].clone());
        }
    } else {
        for _ in 0..count {
            out.extend(c.sample(r, 1, &mut |n| rng.below(n))?);
        }
    }
    Ok(Ok(out))
}

/// Distinct members picked at random, at most the collection's size.
pub fn distinct_picks(r: &mut dyn ReadRecords, c: &mut Collection, count: u64) -> crowndb::Result<Items> {
    let mut rng = Rng::new();
    let count = count.min(c.len()) as usize;
    c.sample(r, count, &mut |n| rng.below(n))
}

/// `HSCAN` / `SSCAN key cursor [MATCH pattern] [COUNT count]`: whole pages until `count`
/// members are gathered; every member present for the whole walk is returned at least once.
/// Checked in Redis 7.0's order: the cursor, then the key (missing: an empty page; another
/// type: WRONGTYPE), then the options.
pub fn scan(ctx: &mut Ctx, args: &[Bytes], kind: CollectionType) -> Reply {
    // Read as SCAN reads its cursor (`strtoul`).
    let cursor = super::keyspace::parse_cursor(&args[2]).ok_or_else(|| Frame::err("invalid cursor"))?;
    let options = scan_options(args);
    let key = &args[1];
    let (next, items) = ctx.read(|r| {
        let mut items = Vec::new();
        let next = match open(r, key, kind)? {
            Some(mut c) => match &options {
                Ok((count, _)) => Some(c.scan(r, cursor, *count, &mut items)?),
                Err(_) => None,
            },
            None => Some(0),
        };
        Ok((next, items))
    })?;
    let Some(next) = next else { return Err(options.err().unwrap_or_else(reply::syntax_error)) };
    let pattern = options.ok().and_then(|(_, p)| p);
    let mut out = Vec::with_capacity(items.len() * 2);
    for (member, value) in items {
        if pattern.is_some_and(|p| !glob::matches(p, &member)) {
            continue;
        }
        out.push(Frame::bulk(member));
        if kind == CollectionType::Hash {
            out.push(Frame::bulk(value));
        }
    }
    Ok(Frame::Array(vec![Frame::bulk(next.to_string()), Frame::Array(out)]))
}

/// HSCAN / SSCAN's COUNT (default 10) and MATCH pattern (`None`: every member).
fn scan_options(args: &[Bytes]) -> Result<(usize, Option<&[u8]>), Frame> {
    let o = ScanOptions::parse(&args[3..], false)?;
    Ok((o.count, o.pattern))
}

/// The options of SCAN, HSCAN and SSCAN (`COUNT n`, `MATCH pattern`, for SCAN `TYPE t`), in
/// any order, each a name and a value.
pub struct ScanOptions<'a> {
    pub count: usize,
    /// `None`: every name (no MATCH, or `MATCH *`).
    pub pattern: Option<&'a [u8]>,
    /// SCAN's TYPE, lowercased.
    pub only_type: Option<Vec<u8>>,
}

impl<'a> ScanOptions<'a> {
    pub fn parse(options: &'a [Bytes], with_type: bool) -> Result<ScanOptions<'a>, Frame> {
        let mut o = ScanOptions { count: 10, pattern: None, only_type: None };
        for pair in options.chunks(2) {
            let [name, value] = pair else { return Err(reply::syntax_error()) };
            if is(name, "COUNT") {
                let n = parse_i64(value)?;
                if n < 1 {
                    return Err(reply::syntax_error());
                }
                o.count = n.min(1 << 20) as usize;
            } else if is(name, "MATCH") {
                o.pattern = Some(&value[..]).filter(|p| *p != b"*");
            } else if with_type && is(name, "TYPE") {
                o.only_type = Some(value.to_ascii_lowercase());
            } else {
                return Err(reply::syntax_error());
            }
        }
        Ok(o)
    }
}

/// Members as a RESP3 set (`~`; an array in RESP2), as SMEMBERS and SINTER reply.
pub fn set_reply(members: impl IntoIterator<Item = Vec<u8>>) -> Frame {
    Frame::Set(members.into_iter().map(Frame::bulk).collect())
}

/// Members as an array.
pub fn array_reply(members: impl IntoIterator<Item = Vec<u8>>) -> Frame {
    Frame::Array(members.into_iter().map(Frame::bulk).collect())
}
