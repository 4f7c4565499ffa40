//! A real memcached client library (the `memcache` crate, text protocol) against the server:
//! what an application sees.

mod common;

use std::collections::HashMap;

#[test]
fn memcache_crate_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let limit = 1 << 20;
    let server = common::start(dir.path());
    let addr = server.memcached_addr().unwrap();
    let client = memcache::Client::connect(format!("memcache://{addr}?protocol=ascii")).unwrap();

    client.set("greeting", "hello", 0).unwrap();
    assert_eq!(client.get::<String>("greeting").unwrap().as_deref(), Some("hello"));
    assert_eq!(client.get::<String>("missing").unwrap(), None);

    // Binary values, and values at the size limit.
    let binary: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    client.set("binary", &binary[..], 0).unwrap();
    assert_eq!(client.get::<Vec<u8>>("binary").unwrap(), Some(binary));
    let at_limit = vec![b'z'; limit];
    client.set("big", &at_limit[..], 0).unwrap();
    assert_eq!(client.get::<Vec<u8>>("big").unwrap(), Some(at_limit));
    assert!(client.set("big", &vec![b'z'; limit + 1][..], 0).is_err(), "over the limit is an error");
    assert_eq!(client.get::<String>("greeting").unwrap().as_deref(), Some("hello"), "and the connection still works");

    // Multi-get.
    client.set("a", "1", 0).unwrap();
    client.set("b", "2", 0).unwrap();
    let found: HashMap<String, String> = client.gets(&["a", "b", "nope"]).unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found["a"], "1");

    // gets + cas.
    let (_, _, cas): (String, u32, Option<u64>) = client.get("greeting").unwrap().unwrap();
    let cas = cas.expect("a cas unique");
    assert!(client.cas("greeting", "hi", 0, cas).unwrap());
    assert!(!client.cas("greeting", "stale", 0, cas).unwrap());
    assert_eq!(client.get::<String>("greeting").unwrap().as_deref(), Some("hi"));

    // add, replace, append, prepend.
    client.add("fresh", "x", 0).unwrap();
    client.add("fresh", "not added", 0).unwrap(); // NOT_STORED: this client reports it as Ok
    assert_eq!(client.get::<String>("fresh").unwrap().as_deref(), Some("x"));
    client.replace("fresh", "y", 0).unwrap();
    client.append("fresh", ">").unwrap();
    client.prepend("fresh", "<").unwrap();
    assert_eq!(client.get::<String>("fresh").unwrap().as_deref(), Some("<y>"));

    // incr, decr, touch, delete.
    client.set("counter", 41u64, 0).unwrap();
    assert_eq!(client.increment("counter", 1).unwrap(), 42);
    assert_eq!(client.decrement("counter", 50).unwrap(), 0);
    assert!(client.touch("counter", 100).unwrap());
    assert!(!client.touch("nope", 100).unwrap());
    assert!(client.delete("counter").unwrap());
    assert!(!client.delete("counter").unwrap());

    // (Not `stats`: this client's text-protocol `stats` stops reading after the first line.)
    assert!(client.version().unwrap()[0].1.starts_with("1.6"));

    client.flush().unwrap();
    assert_eq!(client.get::<String>("a").unwrap(), None);
    drop(client);
    server.shutdown().unwrap();
}
