//! Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HGETALL, HKEYS, HVALS, HLEN, HSTRLEN,
//! HEXISTS, HDEL, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN, on the engine's collections
//! (`crowndb::Collection` of type Hash): a small hash is one head record (Redis's listpack),
//! a large one pages (Redis's hashtable). Each write is one batch.

use bytes::Bytes;
use crowndb::CollectionType::Hash;
use crowndb::{Collection, Txn};

use super::collections::{self, distinct_picks, open, random_count, repeated_picks};
use crate::redis::dispatch::Ctx;
use crate::redis::float;
use crate::redis::reply::{self, is, parse_i64, writable_key, Reply};
use crate::resp::{parse_integer, Frame};

/// Sets field / value pairs; how many fields are new. `name` for the arity error.
fn set_pairs(ctx: &mut Ctx, args: &[Bytes], name: &str) -> Result<i64, Frame> {
    if !args.len().is_multiple_of(2) {
        return Err(reply::wrong_arity(name));
    }
    let key = writable_key(&args[1])?;
    ctx.transaction(|txn| {
        let mut h = Collection::open_or_create(txn, key, Hash)?;
        let mut added = 0;
        for pair in args[2..].chunks(2) {
            added += i64::from(h.insert(txn, &pair[0], &pair[1])?);
        }
        h.commit(txn)?;
        Ok(added)
    })
}

pub fn hset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    Ok(Frame::Integer(set_pairs(ctx, args, "hset")?))
}

pub fn hmset(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    set_pairs(ctx, args, "hmset")?;
    Ok(Frame::ok())
}

pub fn hsetnx(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = writable_key(&args[1])?;
    let added = ctx.transaction(|txn| {
        let mut h = Collection::open_or_create(txn, key, Hash)?;
        if h.contains(txn, &args[2])? {
            return Ok(false);
        }
        h.insert(txn, &args[2], &args[3])?;
        h.commit(txn)?;
        Ok(true)
    })?;
    Ok(Frame::Integer(i64::from(added)))
}

/// Runs `f` on the hash under `args[1]` in a consistent view; `missing` if there is none.
fn with_hash(
    ctx: &mut Ctx,
    args: &[Bytes],
    missing: Frame,
    f: impl FnOnce(&mut dyn crowndb::ReadRecords, &mut Collection) -> crowndb::Result<Frame>,
) -> Reply {
    let key = &args[1];
    ctx.read(|r| match open(r, key, Hash)? {
        Some(mut h) => f(r, &mut h),
        None => Ok(missing),
    })
}

pub fn hget(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    with_hash(ctx, args, Frame::Null, |r, h| Ok(h.get(r, &args[2])?.map_or(Frame::Null, Frame::bulk)))
}

pub fn hmget(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let missing = Frame::Array(vec![Frame::Null; args.len() - 2]);
    with_hash(ctx, args, missing, |r, h| {
        let mut out = Vec::with_capacity(args.len() - 2);
        for field in &args[2..] {
            out.push(h.get(r, field)?.map_or(Frame::Null, Frame::bulk));
        }
        Ok(Frame::Array(out))
    })
}

pub fn hgetall(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    with_hash(ctx, args, Frame::Map(Vec::new()), |r, h| {
        Ok(Frame::Map(h.all_within(r, collections::MAX_WHOLE_READ)?.into_iter().map(|(f, v)| (Frame::bulk(f), Frame::bulk(v))).collect()))
    })
}

pub fn hkeys(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    with_hash(ctx, args, Frame::Array(Vec::new()), |r, h| {
        Ok(collections::array_reply(h.all_within(r, collections::MAX_WHOLE_READ)?.into_iter().map(|(f, _)| f)))
    })
}

pub fn hvals(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    with_hash(ctx, args, Frame::Array(Vec::new()), |r, h| {
        Ok(collections::array_reply(h.all_within(r, collections::MAX_WHOLE_READ)?.into_iter().map(|(_, v)| v)))
    })
}

pub fn hlen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    with_hash(ctx, args, Frame::Integer(0), |_, h| Ok(Frame::Integer(h.len() as i64)))
}

pub fn hstrlen(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    with_hash(ctx, args, Frame::Integer(0), |r, h| Ok(Frame::Integer(h.get(r, &args[2])?.map_or(0, |v| v.len() as i64))))
}

