//! MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! MULTI queues the client's commands; EXEC runs them only if no WATCHed key changed: a key's
//! version (its record's sequence number) is remembered by WATCH and compared by EXEC, which is
//! compare-and-swap over several keys. As in Redis, a command that fails inside EXEC does not
//! undo the others (there is no rollback), and a command refused while queuing (unknown, wrong
//! arity) makes EXEC abort.
//!
//! EXEC holds the server's exec lock exclusively (every other Redis command holds it shared), and
//! normally runs in one `Db::write_if` over every key the queued commands and WATCH name: under
//! the store's writer lock it reads those keys, compares the WATCHed versions, runs the queue on
//! an overlay of them (`txn.rs`), and appends every write as one batch. A crash leaves all of the
//! transaction on disk or none of it, and no writer of the other protocol comes in between.
//!
//! The queue runs the old way instead (isolated but not atomic on disk: a crash can leave part
//! of it) when it holds a command that works on the whole keyspace or on server state (KEYS,
//! SCAN, DBSIZE, RANDOMKEY, FLUSHALL, INFO, CONFIG ...: see `txn::runs_on_overlay`), or when the
//! store refuses the batch (larger than a record may be, a full disk ...): nothing of it was
//! written then, and running it again gives each command the store's own answer.

use bytes::Bytes;

use crate::redis::dispatch::{run, Ctx};
use crate::redis::reply::{self, Reply, MAX_KEY_LEN};
use crate::redis::txn::{self, Txn};
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
        if ctx.entry(key)?.map(|e| e.version) != *version {
            return Ok(Frame::NullArray);
        }
    }
    Ok(Frame::Array(queue.iter().map(|args| run(ctx, args)).collect()))
}

/// Runs the queue on an overlay inside one `Db::write_if` and writes its writes as one batch.
/// An error means nothing was written (the store refused the keys or the batch).
fn exec_atomic(ctx: &mut Ctx, queue: &[Vec<Bytes>], watched: &[(Bytes, Option<u64>)]) -> Result<Frame, crowndb::Error> {
    let mut keys = Vec::new();
    for args in queue {
        txn::declared_keys(args, &mut keys);
    }
    keys.extend(watched.iter().map(|(key, _)| key.clone()).filter(|key| key.len() <= MAX_KEY_LEN));
    keys.sort_unstable();
    keys.dedup();
    let key_refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let dirty_before = ctx.writes.dirty;
    let opts = ctx.write_options();
    let shared = ctx.shared;
    let mut reply = Frame::NullArray;
    let written = shared.db.write_if(&key_refs, &opts, |entries| {
        let current = |key: &[u8]| keys.binary_search_by(|k| k[..].cmp(key)).ok().and_then(|i| entries[i].as_ref());
        if watched.iter().any(|(key, version)| current(key).map(|e| e.version) != *version) {
            return None;
        }
        ctx.txn = Some(Txn::new(&keys, entries));
        reply = Frame::Array(queue.iter().map(|args| run(ctx, args)).collect());
        ctx.txn.take().map(Txn::into_batch)
    })?;
    if !written {
        // Nothing reached the store (only reads, or a failed WATCH): no sync to wait for.
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
        let version = if key.len() > MAX_KEY_LEN { None } else { ctx.db().get_entry(key).map_err(reply::engine)?.map(|e| e.version) };
        ctx.client.watched.push((Bytes::copy_from_slice(key), version));
    }
    Ok(Frame::ok())
}

pub fn unwatch(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.client.watched.clear();
    Ok(Frame::ok())
}
