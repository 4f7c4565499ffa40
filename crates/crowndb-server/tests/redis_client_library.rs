//! The server through a real client library: the `redis` crate, RESP2 and RESP3.

mod common;

use std::collections::HashSet;

use redis::{Commands, Value};

fn client(server: &crowndb_server::Server, query: &str) -> redis::Connection {
    let addr = server.redis_addr().unwrap();
    redis::Client::open(format!("redis://{addr}/{query}")).unwrap().get_connection().expect("connect")
}

#[test]
fn strings_keys_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path());
    let mut con = client(&server, "");
    let _: () = con.set("greeting", "hello").unwrap();
    assert_eq!(con.get::<_, String>("greeting").unwrap(), "hello");
    assert_eq!(con.get::<_, Option<String>>("missing").unwrap(), None);
    let binary: Vec<u8> = (0..=255).collect();
    let _: () = con.set(&b"bin\0key"[..], &binary).unwrap();
    assert_eq!(con.get::<_, Vec<u8>>(&b"bin\0key"[..]).unwrap(), binary);
    let big = vec![7u8; 4 << 20];
    let _: () = con.set("big", &big).unwrap();
    assert_eq!(con.get::<_, Vec<u8>>("big").unwrap(), big);
    assert_eq!(con.incr::<_, _, i64>("n", 5).unwrap(), 5);
    assert_eq!(con.decr::<_, _, i64>("n", 2).unwrap(), 3);
    assert_eq!(con.incr::<_, _, f64>("f", 1.5).unwrap(), 1.5);
    assert_eq!(con.append::<_, _, usize>("greeting", " world").unwrap(), 11);
    assert_eq!(con.strlen::<_, usize>("greeting").unwrap(), 11);
    let _: () = con.mset(&[("a", "1"), ("b", "2")]).unwrap();
    assert_eq!(con.mget::<_, Vec<Option<String>>>(&["a", "b", "c"]).unwrap(), vec![Some("1".into()), Some("2".into()), None]);
    assert!(!con.set_nx::<_, _, bool>("a", "x").unwrap());
    assert_eq!(con.getset::<_, _, String>("a", "9").unwrap(), "1");
    assert_eq!(con.exists::<_, usize>(&["a", "b", "nokey"]).unwrap(), 2);
    assert_eq!(con.del::<_, usize>(&["a", "nokey"]).unwrap(), 1);
    let _: () = con.set_ex("t", "v", 100).unwrap();
    assert_eq!(con.ttl::<_, i64>("t").unwrap(), 100);
    assert!(con.expire::<_, bool>("b", 50).unwrap());
    assert!(con.pttl::<_, i64>("b").unwrap() > 49_000);
    assert!(con.persist::<_, bool>("b").unwrap());
    let _: () = con.rename("b", "b2").unwrap();
    assert_eq!(con.key_type::<_, String>("b2").unwrap(), "string");
    let err = con.rename::<_, _, ()>("nokey", "x").unwrap_err();
    assert!(err.to_string().contains("no such key"), "{err}");
    // Hashes and sets through the library's typed calls.
    assert_eq!(con.hset::<_, _, _, i64>("h", "f", "v").unwrap(), 1);
    let fields: std::collections::HashMap<String, String> = con.hgetall("h").unwrap();
    assert_eq!(fields.get("f").map(String::as_str), Some("v"));
    assert_eq!(con.sadd::<_, _, i64>("s", &["a", "b"]).unwrap(), 2);
    let set: HashSet<String> = con.smembers("s").unwrap();
    assert_eq!(set.len(), 2);
    let err = con.get::<_, String>("h").unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    assert_eq!(con.del::<_, i64>(&["h", "s"]).unwrap(), 2);
    let info: redis::InfoDict = redis::cmd("INFO").query(&mut con).unwrap();
    assert_eq!(info.get::<String>("redis_version").as_deref(), Some("7.0.15"));
    let live: HashSet<Vec<u8>> = con.scan::<Vec<u8>>().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(live.len(), 7, "greeting bin big n f b2 t");
    // DBSIZE counts live keys: the 4 MiB value is stored as 1 MiB pieces, but it is one key.
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut con).unwrap(), 7);
    let _: () = redis::cmd("FLUSHDB").query(&mut con).unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut con).unwrap(), 0);
}

#[test]
fn pipeline_of_ten_thousand_and_scan_of_a_hundred_thousand() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path());
    let mut con = client(&server, "");
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.set(format!("p:{i}"), i).ignore();
    }
    for i in 0..10_000 {
        pipe.get(format!("p:{i}"));
    }
    let values: Vec<i64> = pipe.query(&mut con).unwrap();
    assert_eq!(values, (0..10_000).collect::<Vec<i64>>());

    for chunk in 0..10 {
        let mut pipe = redis::pipe();
        for i in chunk * 10_000..(chunk + 1) * 10_000 {
            pipe.cmd("SET").arg(format!("s:{i}")).arg("v").ignore();
        }
        let _: () = pipe.query(&mut con).unwrap();
    }
    let seen: HashSet<String> = con.scan_match::<_, String>("s:*").unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(seen.len(), 100_000);
    let mut con2 = client(&server, "");
    let all: HashSet<String> = con2.scan::<String>().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 110_000);
}

#[test]
fn atomic_pipelines_and_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path());
    let mut con = client(&server, "");
    let (a, b): (i64, String) = redis::pipe().atomic().set("k", "v").ignore().incr("n", 5).get("k").query(&mut con).unwrap();
    assert_eq!((a, b.as_str()), (5, "v"));
    // redis::transaction: WATCH, read, MULTI ... EXEC, retried on conflict.
    let total: i64 = redis::transaction(&mut con, &["n"], |con, pipe| {
        let n: i64 = con.get("n")?;
        pipe.set("n", n * 10).ignore().get("n").query(con)
    })
    .map(|(n,): (i64,)| n)
    .unwrap();
    assert_eq!(total, 50);
}

#[test]
fn auth_and_resp3() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |config| config.requirepass = Some("pw".into()));
    let addr = server.redis_addr().unwrap();
    let mut anonymous = redis::Client::open(format!("redis://{addr}/")).unwrap().get_connection().unwrap();
    let err = anonymous.get::<_, Option<String>>("k").unwrap_err();
    assert!(err.to_string().contains("NOAUTH") || err.to_string().contains("Authentication required"), "{err}");
    let wrong = redis::Client::open(format!("redis://:nope@{addr}/")).unwrap().get_connection();
    assert!(wrong.is_err());

    let mut con = redis::Client::open(format!("redis://:pw@{addr}/?protocol=resp3")).unwrap().get_connection().unwrap();
    let _: () = con.set("k", "v").unwrap();
    assert_eq!(con.get::<_, String>("k").unwrap(), "v");
    assert_eq!(redis::cmd("GET").arg("missing").query::<Value>(&mut con).unwrap(), Value::Nil);
    let config: Value = redis::cmd("CONFIG").arg("GET").arg("appendonly").query(&mut con).unwrap();
    assert!(matches!(config, Value::Map(_)), "{config:?}");
    let client_info: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    assert!(client_info.contains("resp=3"), "{client_info}");

    let mut resp2 = redis::Client::open(format!("redis://default:pw@{addr}/")).unwrap().get_connection().unwrap();
    assert_eq!(resp2.get::<_, String>("k").unwrap(), "v");
}
