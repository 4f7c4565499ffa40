//! Robustness of the command layer: any command of the table with any arguments (names,
//! options, numbers at the edges, binary junk) gets a reply, never a panic, and the store stays
//! usable.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use proptest::prelude::*;

use super::client::{Client, ClientInfo};
use super::dispatch::{dispatch, Ctx, COMMANDS};
use super::shared::Shared;
use crate::config::Config;
use crate::resp::Frame;
use crate::stats::ServerStats;

fn harness() -> (tempfile::TempDir, Shared, Client) {
    let dir = tempfile::tempdir().unwrap();
    let db = crowndb::Db::open(dir.path(), crowndb::Options::default()).unwrap();
    let config = Arc::new(Config { data_dir: dir.path().to_path_buf(), ..Config::default() });
    let shutdown = Arc::new(tokio::sync::watch::channel(false).0);
    let shared = Shared::new(db, Arc::new(ServerStats::default()), config, 6379, shutdown);
    let addr = "127.0.0.1:1".parse().unwrap();
    let now = Instant::now();
    let info = Arc::new(Mutex::new(ClientInfo {
        id: 1,
        addr,
        laddr: addr,
        name: Vec::new(),
        lib_name: Vec::new(),
        lib_ver: Vec::new(),
        created: now,
        last_active: now,
        last_command: String::new(),
        resp: 2,
    }));
    let client = Client::new(1, true, info);
    (dir, shared, client)
}

/// Arguments that commands treat specially, and numbers at the edges.
fn argument() -> impl Strategy<Value = Bytes> {
    let words = prop::sample::select(vec![
        "k",
        "k2",
        "NX",
        "XX",
        "GT",
        "LT",
        "GET",
        "EX",
        "PX",
        "EXAT",
        "PXAT",
        "KEEPTTL",
        "PERSIST",
        "REPLACE",
        "DB",
        "MATCH",
        "COUNT",
        "TYPE",
        "string",
        "*",
        "k*",
        "[a-",
        "\\",
        "0",
        "1",
        "-1",
        "10",
        "100000",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "1.5",
        "-0.5",
        "1e308",
        "inf",
        "nan",
        "",
        " 1",
        "ASYNC",
        "SYNC",
        "AUTH",
        "default",
        "SETNAME",
        "ID",
        "LIST",
        "INFO",
        "GETNAME",
        "SETINFO",
        "lib-name",
        "DOCS",
        "COUNT",
        "ABORT",
        "NOSAVE",
        "3",
        "2",
        "timeout",
        "proto-max-bulk-len",
        "1mb",
        "requirepass",
        "save",
        "MULTI",
        "EXEC",
    ])
    .prop_map(|w| Bytes::from_static(w.as_bytes()));
    prop_oneof![4 => words, 1 => prop::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)]
}

