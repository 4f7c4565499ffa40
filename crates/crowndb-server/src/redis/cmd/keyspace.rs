//! Keyspace commands: DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME, RENAMENX, COPY, RANDOMKEY,
//! SCAN, KEYS, DBSIZE, FLUSHDB, FLUSHALL.
//!
//! Every command here works on keys of any type. RENAME, RENAMENX and COPY run in one
//! `Db::transaction` (`txn.rename` / `txn.copy`): the checks and the writes are one step under
//! the writer lock and one batch on disk (RENAME of a collection moves its head alone, O(1)).

use std::collections::HashSet;

use bytes::Bytes;

use crate::redis::dispatch::Ctx;
use crate::redis::glob;
use crate::redis::reply::{self, is, parse_i64, writable_key, Reply, MAX_KEY_LEN};
use crate::resp::Frame;
use crate::store::{blocking, flush_now};

pub fn del(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let opts = ctx.write_options();
    let mut deleted = 0;
    for key in &args[1..] {
        if key.len() > MAX_KEY_LEN {
            continue;
        }
        if ctx.delete(key, &opts)? {
            deleted += 1;
        }
    }
    Ok(Frame::Integer(deleted))
}

/// Counts the keys that exist; a key named twice counts twice, as in Redis.
pub fn exists(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut count = 0;
    for key in &args[1..] {
        if ctx.contains(key)? {
            count += 1;
        }
    }
    Ok(Frame::Integer(count))
}

/// TOUCH: there are no access times to update; counts the keys that exist.
pub fn touch(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    exists(ctx, args)
}

pub fn type_(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let kind = ctx.key_type(&args[1])?;
    Ok(Frame::simple(kind.map_or("none", |k| k.name())))
}

fn rename_generic(ctx: &mut Ctx, args: &[Bytes], nx: bool) -> Reply {
    let (src, dst) = (&args[1], writable_key(&args[2])?);
    if src.len() > MAX_KEY_LEN {
        return Err(Frame::err("no such key"));
    }
    /// What the transaction found.
    enum Verdict {
        NoSuchKey,
        Same,
        DestinationExists,
        Moved,
    }
    let verdict = ctx.transaction(|txn| {
        if txn.key_type(src)?.is_none() {
            return Ok(Verdict::NoSuchKey);
        }
        if src == dst {
            return Ok(Verdict::Same);
        }
        if nx && txn.key_type(dst)?.is_some() {
            return Ok(Verdict::DestinationExists);
        }
        txn.rename(src, dst)?;
        Ok(Verdict::Moved)
    })?;
    match verdict {
        Verdict::NoSuchKey => Err(Frame::err("no such key")),
        Verdict::Same => Ok(if nx { Frame::Integer(0) } else { Frame::ok() }),
        Verdict::DestinationExists => Ok(Frame::Integer(0)),
        Verdict::Moved => Ok(if nx { Frame::Integer(1) } else { Frame::ok() }),
    }
}

pub fn rename(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, false)
}

pub fn renamenx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, true)
}

/// `COPY source destination [DB 0] [REPLACE]`: the value and its TTL.
pub fn copy(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (src, dst) = (&args[1], writable_key(&args[2])?);
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "REPLACE") {
            replace = true;
            i += 1;
        } else if is(&args[i], "DB") && i + 1 < args.len() {
            let db = parse_i64(&args[i + 1])?;
            if db != 0 {
                return Err(Frame::err("DB index is out of range"));
            }
            i += 2;
        } else {
            return Err(reply::syntax_error());
        }
    }
    if src == dst {
        return Err(Frame::err("source and destination objects are the same"));
    }
    if src.len() > MAX_KEY_LEN {
        return Ok(Frame::Integer(0));
    }
    let copied = ctx.transaction(|txn| {
        if txn.key_type(src)?.is_none() || (!replace && txn.key_type(dst)?.is_some()) {
            return Ok(false);
        }
        txn.copy(src, dst)
    })?;
    Ok(Frame::Integer(copied as i64))
}

