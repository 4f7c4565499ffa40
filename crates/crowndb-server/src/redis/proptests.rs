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
        let mut ctx = Ctx { shared: &shared, client: &mut client, dirty: false, txn: None };
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

#[test]
fn names_match_in_any_case() {
    let (_dir, shared, mut client) = harness();
    let mut ctx = Ctx { shared: &shared, client: &mut client, dirty: false, txn: None };
    for name in ["ping", "PING", "PiNg"] {
        assert_eq!(dispatch(&mut ctx, &[Bytes::from(name)]), Frame::simple("PONG"));
    }
    let long = Bytes::from(vec![b'x'; 100]);
    assert!(matches!(dispatch(&mut ctx, &[long]), Frame::Error(_)));
}