fn request() -> impl Strategy<Value = Vec<Bytes>> {
    // Commands that stop the server or close the connection are left out; so is a huge
    // SETRANGE offset's allocation, which is bounded by proto-max-bulk-len anyway.
    let names: Vec<&'static str> =
        COMMANDS.iter().map(|spec| spec.name).filter(|name| !matches!(*name, "shutdown" | "quit" | "setrange")).collect();
    (prop::sample::select(names), prop::collection::vec(argument(), 0..7)).prop_map(|(name, mut args)| {
        args.insert(0, Bytes::from_static(name.as_bytes()));
        args
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_request_gets_a_reply(requests in prop::collection::vec(request(), 1..40)) {
        let (_dir, shared, mut client) = harness();
        let mut ctx = Ctx::new(&shared, &mut client);
        for args in &requests {
            let _ = dispatch(&mut ctx, args);
            // Keep the client able to run the next one.
            ctx.client.authenticated = true;
            ctx.client.close_after_reply = false;
            ctx.client.close_now = false;
        }
        // Leave a transaction the random requests may have opened.
        ctx.client.multi = None;
        let set = [Bytes::from_static(b"SET"), Bytes::from_static(b"after"), Bytes::from_static(b"v")];
        prop_assert_eq!(dispatch(&mut ctx, &set), Frame::ok());
        let get = [Bytes::from_static(b"GET"), Bytes::from_static(b"after")];
        prop_assert_eq!(dispatch(&mut ctx, &get), Frame::bulk("v"));
    }
}

/// Key commands and arguments whose replies do not depend on when they run (no deadlines a
/// few milliseconds away, no millisecond TTLs), for comparing two runs of the same requests.
fn timeless_request() -> impl Strategy<Value = Vec<Bytes>> {
    let names: Vec<&'static str> = COMMANDS
        .iter()
        .filter(|spec| spec.keys != (0, 0, 0))
        .map(|spec| spec.name)
        .filter(|name| !matches!(*name, "watch" | "psetex" | "pexpire" | "pttl" | "expiretime" | "pexpiretime" | "setrange"))
        .collect();
    let words = prop::sample::select(vec![
        "k",
        "k2",
        "k3",
        "NX",
        "XX",
        "GT",
        "LT",
        "GET",
        "EX",
        "EXAT",
        "PXAT",
        "KEEPTTL",
        "PERSIST",
        "REPLACE",
        "DB",
        "0",
        "1",
        "-1",
        "10",
        "100000",
        "9223372036854775807",
        "99999999999999999999",
        "1.5",
        "-0.5",
        "inf",
        "",
        "abc",
    ])
    .prop_map(|w| Bytes::from_static(w.as_bytes()));
    (prop::sample::select(names), prop::collection::vec(words, 0..6)).prop_map(|(name, mut args)| {
        args.insert(0, Bytes::from_static(name.as_bytes()));
        args
    })
}

fn arity_ok(args: &[Bytes]) -> bool {
    let spec = COMMANDS.iter().find(|spec| spec.name.as_bytes() == &args[0][..]).expect("a name from the table");
    let (argc, arity) = (args.len() as i64, i64::from(spec.arity));
    // A container's unknown subcommand or wrong count is refused before queueing, as arity is.
    ((arity > 0 && argc == arity) || (arity < 0 && argc >= -arity)) && crate::redis::dispatch::check_subcommand(spec, args).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The same requests one by one, and inside MULTI ... EXEC (on the transaction overlay, one
    /// batch): the same replies, and the same keys, values and expiry left in the store.
    #[test]
    fn exec_on_the_overlay_answers_like_commands_one_by_one(requests in prop::collection::vec(timeless_request(), 1..30)) {
        let requests: Vec<_> = requests.into_iter().filter(|args| arity_ok(args)).collect();
        let (_dir_a, shared_a, mut client_a) = harness();
        let mut one_by_one = Ctx::new(&shared_a, &mut client_a);
        let replies: Vec<Frame> = requests.iter().map(|args| dispatch(&mut one_by_one, args)).collect();
        let (_dir_b, shared_b, mut client_b) = harness();
        let mut in_exec = Ctx::new(&shared_b, &mut client_b);
        prop_assert_eq!(dispatch(&mut in_exec, &[Bytes::from_static(b"MULTI")]), Frame::ok());
        for args in &requests {
            prop_assert_eq!(dispatch(&mut in_exec, args), Frame::simple("QUEUED"));
        }
        prop_assert_eq!(dispatch(&mut in_exec, &[Bytes::from_static(b"EXEC")]), Frame::Array(replies));
        // A collection's head names its incarnation (an epoch, a sequence number): compare its
        // members instead of its bytes.
        let members = |db: &crowndb::Db, key: &[u8]| -> Option<Vec<u8>> {
            db.read(|view| {
                let Some(kind) = view.key_type(key)? else { return Ok(None) };
                let kind = match kind {
                    crowndb::KeyType::Hash => crowndb::CollectionType::Hash,
                    crowndb::KeyType::Set => crowndb::CollectionType::Set,
                    crowndb::KeyType::String => return Ok(None),
                };
                let Some(mut c) = crowndb::Collection::open(view, key, kind)? else { return Ok(None) };
                let mut all = c.all(view)?;
                all.sort();
                Ok(Some(format!("{kind:?} {all:?}").into_bytes()))
            })
            .unwrap()
        };
        let state = |db: &crowndb::Db| -> Vec<(Vec<u8>, Vec<u8>, u32, bool)> {
            let mut all: Vec<_> = db.iter().with_metadata().map(|item| {
                let (key, e) = item.unwrap();
                let value = members(db, &key).unwrap_or(e.value);
                (key, value, e.flags, e.expires_at_ms.is_some())
            }).collect();
            all.sort();
            all
        };
        prop_assert_eq!(state(&shared_a.db), state(&shared_b.db));
    }
}

#[test]
fn names_match_in_any_case() {
    let (_dir, shared, mut client) = harness();
    let mut ctx = Ctx::new(&shared, &mut client);
    for name in ["ping", "PING", "PiNg"] {
        assert_eq!(dispatch(&mut ctx, &[Bytes::from(name)]), Frame::simple("PONG"));
    }
    let long = Bytes::from(vec![b'x'; 100]);
    assert!(matches!(dispatch(&mut ctx, &[long]), Frame::Error(_)));
}
