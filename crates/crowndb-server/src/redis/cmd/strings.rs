//! String commands. Every read-modify-write (SET with NX/XX/GET/KEEPTTL, GETSET, GETDEL,
//! APPEND, SETRANGE, INCR*, DECR*) runs in one `Db::update`, which decides under the store's
//! writer lock: concurrent clients never lose an increment or both win an NX. APPEND and the
//! integer INCR family are the store layer's (`store::append`, `store::add_i64`); GETEX's new
//! deadline is `store::get_and_retime` (a touch of the record, not a rewrite of the value). MSET is
//! one `WriteBatch` (all or nothing, even across a crash); MSETNX checks, then writes one batch.

use bytes::Bytes;
use std::borrow::Cow;

use crowndb::Update;

use super::ExpireArg;
use crate::redis::dispatch::Ctx;
use crate::redis::float;
use crate::redis::reply::{self, is, parse_i64, writable_key, Reply};
use crate::resp::{parse_integer, Frame};
use crate::store::{self, Added, Appended, Deadline, Op};

/// Stores a value with flags 0 (Redis has none), keeping nothing of the old record.
fn put(value: Vec<u8>, expires_at_ms: Option<u64>) -> Update {
    Update::Put { value, flags: 0, expires_at_ms }
}

fn bulk(value: Vec<u8>) -> Frame {
    Frame::Bulk(Bytes::from(value))
}

pub fn get(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let entry = ctx.entry(&args[1])?;
    ctx.count_lookup(entry.is_some());
    Ok(entry.map_or(Frame::Null, |e| bulk(e.value)))
}

/// Options of SET and GETEX, as Redis 7.0's `parseExtendedStringArgumentsOrReply` reads them:
/// in any order and case; an option given twice is no error (the last expiry wins: `EX 10 EX
/// 20`), and an expiry option takes the next argument whatever it is (`EX GET EX 15000`).
/// Only the syntax is checked here: the expiry's value is read later (GETEX answers nil for a
/// missing key before looking at it).
#[derive(Default)]
struct StringOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireArg, Bytes)>,
}

