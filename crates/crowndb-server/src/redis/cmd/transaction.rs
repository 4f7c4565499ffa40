//! MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! MULTI queues the client's commands; EXEC runs them only if no WATCHed key changed: a key's
//! version (its record's sequence number) is remembered by WATCH and compared by EXEC, which is
//! compare-and-swap over several keys. As in Redis, a command that fails inside EXEC does not
//! undo the others (there is no rollback), and a command refused while queuing (unknown, wrong
//! arity) makes EXEC abort.
//!
//! EXEC holds the server's exec lock exclusively (every other Redis command holds it shared), and
//! normally runs the queue inside one `Db::transaction`: under the store's writer lock it
//! compares the WATCHed versions (`Db::version`: of a string or a collection's head), runs every
//! queued command on that one `crowndb::Txn` (strings, hashes and sets alike: `txn.rs`), and
//! appends every write as one batch. A crash leaves all of the transaction on disk or none of
//! it, and no writer of the other protocol comes in between.
//!
//! The queue runs command by command instead (isolated but not atomic on disk: a crash can
//! leave part of it) when it holds a command that works on the whole keyspace or on server
//! state (KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSHALL, INFO, CONFIG ...: see
//! `txn::runs_on_overlay`), or when the store refuses the batch (larger than a record may be, a
//! full disk ...): nothing of it was written then, and running it again gives each command the
//! store's own answer.

use bytes::Bytes;

use crate::redis::dispatch::{run, Ctx};
use crate::redis::reply::{self, Reply, MAX_KEY_LEN};
use crate::redis::txn;
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
    if queue.iter().all(|args| txn::runs_on_overlay(args)) {
        match exec_atomic(ctx, &queue, &watched) {
            Ok(reply) => return Ok(reply),
            Err(e) => tracing::debug!("EXEC of {} commands runs command by command, not as one batch: {e}", queue.len()),
        }
    }
    for (key, version) in &watched {
        if version_of(ctx, key)? != *version {
            return Ok(Frame::NullArray);
        }
    }
    Ok(Frame::Array(queue.iter().map(|args| run(ctx, args)).collect()))
}

/// The version WATCH remembers: of a string or a collection's head; `None` if absent.
fn version_of(ctx: &Ctx, key: &[u8]) -> Result<Option<u64>, Frame> {
    if key.len() > MAX_KEY_LEN {
        return Ok(None);
    }
    ctx.db().version(key).map_err(reply::engine)
}

/// Runs the queue inside one `Db::transaction`, whose writes are one batch. An error means
/// nothing was written (the store refused the batch).
fn exec_atomic(ctx: &mut Ctx, queue: &[Vec<Bytes>], watched: &[(Bytes, Option<u64>)]) -> Result<Frame, crowndb::Error> {
    let dirty_before = ctx.writes.dirty;
    let opts = ctx.write_options();
    let shared = ctx.shared;
    let mut writes = ctx.writes;
    let client = &mut *ctx.client;
    let mut wrote = false;
    let reply = shared.db.transaction(&opts, |txn| {
        // Under the writer lock: no write can come between this check and the queue.
        for (key, version) in watched {
            let now = if key.len() > MAX_KEY_LEN { None } else { shared.db.version(key)? };
            if now != *version {
                return Ok(Frame::NullArray);
            }
        }
        wrote = true;
        let mut inner = Ctx { shared, client: &mut *client, writes, txn: Some(txn) };
        let replies = queue.iter().map(|args| run(&mut inner, args)).collect();
        writes = inner.writes;
        Ok(Frame::Array(replies))
    })?;
    ctx.writes = writes;
    if !wrote {
        // Nothing reached the store (a failed WATCH): no sync to wait for.
        ctx.writes.dirty = dirty_before;
    }
    Ok(reply)
}

pub fn watch(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if ctx.client.multi.is_some() {
        return Err(Frame::err("WATCH inside MULTI is not allowed"));
    }
    for key in &args[1..] {
        if ctx.client.watched.iter().any(|(k, _)| k == key) {
            continue;
        }
        let version = version_of(ctx, key)?;
        ctx.client.watched.push((Bytes::copy_from_slice(key), version));
    }
    Ok(Frame::ok())
}

pub fn unwatch(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.client.watched.clear();
    Ok(Frame::ok())
}
