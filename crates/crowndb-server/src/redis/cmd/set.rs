//! Set commands: SADD, SREM, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS, SRANDMEMBER, SPOP,
//! SMOVE, SINTER, SINTERCARD, SUNION, SDIFF, SINTERSTORE, SUNIONSTORE, SDIFFSTORE, SSCAN, on
//! the engine's collections (`crowndb::Collection` of type Set). The algebra is written once
//! (`combine`): the plain forms reply with it, the STORE forms write it in one transaction
//! with their reads.

use std::collections::HashSet;

use bytes::Bytes;
use crowndb::CollectionType::Set;
use crowndb::{Collection, ReadRecords};

use super::collections::{self, distinct_picks, open, random_count, repeated_picks, set_reply};
use crate::redis::dispatch::Ctx;
use crate::redis::reply::{self, is, parse_i64, writable_key, Reply};
use crate::resp::Frame;

pub fn sadd(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = writable_key(&args[1])?;
    let added = ctx.transaction(|txn| {
        let mut s = Collection::open_or_create(txn, key, Set)?;
        let mut added = 0;
        for member in &args[2..] {
            added += i64::from(s.insert(txn, member, &[])?);
        }
        s.commit(txn)?;
        Ok(added)
    })?;
    Ok(Frame::Integer(added))
}

pub fn srem(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let removed = ctx.transaction(|txn| {
        let Some(mut s) = open(txn, &args[1], Set)? else { return Ok(0) };
        let mut removed = 0;
        for member in &args[2..] {
            removed += i64::from(s.remove(txn, member)?.is_some());
        }
        s.commit(txn)?;
        Ok(removed)
    })?;
    Ok(Frame::Integer(removed))
}

/// Runs `f` on the set under `key` in a consistent view; `missing` if there is none.
fn with_set(
    ctx: &mut Ctx,
    key: &[u8],
    missing: Frame,
    f: impl FnOnce(&mut dyn ReadRecords, &mut Collection) -> crowndb::Result<Frame>,
) -> Reply {
    ctx.read(|r| match open(r, key, Set)? {
        Some(mut s) => f(r, &mut s),
        None => Ok(missing),
    })
}

pub fn sismember(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    with_set(ctx, &args[1], Frame::Integer(0), |r, s| Ok(Frame::Integer(i64::from(s.contains(r, &args[2])?))))
}

pub fn smismember(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let missing = Frame::Array(vec![Frame::Integer(0); args.len() - 2]);
    with_set(ctx, &args[1], missing, |r, s| {
        let mut out = Vec::with_capacity(args.len() - 2);
        for member in &args[2..] {
            out.push(Frame::Integer(i64::from(s.contains(r, member)?)));
        }
        Ok(Frame::Array(out))
    })
}

pub fn scard(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    with_set(ctx, &args[1], Frame::Integer(0), |_, s| Ok(Frame::Integer(s.len() as i64)))
}

pub fn smembers(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    with_set(ctx, &args[1], Frame::Set(Vec::new()), |r, s| {
        Ok(set_reply(s.all_within(r, collections::MAX_WHOLE_READ)?.into_iter().map(|(m, _)| m)))
    })
}

/// `SRANDMEMBER key [count]`: a negative count may repeat members.
pub fn srandmember(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match args.len() {
        2 => with_set(ctx, &args[1], Frame::Null, |r, s| {
            Ok(distinct_picks(r, s, 1)?.into_iter().next().map_or(Frame::Null, |(m, _)| Frame::bulk(m)))
        }),
        3 => {
            let count = random_count(&args[2])?;
            let picked = ctx.read(|r| {
                let Some(mut s) = open(r, &args[1], Set)? else { return Ok(Ok(Vec::new())) };
                if count >= 0 {
                    Ok(Ok(distinct_picks(r, &mut s, count as u64)?))
                } else {
                    repeated_picks(r, &mut s, count.unsigned_abs())
                }
            })??;
            Ok(collections::array_reply(picked.into_iter().map(|(m, _)| m)))
        }
        _ => Err(reply::syntax_error()),
    }
}

/// `SPOP key [count]`: removes and returns random members (a set reply with a count).
pub fn spop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let count = match args.len() {
        2 => None,
        3 => {
            // Redis's `getPositiveLongFromObjectOrReply`: one message for both.
            let n = parse_i64(&args[2]).ok().filter(|n| *n >= 0);
            Some(n.ok_or_else(|| Frame::err("value is out of range, must be positive"))? as u64)
        }
        _ => return Err(reply::syntax_error()),
    };
    let popped = ctx.transaction(|txn| {
        let Some(mut s) = open(txn, &args[1], Set)? else { return Ok(Vec::new()) };
        let picked = distinct_picks(txn, &mut s, count.unwrap_or(1))?;
        for (member, _) in &picked {
            s.remove(txn, member)?;
        }
        s.commit(txn)?;
        Ok(picked)
    })?;
    let members = popped.into_iter().map(|(m, _)| m);
    Ok(match count {
        None => members.into_iter().next().map_or(Frame::Null, Frame::bulk),
        Some(_) => set_reply(members),
    })
}

