//! Expiry: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (NX, XX, GT, LT), TTL, PTTL, EXPIRETIME,
//! PEXPIRETIME, PERSIST, on keys of any type. A TTL is the record's deadline (of a string, or of
//! a collection's head), the same one memcached's exptime sets; changing it is
//! `Ctx::retime_with` (`Db::touch_with`: the condition is decided under the writer lock and
//! only the record or head is rewritten), and a deadline already past deletes the key.

use bytes::Bytes;

use super::ExpireArg;
use crate::redis::dispatch::Ctx;
use crate::redis::reply::{self, is, parse_i64, writable_key, Reply};
use crate::resp::Frame;
use crate::store::{self, now_ms, Deadline};

#[derive(Default)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_conditions(args: &[Bytes]) -> Result<Conditions, Frame> {
    let mut c = Conditions::default();
    for arg in args {
        if is(arg, "NX") {
            c.nx = true;
        } else if is(arg, "XX") {
            c.xx = true;
        } else if is(arg, "GT") {
            c.gt = true;
        } else if is(arg, "LT") {
            c.lt = true;
        } else {
            let mut message = b"Unsupported option ".to_vec();
            message.extend_from_slice(reply::cstr(arg));
            return Err(Frame::err(message));
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err(Frame::err("NX and XX, GT or LT options at the same time are not compatible"));
    }
    if c.gt && c.lt {
        return Err(Frame::err("GT and LT options at the same time are not compatible"));
    }
    Ok(c)
}

fn expire_generic(ctx: &mut Ctx, args: &[Bytes], unit: ExpireArg, name: &str) -> Reply {
    let key = writable_key(&args[1])?;
    // Redis checks the flags before the time.
    let conditions = parse_conditions(&args[3..])?;
    let value = parse_i64(&args[2])?;
    let at = unit.deadline(value, name)?;
    let opts = ctx.write_options();
    let to = Deadline::at_unix_ms(at, now_ms());
    let conditional = conditions.nx || conditions.xx || conditions.gt || conditions.lt;
    let allow = |current: Option<u64>| match current {
        _ if !conditional => true,
        // No TTL counts as an infinite one for GT and LT.
        None => !conditions.xx && !conditions.gt,
        Some(old) => !conditions.nx && (!conditions.gt || at > old as i64) && (!conditions.lt || at < old as i64),
    };
    let done = match to {
        // A past deadline deletes the key (of any type) if the condition holds.
        Deadline::Expired => {
            let allowed = ctx.deadline(key)?.is_some_and(allow);
            allowed && store::retime(ctx, key, to, &opts)?.done()
        }
        // Decided and written under the writer lock, on a string or a collection's head.
        _ => ctx.retime_with(key, |current| allow(current).then_some(to.expires_at_ms()))? == Some(true),
    };
    Ok(Frame::Integer(i64::from(done)))
}

pub fn expire(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, ExpireArg::Seconds, "expire")
}

pub fn pexpire(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, ExpireArg::Millis, "pexpire")
}

pub fn expireat(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, ExpireArg::UnixSeconds, "expireat")
}

pub fn pexpireat(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, ExpireArg::UnixMillis, "pexpireat")
}

/// -2 if the key is missing, -1 if it has no TTL, else `f(deadline_ms, now_ms)`.
fn ttl_generic(ctx: &mut Ctx, args: &[Bytes], f: impl Fn(u64, u64) -> i64) -> Reply {
    let Some(deadline) = ctx.deadline(&args[1])? else {
        return Ok(Frame::Integer(-2));
    };
    Ok(Frame::Integer(match deadline {
        None => -1,
        Some(at) => f(at, now_ms()),
    }))
}

pub fn ttl(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    // Rounded to the nearest second, as Redis does.
    ttl_generic(ctx, args, |at, now| (at.saturating_sub(now).saturating_add(500) / 1000) as i64)
}

pub fn pttl(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, args, |at, now| at.saturating_sub(now) as i64)
}

pub fn expiretime(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, args, |at, _| (at / 1000) as i64)
}

pub fn pexpiretime(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, args, |at, _| at as i64)
}

pub fn persist(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let key = writable_key(&args[1])?;
    let done = ctx.retime_with(key, |current| current.is_some().then_some(None))?;
    Ok(Frame::Integer(i64::from(done == Some(true))))
}