/// Keys read per page when walking the whole keyspace (KEYS, RANDOMKEY, FLUSH).
const PAGE: usize = 1024;

/// A key from a random point of the index walk; nil if the store is empty.
pub fn randomkey(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    // The cursor is `shard << 20 | fragment` (8 + 20 bits): start anywhere.
    let start = random_u64() & ((1 << 28) - 1);
    let mut cursor = start;
    let mut wrapped = false;
    loop {
        let page = ctx.db().scan(cursor, 16).map_err(reply::engine)?;
        if let Some(key) = page.keys.into_iter().next() {
            return Ok(Frame::bulk(key));
        }
        cursor = page.cursor;
        if cursor == 0 {
            if wrapped || start == 0 {
                return Ok(Frame::Null);
            }
            wrapped = true;
        } else if wrapped && cursor >= start {
            return Ok(Frame::Null);
        }
    }
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    hasher.finish()
}

/// A cursor as Redis 7.0 reads it (`parseScanCursorOrReply`: `strtoul`): up to a NUL byte, an
/// optional sign, decimal digits (none at all is 0); no leading space, no overflow. A negative
/// cursor wraps (`-1` is 2^64 - 1: past every shard, a finished walk).
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let text = reply::cstr(arg);
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if text.is_empty() {
        return Some(0);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
    Some(if negative { value.wrapping_neg() } else { value })
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`. The cursor is the engine's (see
/// `Db::scan`): every key present for the whole walk is returned at least once.
pub fn scan(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let cursor = parse_cursor(&args[1]).ok_or_else(|| Frame::err("invalid cursor"))?;
    let super::collections::ScanOptions { count, pattern, only_type } = super::collections::ScanOptions::parse(&args[2..], true)?;
    let page = ctx.db().scan(cursor, count).map_err(reply::engine)?;
    let mut keys = Vec::with_capacity(page.keys.len());
    for key in page.keys {
        if !pattern.is_none_or(|p| glob::matches(p, &key)) {
            continue;
        }
        if let Some(wanted) = &only_type {
            // A key that expired or went since the walk read it has no type: left out.
            let kind = ctx.key_type(&key)?;
            if kind.is_none_or(|k| k.name().as_bytes() != &wanted[..]) {
                continue;
            }
        }
        keys.push(Frame::bulk(key));
    }
    Ok(Frame::Array(vec![Frame::bulk(page.cursor.to_string()), Frame::Array(keys)]))
}

/// Every key matching the pattern, each once. Walks the whole index: slow on a big store, as
/// in Redis (use SCAN).
pub fn keys(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let pattern = &args[1];
    let all = &pattern[..] == b"*";
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let db = ctx.db().clone();
    blocking(|| -> Result<(), Frame> {
        loop {
            let page = db.scan(cursor, PAGE).map_err(reply::engine)?;
            seen.extend(page.keys.into_iter().filter(|k| all || glob::matches(pattern, k)));
            cursor = page.cursor;
            if cursor == 0 {
                return Ok(());
            }
        }
    })?;
    Ok(Frame::Array(seen.into_iter().map(Frame::bulk).collect()))
}

/// Keys in the index; expired keys not yet reclaimed by compaction count too.
pub fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Ok(Frame::Integer(ctx.db().stats().keys as i64))
}

/// FLUSHDB / FLUSHALL `[ASYNC | SYNC]`: deletes every key that exists when it starts (one
/// delete per key); the reply comes once it is done, whichever mode was asked for.
pub fn flush(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match args.len() {
        1 => {}
        2 if is(&args[1], "ASYNC") || is(&args[1], "SYNC") => {}
        _ => return Err(reply::syntax_error()),
    }
    let opts = ctx.write_options();
    let db = ctx.db().clone();
    blocking(|| flush_now(&db, &opts)).map_err(reply::engine)?;
    Ok(Frame::ok())
}
