//! MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! MULTI queues the client's commands; EXEC runs them one after the other while holding the
//! server's exec lock exclusively (every other command holds it shared while it runs), so no
//! other client's command comes between them, and only if no WATCHed key changed: a key's
//! version (its record's sequence number) is remembered by WATCH and compared by EXEC, which is
//! compare-and-swap over several keys. As in Redis, a command that fails inside EXEC does not
//! undo the others (there is no rollback), and a command refused while queuing (unknown, wrong
//! arity) makes EXEC abort. A crash in the middle of EXEC can leave part of its writes: the
//! transaction is isolated, not one atomic batch on disk.

use bytes::Bytes;

use crate::redis::dispatch::{run, Ctx};
use crate::redis::reply::{self, Reply, MAX_KEY_LEN};
use crate::resp::Frame;

pub fn multi(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    if ctx.client.multi.is_some() {
        return Err(Frame::err("MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_failed = false;
    Ok(Frame::ok())
}

pub fn discard(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    if ctx.client.multi.take().is_none() {
        return Err(Frame::err("DISCARD without MULTI"));
    }
    ctx.client.multi_failed = false;
    ctx.client.watched.clear();
    Ok(Frame::ok())
}

pub fn exec(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let Some(queue) = ctx.client.multi.take() else {
        return Err(Frame::err("EXEC without MULTI"));
    };
    let failed = std::mem::take(&mut ctx.client.multi_failed);
    let watched = std::mem::take(&mut ctx.client.watched);
    if failed {
        return Err(Frame::error("EXECABORT Transaction discarded because of previous errors."));
    }
    for (key, version) in &watched {
        if ctx.entry(key)?.map(|e| e.version) != *version {
            return Ok(Frame::NullArray);
        }
    }
    Ok(Frame::Array(queue.iter().map(|args| run(ctx, args)).collect()))
}

pub fn watch(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if ctx.client.multi.is_some() {
        return Err(Frame::err("WATCH inside MULTI is not allowed"));
    }
    for key in &args[1..] {
        if ctx.client.watched.iter().any(|(k, _)| k == key) {
            continue;
        }
        let version = if key.len() > MAX_KEY_LEN { None } else { ctx.db().get_entry(key).map_err(reply::engine)?.map(|e| e.version) };
        ctx.client.watched.push((Bytes::copy_from_slice(key), version));
    }
    Ok(Frame::ok())
}

pub fn unwatch(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.client.watched.clear();
    Ok(Frame::ok())
}