pub fn smove(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (src, dst, member) = (&args[1], writable_key(&args[2])?, &args[3]);
    let moved = ctx.transaction(|txn| {
        let Some(mut from) = open(txn, src, Set)? else { return Ok(false) };
        // The destination's type is checked even when nothing moves, as in Redis.
        let to = open(txn, dst, Set)?;
        if src == dst {
            return from.contains(txn, member);
        }
        if from.remove(txn, member)?.is_none() {
            return Ok(false);
        }
        let mut to = match to {
            Some(to) => to,
            None => Collection::open_or_create(txn, dst, Set)?,
        };
        to.insert(txn, member, &[])?;
        from.commit(txn)?;
        to.commit(txn)?;
        Ok(true)
    })?;
    Ok(Frame::Integer(i64::from(moved)))
}

/// The set algebra of SINTER, SUNION, SDIFF and their STORE and CARD forms.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The members of `op` over the sets under `keys` (a missing key is an empty set; a key of
/// another type is WRONGTYPE, checked for every key first). `limit` (0: none) stops an
/// intersection early (SINTERCARD).
fn combine(r: &mut dyn ReadRecords, op: Op, keys: &[Bytes], limit: usize) -> crowndb::Result<Vec<Vec<u8>>> {
    let mut sets = Vec::with_capacity(keys.len());
    for key in keys {
        sets.push(open(r, key, Set)?);
    }
    let mut out = Vec::new();
    match op {
        Op::Inter => {
            if sets.iter().any(Option::is_none) {
                return Ok(out);
            }
            let mut sets: Vec<Collection> = sets.into_iter().flatten().collect();
            sets.sort_by_key(Collection::len);
            let (first, rest) = sets.split_first_mut().expect("at least one key");
            'members: for (member, _) in first.all_within(r, collections::MAX_WHOLE_READ)? {
                for other in rest.iter_mut() {
                    if !other.contains(r, &member)? {
                        continue 'members;
                    }
                }
                out.push(member);
                if limit != 0 && out.len() >= limit {
                    break;
                }
            }
        }
        Op::Union => {
            let mut seen = HashSet::new();
            for mut s in sets.into_iter().flatten() {
                for (member, _) in s.all_within(r, collections::MAX_WHOLE_READ)? {
                    if seen.insert(member.clone()) {
                        out.push(member);
                    }
                }
            }
        }
        Op::Diff => {
            let mut sets = sets.into_iter();
            let Some(Some(mut first)) = sets.next() else { return Ok(out) };
            let mut rest: Vec<Collection> = sets.flatten().collect();
            'diff: for (member, _) in first.all_within(r, collections::MAX_WHOLE_READ)? {
                for other in rest.iter_mut() {
                    if other.contains(r, &member)? {
                        continue 'diff;
                    }
                }
                out.push(member);
            }
        }
    }
    Ok(out)
}

fn plain(ctx: &mut Ctx, args: &[Bytes], op: Op) -> Reply {
    let members = ctx.read(|r| combine(r, op, &args[1..], 0))?;
    Ok(set_reply(members))
}

/// The STORE forms: the result replaces whatever `destination` held (an empty one deletes it).
fn store(ctx: &mut Ctx, args: &[Bytes], op: Op) -> Reply {
    let dst = writable_key(&args[1])?;
    let len = ctx.transaction(|txn| {
        let members = combine(txn, op, &args[2..], 0)?;
        txn.delete(dst)?;
        if members.is_empty() {
            return Ok(0);
        }
        let mut s = Collection::open_or_create(txn, dst, Set)?;
        for member in &members {
            s.insert(txn, member, &[])?;
        }
        s.commit(txn)?;
        Ok(members.len() as i64)
    })?;
    Ok(Frame::Integer(len))
}

pub fn sinter(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    plain(ctx, args, Op::Inter)
}

pub fn sunion(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    plain(ctx, args, Op::Union)
}

pub fn sdiff(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    plain(ctx, args, Op::Diff)
}

pub fn sinterstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    store(ctx, args, Op::Inter)
}

pub fn sunionstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    store(ctx, args, Op::Union)
}

pub fn sdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    store(ctx, args, Op::Diff)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`.
pub fn sintercard(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    // Redis's `getRangeLongFromObjectOrReply` with a message: the same for a non-integer.
    let numkeys = parse_i64(&args[1]).ok().filter(|n| *n >= 1).ok_or_else(|| Frame::err("numkeys should be greater than 0"))?;
    if numkeys > args.len() as i64 - 2 {
        return Err(Frame::err("Number of keys can't be greater than number of args"));
    }
    let keys = &args[2..2 + numkeys as usize];
    let mut limit = 0usize;
    let mut i = 2 + numkeys as usize;
    while i < args.len() {
        if is(&args[i], "LIMIT") && i + 1 < args.len() {
            let n = parse_i64(&args[i + 1]).ok().filter(|n| *n >= 0).ok_or_else(|| Frame::err("LIMIT can't be negative"))?;
            limit = usize::try_from(n).unwrap_or(usize::MAX);
            i += 2;
        } else {
            return Err(reply::syntax_error());
        }
    }
    let members = ctx.read(|r| combine(r, Op::Inter, keys, limit))?;
    Ok(Frame::Integer(members.len() as i64))
}

pub fn sscan(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    collections::scan(ctx, args, Set)
}