pub fn hexists(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    with_hash(ctx, args, Frame::Integer(0), |r, h| Ok(Frame::Integer(i64::from(h.contains(r, &args[2])?))))
}

pub fn hdel(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let removed = ctx.transaction(|txn| {
        let Some(mut h) = open(txn, key, Hash)? else { return Ok(0) };
        let mut removed = 0;
        for field in &args[2..] {
            removed += i64::from(h.remove(txn, field)?.is_some());
        }
        h.commit(txn)?;
        Ok(removed)
    })?;
    Ok(Frame::Integer(removed))
}

/// Reads a field, lets `f` compute its new value (or refuse with an error reply), writes it.
fn update_field(ctx: &mut Ctx, args: &[Bytes], f: impl FnOnce(Option<&[u8]>) -> Result<(Vec<u8>, Frame), Frame>) -> Reply {
    let key = writable_key(&args[1])?;
    let field = &args[2];
    ctx.transaction(|txn: &mut Txn<'_>| {
        let mut h = Collection::open_or_create(txn, key, Hash)?;
        let old = h.get(txn, field)?;
        let (value, reply) = match f(old.as_deref()) {
            Ok(done) => done,
            Err(e) => return Ok(Err(e)),
        };
        h.insert(txn, field, &value)?;
        h.commit(txn)?;
        Ok(Ok(reply))
    })?
}

pub fn hincrby(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let delta = parse_i64(&args[3])?;
    update_field(ctx, args, |old| {
        let old = match old {
            None => 0,
            Some(v) => parse_integer(v).ok_or_else(|| Frame::err("hash value is not an integer"))?,
        };
        let new = old.checked_add(delta).ok_or_else(|| Frame::err("increment or decrement would overflow"))?;
        Ok((new.to_string().into_bytes(), Frame::Integer(new)))
    })
}

pub fn hincrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    // Read, added and printed as INCRBYFLOAT does (`float.rs`).
    let delta = float::parse(&args[3]).ok_or_else(reply::not_float)?;
    if !delta.value.is_finite() {
        return Err(Frame::err("value is NaN or Infinity"));
    }
    update_field(ctx, args, |old| {
        let old = match old {
            None => float::Float { value: 0.0, exact: true },
            Some(v) => float::parse(v).ok_or_else(|| Frame::err("hash value is not a float"))?,
        };
        let new = float::add(old, delta);
        if !new.value.is_finite() {
            return Err(Frame::err("increment would produce NaN or Infinity"));
        }
        let text = float::format(new);
        Ok((text.clone(), Frame::bulk(text)))
    })
}

/// `HRANDFIELD key [count [WITHVALUES]]`.
pub fn hrandfield(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() == 2 {
        return with_hash(ctx, args, Frame::Null, |r, h| {
            Ok(distinct_picks(r, h, 1)?.into_iter().next().map_or(Frame::Null, |(f, _)| Frame::bulk(f)))
        });
    }
    let count = random_count(&args[2])?;
    let with_values = match args.len() {
        3 => false,
        4 if is(&args[3], "WITHVALUES") => true,
        _ => return Err(reply::syntax_error()),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(Frame::err("value is out of range"));
    }
    let resp3 = ctx.client.protocol == crate::resp::Protocol::Resp3;
    let picked = ctx.read(|r| {
        let Some(mut h) = open(r, &args[1], Hash)? else { return Ok(Ok(Vec::new())) };
        if count >= 0 {
            Ok(Ok(distinct_picks(r, &mut h, count as u64)?))
        } else {
            repeated_picks(r, &mut h, count.unsigned_abs())
        }
    })??;
    let mut out = Vec::with_capacity(picked.len() * if with_values && !resp3 { 2 } else { 1 });
    for (field, value) in picked {
        match (with_values, resp3) {
            (false, _) => out.push(Frame::bulk(field)),
            (true, true) => out.push(Frame::Array(vec![Frame::bulk(field), Frame::bulk(value)])),
            (true, false) => {
                out.push(Frame::bulk(field));
                out.push(Frame::bulk(value));
            }
        }
    }
    Ok(Frame::Array(out))
}

pub fn hscan(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    collections::scan(ctx, args, Hash)
}