/// `args` are the options; `set`: SET's (NX, XX, GET, KEEPTTL), else GETEX's (PERSIST).
fn parse_string_options(args: &[Bytes], set: bool) -> Result<StringOptions, Frame> {
    let mut o = StringOptions::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let unit =
            [("EX", ExpireArg::Seconds), ("PX", ExpireArg::Millis), ("EXAT", ExpireArg::UnixSeconds), ("PXAT", ExpireArg::UnixMillis)]
                .into_iter()
                .find(|(name, _)| is(arg, name))
                .map(|(_, unit)| unit);
        if let Some(unit) = unit {
            let other_unit = o.expire.as_ref().is_some_and(|(u, _)| *u != unit);
            if o.keepttl || o.persist || other_unit || i + 1 >= args.len() {
                return Err(reply::syntax_error());
            }
            o.expire = Some((unit, args[i + 1].clone()));
            i += 2;
            continue;
        }
        if set && is(arg, "NX") && !o.xx {
            o.nx = true;
        } else if set && is(arg, "XX") && !o.nx {
            o.xx = true;
        } else if set && is(arg, "GET") {
            o.get = true;
        } else if set && is(arg, "KEEPTTL") && o.expire.is_none() {
            o.keepttl = true;
        } else if !set && is(arg, "PERSIST") && o.expire.is_none() {
            o.persist = true;
        } else {
            return Err(reply::syntax_error());
        }
        i += 1;
    }
    Ok(o)
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL]`.
pub fn set(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = writable_key(&args[1])?;
    let options = parse_string_options(&args[3..], true)?;
    let expires = match &options.expire {
        Some((unit, value)) => Some(unit.positive_deadline(value, "set")?),
        None => None,
    };
    let opts = ctx.write_options();
    if !(options.nx || options.xx || options.get || options.keepttl) {
        let opts = crowndb::WriteOptions { expires_at_ms: expires, ..opts };
        ctx.put(key, &args[2], &opts)?;
        return Ok(Frame::ok());
    }
    // Any type counts as existing for NX / XX and is overwritten; GET of a collection is
    // WRONGTYPE (and writes nothing), as in Redis.
    let (old, stored) = ctx.transaction(|txn| {
        let old = txn.get(key).or_else(|e| if options.get { Err(e) } else { Ok(None) })?;
        let Some(kind) = txn.key_type(key)? else {
            if options.xx {
                return Ok((None, false));
            }
            txn.put(key, &args[2], &crowndb::WriteOptions { expires_at_ms: expires, ..opts })?;
            return Ok((None, true));
        };
        if options.nx {
            return Ok((old, false));
        }
        let deadline = match (options.keepttl, kind) {
            (false, _) => expires,
            (true, crowndb::KeyType::String) => old.as_ref().and_then(|e| e.expires_at_ms),
            (true, _) => match crowndb::ReadRecords::key_state(txn, key)? {
                crowndb::KeyState::Collection { expires_at_ms, .. } => (expires_at_ms != 0).then_some(expires_at_ms),
                _ => None,
            },
        };
        txn.put(key, &args[2], &crowndb::WriteOptions { expires_at_ms: deadline, ..opts })?;
        Ok((old, true))
    })?;
    let old = old.map(|e| e.value);
    if options.get {
        Ok(old.map_or(Frame::Null, bulk))
    } else if stored {
        Ok(Frame::ok())
    } else {
        Ok(Frame::Null)
    }
}

pub fn setnx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = writable_key(&args[1])?;
    // A key of any type exists.
    let opts = ctx.write_options();
    let stored = ctx.transaction(|txn| {
        if txn.key_type(key)?.is_some() {
            return Ok(false);
        }
        txn.put(key, &args[2], &opts)?;
        Ok(true)
    })?;
    Ok(Frame::Integer(i64::from(stored)))
}

fn set_with_expiry(ctx: &mut Ctx, args: &[Bytes], unit: ExpireArg, name: &str) -> Reply {
    let key = writable_key(&args[1])?;
    let expires = unit.positive_deadline(&args[2], name)?;
    let opts = crowndb::WriteOptions { expires_at_ms: Some(expires), ..ctx.write_options() };
    ctx.put(key, &args[3], &opts)?;
    Ok(Frame::ok())
}

pub fn setex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    set_with_expiry(ctx, args, ExpireArg::Seconds, "setex")
}

pub fn psetex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    set_with_expiry(ctx, args, ExpireArg::Millis, "psetex")
}

pub fn getset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = writable_key(&args[1])?;
    let opts = ctx.write_options();
    let mut old = None;
    ctx.update(key, &opts, |current| {
        old = current.map(|e| e.value.clone());
        put(args[2].to_vec(), None)
    })?;
    Ok(old.map_or(Frame::Null, bulk))
}

pub fn getdel(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = writable_key(&args[1])?;
    let opts = ctx.write_options();
    let mut old = None;
    ctx.update(key, &opts, |current| match current {
        Some(e) => {
            old = Some(e.value.clone());
            Update::Delete
        }
        None => Update::Keep,
    })?;
    ctx.count_lookup(old.is_some());
    Ok(old.map_or(Frame::Null, bulk))
}

/// `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`. In Redis 7.0's order: the options'
/// syntax, then the key (missing: nil, whatever the expiry), then the expiry's value.
pub fn getex(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let options = parse_string_options(&args[2..], false)?;
    if options.expire.is_none() && !options.persist {
        return get(ctx, args);
    }
    let Some(entry) = ctx.entry(&args[1])? else {
        ctx.count_lookup(false);
        return Ok(Frame::Null);
    };
    let key = writable_key(&args[1])?;
    let to = match &options.expire {
        Some((unit, value)) => {
            let value = parse_i64(value)?;
            if value <= 0 {
                return Err(reply::invalid_expire("getex"));
            }
            Deadline::at_unix_ms(unit.deadline(value, "getex")?, store::now_ms())
        }
        None => Deadline::Never,
    };
    let found = if to == Deadline::Never && entry.expires_at_ms.is_none() {
        // PERSIST of a key without a deadline writes nothing.
        Some(entry)
    } else {
        let opts = ctx.write_options();
        store::get_and_retime(ctx, key, to, &opts)?
    };
    ctx.count_lookup(found.is_some());
    Ok(found.map_or(Frame::Null, |e| bulk(e.value)))
}

/// Most bytes of values one MGET reply may hold beyond its first value. The reply is built
/// whole before it is sent, so without a bound one request naming a large key thousands of
/// times would hold gigabytes of server memory. A single value of any size is always sent.
pub const MAX_MGET_REPLY: usize = 32 << 20;

pub fn mget(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut values = Vec::with_capacity(args.len() - 1);
    let mut value_bytes = 0usize;
    for key in &args[1..] {
        // A key of another type is nil here, not WRONGTYPE (as in Redis).
        let entry = ctx.string_entry(key)?;
        ctx.count_lookup(entry.is_some());
        if let Some(e) = &entry {
            if value_bytes > 0 && value_bytes.saturating_add(e.value.len()) > MAX_MGET_REPLY {
                return Err(Frame::err("the values asked for exceed 32 MiB in one reply; MGET fewer keys at once"));
            }
            value_bytes += e.value.len();
        }
        values.push(entry.map_or(Frame::Null, |e| bulk(e.value)));
    }
    Ok(Frame::Array(values))
}

fn pairs_batch<'a>(args: &'a [Bytes], name: &str) -> Result<Vec<Op<'a>>, Frame> {
    if args.len().is_multiple_of(2) {
        return Err(reply::wrong_arity(name));
    }
    let mut ops = Vec::with_capacity(args.len() / 2);
    for pair in args[1..].chunks(2) {
        ops.push(Op::Put { key: writable_key(&pair[0])?, value: Cow::Borrowed(&pair[1]), flags: 0, expires_at_ms: None });
    }
    Ok(ops)
}

/// All pairs in one batch: readers and a crash see all of them or none.
pub fn mset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let batch = pairs_batch(args, "mset")?;
    let opts = ctx.write_options();
    ctx.write(batch, &opts)?;
    Ok(Frame::ok())
}

/// Checks that no key exists, then writes one batch. The batch is atomic; the check and the
/// write are not one step (a key created by another client in between is overwritten).
pub fn msetnx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let batch = pairs_batch(args, "msetnx")?;
    let keys: Vec<&[u8]> = args[1..].chunks(2).map(|pair| &pair[0][..]).collect();
    let opts = ctx.write_options();
    // Checked and written in one transaction: no key (of any type) can appear in between.
    let written = ctx.transaction(|txn| {
        for key in &keys {
            if txn.key_type(key)?.is_some() {
                return Ok(false);
            }
        }
        for op in &batch {
            if let Op::Put { key, value, .. } = op {
                txn.put(key, value, &opts)?;
            }
        }
        Ok(true)
    })?;
    Ok(Frame::Integer(written as i64))
}

/// The longest string a command may build (`proto-max-bulk-len`).
fn max_len(ctx: &Ctx) -> usize {
    ctx.shared.settings().limits.max_bulk_len
}

pub fn append(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = writable_key(&args[1])?;
    let limit = max_len(ctx);
    let opts = ctx.write_options();
    match store::append(ctx, key, &args[2], limit, &opts)? {
        Appended::Len(len) => Ok(Frame::Integer(len as i64)),
        Appended::TooLarge => Err(reply::too_large()),
    }
}

pub fn strlen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    Ok(Frame::Integer(ctx.entry(&args[1])?.map_or(0, |e| e.value.len() as i64)))
}

/// `GETRANGE key start end`, both inclusive, negative from the end, as Redis 7 clamps them.
pub fn getrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (mut start, mut end) = (parse_i64(&args[2])?, parse_i64(&args[3])?);
    let Some(entry) = ctx.entry(&args[1])? else {
        return Ok(Frame::bulk(Bytes::new()));
    };
    let len = entry.value.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(Frame::bulk(Bytes::new()));
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Ok(Frame::bulk(Bytes::new()));
    }
    Ok(bulk(entry.value[start as usize..=end as usize].to_vec()))
}

/// `SETRANGE key offset value`: zero-pads a missing or short string.
pub fn setrange(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = writable_key(&args[1])?;
    let offset = parse_i64(&args[2])?;
    if offset < 0 {
        return Err(Frame::err("offset is out of range"));
    }
    let patch = &args[3];
    if patch.is_empty() {
        return Ok(Frame::Integer(ctx.entry(key)?.map_or(0, |e| e.value.len() as i64)));
    }
    let offset = offset as u64;
    if offset + patch.len() as u64 > max_len(ctx) as u64 {
        // Redis checks the key's type first: WRONGTYPE for a hash or set.
        ctx.entry(key)?;
        return Err(reply::too_large());
    }
    let offset = offset as usize;
    let opts = ctx.write_options();
    let mut len = 0;
    ctx.update(key, &opts, |current| {
        let (mut value, flags, deadline) = match current {
            Some(e) => (e.value.clone(), e.flags, e.expires_at_ms),
            None => (Vec::new(), 0, None),
        };
        if value.len() < offset + patch.len() {
            value.resize(offset + patch.len(), 0);
        }
        value[offset..offset + patch.len()].copy_from_slice(patch);
        len = value.len();
        Update::Put { value, flags, expires_at_ms: deadline }
    })?;
    Ok(Frame::Integer(len as i64))
}

/// Adds `delta` to the integer in `key` (0 if missing), keeping its TTL.
fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) -> Reply {
    let key = writable_key(key)?;
    let opts = ctx.write_options();
    match store::add_i64(ctx, key, delta, parse_integer, &opts)? {
        Added::Done(n, _) => Ok(Frame::Integer(n)),
        Added::NotInteger => Err(reply::not_integer()),
        Added::Overflow => Err(Frame::err("increment or decrement would overflow")),
    }
}

pub fn incr(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    incr_by(ctx, &args[1], 1)
}

pub fn decr(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    incr_by(ctx, &args[1], -1)
}

pub fn incrby(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let delta = parse_i64(&args[2])?;
    incr_by(ctx, &args[1], delta)
}

pub fn decrby(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let delta = parse_i64(&args[2])?;
    let Some(delta) = delta.checked_neg() else {
        return Err(Frame::err("decrement would overflow"));
    };
    incr_by(ctx, &args[1], delta)
}

/// Adds a float, keeping the TTL. Read as Redis's `strtold` reads (hexadecimal too), computed
/// in `f64` (Redis: `long double`), printed as Redis's `%.17Lf` (see `float.rs`).
pub fn incrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = writable_key(&args[1])?;
    let Some(delta) = float::parse(&args[2]) else {
        // Redis looks the key up first: WRONGTYPE for a hash or set.
        ctx.entry(key)?;
        return Err(reply::not_float());
    };
    let opts = ctx.write_options();
    let mut result = Err(reply::not_float());
    ctx.update(key, &opts, |current| {
        let (old, flags, deadline) = match current {
            None => (float::Float { value: 0.0, exact: true }, 0, None),
            Some(e) => match float::parse(&e.value) {
                Some(n) => (n, e.flags, e.expires_at_ms),
                None => return Update::Keep,
            },
        };
        let new = float::add(old, delta);
        if !new.value.is_finite() {
            result = Err(Frame::err("increment would produce NaN or Infinity"));
            return Update::Keep;
        }
        let text = float::format(new);
        result = Ok(text.clone());
        Update::Put { value: text, flags, expires_at_ms: deadline }
    })?;
    Ok(bulk(result?))
}
