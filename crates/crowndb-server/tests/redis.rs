//! Long (over 600 lines) on purpose: one specification of the Redis listener's replies, read top
//! to bottom; each test is independent and shares only the helpers at the top.
//!
//! The Redis protocol over a plain socket: exact replies and errors of every command, inline
//! commands, pipelining, protocol errors closing the connection, limits, AUTH, RESP3, and the
//! same data through the memcached listener. A server on 127.0.0.1 (port 0) over a temporary
//! directory.

mod common;

use std::time::Duration;

use common::resp::{bulk, bulks, connect, encode, err, int, start, Resp, NIL, OK};
use common::Client;

#[test]
fn connection_commands() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
    assert_eq!(c.cmd("ping hello"), bulk("hello"));
    assert_eq!(c.cmd("PING a b"), err("ERR wrong number of arguments for 'ping' command"));
    assert_eq!(c.cmd("ECHO hi"), bulk("hi"));
    assert_eq!(c.cmd("ECHO"), err("ERR wrong number of arguments for 'echo' command"));
    assert_eq!(c.cmd("SELECT 0"), OK);
    assert_eq!(c.cmd("SELECT 1"), err("ERR DB index is out of range"));
    assert_eq!(c.cmd("SELECT x"), err("ERR value is not an integer or out of range"));
    assert_eq!(
        c.cmd("AUTH pw"),
        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    );
    // CLIENT
    let id = c.cmd("CLIENT ID");
    assert!(id.starts_with(':'), "{id}");
    assert_eq!(c.cmd("CLIENT GETNAME"), NIL);
    assert_eq!(c.cmd("CLIENT SETNAME worker-1"), OK);
    assert_eq!(c.cmd("CLIENT GETNAME"), bulk("worker-1"));
    assert_eq!(c.call(&["CLIENT", "SETNAME", "a b"]), err("ERR Client names cannot contain spaces, newlines or special characters."));
    assert_eq!(c.cmd("CLIENT SETINFO lib-name redis-py"), OK);
    assert_eq!(c.cmd("CLIENT SETINFO lib-ver 5.0"), OK);
    assert_eq!(c.cmd("CLIENT SETINFO color red"), err("ERR Unrecognized option 'color'"));
    let list = c.cmd("CLIENT LIST");
    assert!(list.contains("name=worker-1") && list.contains("lib-name=redis-py") && list.contains("resp=2"), "{list}");
    let info = c.cmd("CLIENT INFO");
    assert!(info.contains(&format!("id={}", id.trim_start_matches(':').trim())), "{info}");
    assert_eq!(c.cmd("CLIENT NOSUCH"), err("ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP."));
    assert_eq!(c.cmd("CLIENT"), err("ERR wrong number of arguments for 'client' command"));
    assert_eq!(c.cmd("CLIENT SETNAME"), err("ERR wrong number of arguments for 'client|setname' command"));
    // RESET, QUIT
    assert_eq!(c.cmd("HELLO 3").chars().next(), Some('%'));
    assert_eq!(c.cmd("RESET"), "+RESET\r\n");
    assert_eq!(c.cmd("CLIENT GETNAME"), NIL);
    assert_eq!(c.cmd("GET missing"), NIL, "back to RESP2");
    assert_eq!(c.cmd("QUIT"), OK);
    assert!(c.is_closed());
}

#[test]
fn unknown_commands_and_arity_get_redis_errors() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("FOO"), err("ERR unknown command 'FOO', with args beginning with: "));
    assert_eq!(c.cmd("lpush l a b"), err("ERR unknown command 'lpush', with args beginning with: 'l' 'a' 'b' "));
    assert_eq!(c.cmd("EVAL x 0"), err("ERR unknown command 'EVAL', with args beginning with: 'x' '0' "));
    for (request, name) in [
        ("GET", "get"),
        ("GET a b", "get"),
        ("SET a", "set"),
        ("MSET a", "mset"),
        ("MSET a 1 b", "mset"),
        ("MSETNX a 1 b", "msetnx"),
        ("DEL", "del"),
        ("EXPIRE k", "expire"),
        ("INCRBY k", "incrby"),
        ("SETEX k 1", "setex"),
        ("GETRANGE k 0", "getrange"),
        ("DBSIZE x", "dbsize"),
        ("CONFIG GET", "config|get"),
        ("CONFIG SET a", "config|set"),
    ] {
        assert_eq!(c.cmd(request), err(&format!("ERR wrong number of arguments for '{name}' command")), "{request}");
    }
    // The connection stays usable after every one of them.
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
}

#[test]
fn strings() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("GET k"), NIL);
    assert_eq!(c.cmd("SET k v1"), OK);
    assert_eq!(c.cmd("GET k"), bulk("v1"));
    assert_eq!(c.cmd("SET k v2 NX"), NIL);
    assert_eq!(c.cmd("SET k2 v XX"), NIL);
    assert_eq!(c.cmd("SET k v2 XX GET"), bulk("v1"));
    assert_eq!(c.cmd("SET k3 v NX GET"), NIL);
    assert_eq!(c.cmd("GET k3"), bulk("v"));
    assert_eq!(c.cmd("SET k v NX XX"), err("ERR syntax error"));
    assert_eq!(c.cmd("SET k v EX 10 PX 10"), err("ERR syntax error"));
    assert_eq!(c.cmd("SET k v EX 10 KEEPTTL"), err("ERR syntax error"));
    assert_eq!(c.cmd("SET k v EX"), err("ERR syntax error"));
    assert_eq!(c.cmd("SET k v BOGUS"), err("ERR syntax error"));
    assert_eq!(c.cmd("SET k v EX 0"), err("ERR invalid expire time in 'set' command"));
    assert_eq!(c.cmd("SET k v PX -5"), err("ERR invalid expire time in 'set' command"));
    assert_eq!(c.cmd("SET k v EX 9223372036854775807"), err("ERR invalid expire time in 'set' command"));
    assert_eq!(c.cmd("SET k v EX ten"), err("ERR value is not an integer or out of range"));
    assert_eq!(c.cmd("SET t v EX 100"), OK);
    assert_eq!(c.cmd("SET t w KEEPTTL"), OK);
    let ttl = c.cmd("TTL t");
    assert!(ttl == int(100) || ttl == int(99), "{ttl}");
    assert_eq!(c.cmd("SET t w"), OK);
    assert_eq!(c.cmd("TTL t"), int(-1));
    assert_eq!(c.cmd("SETNX n 1"), int(1));
    assert_eq!(c.cmd("SETNX n 2"), int(0));
    assert_eq!(c.cmd("SETEX s 100 v"), OK);
    assert_eq!(c.cmd("SETEX s 0 v"), err("ERR invalid expire time in 'setex' command"));
    assert_eq!(c.cmd("PSETEX s 100000 v"), OK);
    assert_eq!(c.cmd("PSETEX s -1 v"), err("ERR invalid expire time in 'psetex' command"));
    assert_eq!(c.cmd("GETSET n 5"), bulk("1"));
    assert_eq!(c.cmd("GETSET created 5"), NIL);
    assert_eq!(c.cmd("GETDEL none"), NIL);
    assert_eq!(c.cmd("GETDEL n"), bulk("5"));
    assert_eq!(c.cmd("EXISTS n"), int(0));
    assert_eq!(c.cmd("SET g v"), OK);
    assert_eq!(c.cmd("GETEX g"), bulk("v"));
    assert_eq!(c.cmd("GETEX g EX 100"), bulk("v"));
    assert_eq!(c.cmd("TTL g"), int(100));
    assert_eq!(c.cmd("GETEX g PERSIST"), bulk("v"));
    assert_eq!(c.cmd("TTL g"), int(-1));
    assert_eq!(c.cmd("GETEX g EX 1 PX 1"), err("ERR syntax error"));
    assert_eq!(c.cmd("GETEX g EX 0"), err("ERR invalid expire time in 'getex' command"));
    assert_eq!(c.cmd("GETEX g PXAT 1"), bulk("v"));
    assert_eq!(c.cmd("GET g"), NIL, "a deadline in the past deletes");
    assert_eq!(c.cmd("MSET a 1 b 2"), OK);
    assert_eq!(c.cmd("MGET a nokey b"), format!("*3\r\n{}{NIL}{}", bulk("1"), bulk("2")));
    assert_eq!(c.cmd("MSETNX a 1 c 3"), int(0));
    assert_eq!(c.cmd("EXISTS c"), int(0));
    assert_eq!(c.cmd("MSETNX c 3 d 4"), int(1));
    assert_eq!(c.cmd("MGET c d"), bulks(&["3", "4"]));
    assert_eq!(c.cmd("APPEND ap Hello"), int(5));
    assert_eq!(c.cmd("APPEND ap _World"), int(11));
    assert_eq!(c.cmd("STRLEN ap"), int(11));
    assert_eq!(c.cmd("STRLEN none"), int(0));
    assert_eq!(c.cmd("GETRANGE ap 0 4"), bulk("Hello"));
    assert_eq!(c.cmd("GETRANGE ap -5 -1"), bulk("World"));
    assert_eq!(c.cmd("GETRANGE ap 0 -1"), bulk("Hello_World"));
    assert_eq!(c.cmd("GETRANGE ap 5 3"), bulk(""));
    assert_eq!(c.cmd("GETRANGE ap -1 -5"), bulk(""));
    assert_eq!(c.cmd("GETRANGE ap 6 100"), bulk("World"));
    assert_eq!(c.cmd("GETRANGE none 0 -1"), bulk(""));
    assert_eq!(c.cmd("GETRANGE ap x 1"), err("ERR value is not an integer or out of range"));
    assert_eq!(c.cmd("SETRANGE ap 6 Redis"), int(11));
    assert_eq!(c.cmd("GET ap"), bulk("Hello_Redis"));
    assert_eq!(c.cmd("SETRANGE pad 3 x"), int(4));
    assert_eq!(c.call(&["GET", "pad"]), "$4\r\n\0\0\0x\r\n");
    assert_eq!(c.call(&["SETRANGE", "empty", "5", ""]), int(0));
    assert_eq!(c.cmd("EXISTS empty"), int(0));
    assert_eq!(c.cmd("SETRANGE ap -1 x"), err("ERR offset is out of range"));
    assert_eq!(c.cmd("SETRANGE ap 536870911 xx"), err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
}

#[test]
fn counters() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("INCR n"), int(1));
    assert_eq!(c.cmd("INCRBY n 10"), int(11));
    assert_eq!(c.cmd("DECR n"), int(10));
    assert_eq!(c.cmd("DECRBY n 20"), int(-10));
    assert_eq!(c.cmd("GET n"), bulk("-10"));
    assert_eq!(c.cmd("SET s abc"), OK);
    assert_eq!(c.cmd("INCR s"), err("ERR value is not an integer or out of range"));
    assert_eq!(c.cmd("SET s 012"), OK);
    assert_eq!(c.cmd("INCR s"), err("ERR value is not an integer or out of range"));
    assert_eq!(c.cmd("INCRBY n x"), err("ERR value is not an integer or out of range"));
    assert_eq!(c.cmd("SET big 9223372036854775807"), OK);
    assert_eq!(c.cmd("INCR big"), err("ERR increment or decrement would overflow"));
    assert_eq!(c.cmd("DECRBY n -9223372036854775808"), err("ERR decrement would overflow"));
    assert_eq!(c.cmd("SET t 5 EX 100"), OK);
    assert_eq!(c.cmd("INCR t"), int(6));
    assert_eq!(c.cmd("TTL t"), int(100), "INCR keeps the TTL");
    assert_eq!(c.cmd("INCRBYFLOAT f 10.5"), bulk("10.5"));
    assert_eq!(c.cmd("INCRBYFLOAT f 0.1"), bulk("10.6"));
    assert_eq!(c.cmd("INCRBYFLOAT f -5"), bulk("5.6"));
    assert_eq!(c.cmd("SET f 5.0e3"), OK);
    assert_eq!(c.cmd("INCRBYFLOAT f 2.0e2"), bulk("5200"));
    assert_eq!(c.cmd("SET s abc"), OK);
    assert_eq!(c.cmd("INCRBYFLOAT s 1"), err("ERR value is not a valid float"));
    assert_eq!(c.cmd("INCRBYFLOAT f abc"), err("ERR value is not a valid float"));
    assert_eq!(c.cmd("INCRBYFLOAT f inf"), err("ERR increment would produce NaN or Infinity"));
}

#[test]
fn concurrent_increments_lose_nothing() {
    let (_dir, server) = start();
    let addr = server.redis_addr().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Resp::connect(addr);
                let mut pipeline = Vec::new();
                for _ in 0..500 {
                    pipeline.extend(encode(&["INCR", "counter"]));
                }
                c.send(&pipeline);
                for _ in 0..500 {
                    assert!(c.reply().starts_with(':'));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(connect(&server).cmd("GET counter"), bulk("2000"));
}

#[test]
fn transactions() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let mut other = connect(&server);
    assert_eq!(c.cmd("EXEC"), err("ERR EXEC without MULTI"));
    assert_eq!(c.cmd("DISCARD"), err("ERR DISCARD without MULTI"));
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("MULTI"), err("ERR MULTI calls can not be nested"));
    assert_eq!(c.cmd("SET a 1"), "+QUEUED\r\n");
    assert_eq!(c.cmd("INCR a"), "+QUEUED\r\n");
    assert_eq!(c.cmd("GET a"), "+QUEUED\r\n");
    assert_eq!(other.cmd("GET a"), NIL, "nothing runs before EXEC");
    assert_eq!(c.cmd("EXEC"), format!("*3\r\n{OK}{}{}", int(2), bulk("2")));
    // A command refused while queuing aborts the transaction.
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("SET a 5"), "+QUEUED\r\n");
    assert_eq!(c.cmd("NOSUCH"), err("ERR unknown command 'NOSUCH', with args beginning with: "));
    assert_eq!(c.cmd("EXEC"), err("EXECABORT Transaction discarded because of previous errors."));
    assert_eq!(c.cmd("GET a"), bulk("2"));
    // A command failing inside EXEC does not undo the others.
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("SET s abc"), "+QUEUED\r\n");
    assert_eq!(c.cmd("INCR s"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), format!("*2\r\n{OK}{}", err("ERR value is not an integer or out of range")));
    // DISCARD.
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("SET a 9"), "+QUEUED\r\n");
    assert_eq!(c.cmd("DISCARD"), OK);
    assert_eq!(c.cmd("GET a"), bulk("2"));
    // WATCH: a key changed by another client makes EXEC do nothing.
    assert_eq!(c.cmd("WATCH a missing"), OK);
    assert_eq!(other.cmd("SET a other"), OK);
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("WATCH a"), err("ERR WATCH inside MULTI is not allowed"));
    assert_eq!(c.cmd("SET a mine"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), "*-1\r\n");
    assert_eq!(c.cmd("GET a"), bulk("other"));
    // Unchanged watched keys (including one still missing): EXEC runs.
    assert_eq!(c.cmd("WATCH a missing"), OK);
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("SET a mine"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), format!("*1\r\n{OK}"));
    assert_eq!(c.cmd("GET a"), bulk("mine"));
    // A watched key created meanwhile counts as changed; UNWATCH forgets.
    assert_eq!(c.cmd("WATCH missing"), OK);
    assert_eq!(other.cmd("SET missing now"), OK);
    assert_eq!(c.cmd("UNWATCH"), OK);
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("GET missing"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), format!("*1\r\n{}", bulk("now")));
    // RESET leaves a transaction.
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("RESET"), "+RESET\r\n");
    assert_eq!(c.cmd("EXEC"), err("ERR EXEC without MULTI"));
}

#[test]
fn watched_transactions_never_lose_an_update() {
    let (_dir, server) = start();
    let addr = server.redis_addr().unwrap();
    connect(&server).cmd("SET n 0");
    // Each client adds 1, 100 times, with WATCH / GET / MULTI / SET / EXEC, retrying on conflict.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Resp::connect(addr);
                for _ in 0..100 {
                    loop {
                        assert_eq!(c.cmd("WATCH n"), OK);
                        let value: i64 = c.cmd("GET n").split("\r\n").nth(1).unwrap().parse().unwrap();
                        assert_eq!(c.cmd("MULTI"), OK);
                        assert_eq!(c.call(&["SET", "n", &(value + 1).to_string()]), "+QUEUED\r\n");
                        if c.cmd("EXEC") != "*-1\r\n" {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(connect(&server).cmd("GET n"), bulk("400"));
}

#[test]
fn keyspace() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("MSET a 1 b 2 c 3"), OK);
    assert_eq!(c.cmd("EXISTS a b nokey a"), int(3));
    assert_eq!(c.cmd("TOUCH a nokey"), int(1));
    assert_eq!(c.cmd("TYPE a"), "+string\r\n");
    assert_eq!(c.cmd("TYPE nokey"), "+none\r\n");
    assert_eq!(c.cmd("DBSIZE"), int(3));
    assert_eq!(c.cmd("DEL a nokey"), int(1));
    assert_eq!(c.cmd("UNLINK b"), int(1));
    assert_eq!(c.cmd("RENAME nokey x"), err("ERR no such key"));
    assert_eq!(c.cmd("SET src v EX 100"), OK);
    assert_eq!(c.cmd("RENAME src dst"), OK);
    assert_eq!(c.cmd("GET src"), NIL);
    assert_eq!(c.cmd("GET dst"), bulk("v"));
    assert_eq!(c.cmd("TTL dst"), int(100), "RENAME keeps the TTL");
    assert_eq!(c.cmd("RENAME dst dst"), OK);
    assert_eq!(c.cmd("RENAMENX dst c"), int(0));
    assert_eq!(c.cmd("RENAMENX dst e"), int(1));
    assert_eq!(c.cmd("RENAMENX nokey e"), err("ERR no such key"));
    assert_eq!(c.cmd("COPY e f"), int(1));
    assert_eq!(c.cmd("COPY e f"), int(0));
    assert_eq!(c.cmd("COPY c f REPLACE"), int(1));
    assert_eq!(c.cmd("GET f"), bulk("3"));
    assert_eq!(c.cmd("COPY nokey g"), int(0));
    assert_eq!(c.cmd("COPY c g DB 1"), err("ERR DB index is out of range"));
    assert_eq!(c.cmd("COPY c g BOGUS"), err("ERR syntax error"));
    assert_eq!(c.cmd("COPY c c"), err("ERR source and destination objects are the same"));
    let random = c.cmd("RANDOMKEY");
    assert!(["c", "e", "f"].iter().any(|k| random == bulk(k)), "{random}");
    let mut keys = c.cmd("KEYS *");
    assert!(keys.starts_with("*3\r\n"), "{keys}");
    keys = c.cmd("KEYS [ef]");
    assert!(keys.starts_with("*2\r\n") && keys.contains(&bulk("e")) && keys.contains(&bulk("f")), "{keys}");
    assert_eq!(c.cmd("KEYS nomatch*"), "*0\r\n");
    assert_eq!(c.cmd("FLUSHDB BOGUS"), err("ERR syntax error"));
    assert_eq!(c.cmd("FLUSHDB"), OK);
    assert_eq!(c.cmd("DBSIZE"), int(0));
    assert_eq!(c.cmd("RANDOMKEY"), NIL);
    assert_eq!(c.cmd("SET a 1"), OK);
    assert_eq!(c.cmd("FLUSHALL ASYNC"), OK);
    assert_eq!(c.cmd("FLUSHALL SYNC"), OK);
    assert_eq!(c.cmd("EXISTS a"), int(0));
}

#[test]
fn scan_returns_every_key() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let mut pipeline = Vec::new();
    for i in 0..3000 {
        pipeline.extend(encode(&["SET", &format!("key:{i}"), "v"]));
    }
    pipeline.extend(encode(&["SET", "other", "v"]));
    c.send(&pipeline);
    for _ in 0..3001 {
        assert_eq!(c.reply(), OK);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        c.send_command(&["SCAN", &cursor, "MATCH", "key:*", "COUNT", "100"]);
        let reply = c.reply();
        let parts: Vec<&str> = reply.split("\r\n").collect();
        // *2, $n, cursor, *k, then $len, key pairs.
        cursor = parts[2].to_string();
        for key in parts[4..].iter().skip(1).step_by(2) {
            if !key.is_empty() {
                assert!(key.starts_with("key:"), "{key}");
                seen.insert(key.to_string());
            }
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 3000);
    assert_eq!(c.cmd("SCAN 0 TYPE hash COUNT 10000"), "*2\r\n$1\r\n0\r\n*0\r\n");
    let all = c.cmd("SCAN 0 TYPE string COUNT 100000");
    assert!(all.starts_with("*2\r\n$1\r\n0\r\n*3001\r\n"), "{}", &all[..40]);
    assert_eq!(c.cmd("SCAN x"), err("ERR invalid cursor"));
    assert_eq!(c.cmd("SCAN 0 COUNT 0"), err("ERR syntax error"));
    assert_eq!(c.cmd("SCAN 0 COUNT x"), err("ERR value is not an integer or out of range"));
    assert_eq!(c.cmd("SCAN 0 MATCH"), err("ERR syntax error"));
    assert_eq!(c.cmd("SCAN 0 FOO bar"), err("ERR syntax error"));
}

#[test]
fn expiry() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("EXPIRE nokey 10"), int(0));
    assert_eq!(c.cmd("TTL nokey"), int(-2));
    assert_eq!(c.cmd("PTTL nokey"), int(-2));
    assert_eq!(c.cmd("EXPIRETIME nokey"), int(-2));
    assert_eq!(c.cmd("SET k v"), OK);
    assert_eq!(c.cmd("TTL k"), int(-1));
    assert_eq!(c.cmd("EXPIRETIME k"), int(-1));
    assert_eq!(c.cmd("PERSIST k"), int(0));
    assert_eq!(c.cmd("EXPIRE k 100 XX"), int(0));
    assert_eq!(c.cmd("EXPIRE k 100 GT"), int(0), "no TTL counts as infinite");
    assert_eq!(c.cmd("EXPIRE k 100 NX"), int(1));
    assert_eq!(c.cmd("EXPIRE k 200 NX"), int(0));
    assert_eq!(c.cmd("EXPIRE k 50 GT"), int(0));
    assert_eq!(c.cmd("EXPIRE k 200 GT"), int(1));
    assert_eq!(c.cmd("TTL k"), int(200));
    assert_eq!(c.cmd("EXPIRE k 300 LT"), int(0));
    assert_eq!(c.cmd("EXPIRE k 150 lt"), int(1));
    assert_eq!(c.cmd("EXPIRE k 100 XX"), int(1));
    let pttl: i64 = c.cmd("PTTL k").trim_start_matches(':').trim().parse().unwrap();
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(c.cmd("EXPIRE k 10 NX XX"), err("ERR NX and XX, GT or LT options at the same time are not compatible"));
    assert_eq!(c.cmd("EXPIRE k 10 GT LT"), err("ERR GT and LT options at the same time are not compatible"));
    assert_eq!(c.cmd("EXPIRE k 10 FOO"), err("ERR Unsupported option FOO"));
    assert_eq!(c.cmd("EXPIRE k ten"), err("ERR value is not an integer or out of range"));
    assert_eq!(c.cmd("EXPIRE k 9223372036854775807"), err("ERR invalid expire time in 'expire' command"));
    assert_eq!(c.cmd("PEXPIRE k 9223372036854775807"), err("ERR invalid expire time in 'pexpire' command"));
    assert_eq!(c.cmd("EXPIREAT k 4102444800"), int(1));
    assert_eq!(c.cmd("EXPIRETIME k"), int(4_102_444_800));
    assert_eq!(c.cmd("PEXPIRETIME k"), int(4_102_444_800_000));
    assert_eq!(c.cmd("PEXPIREAT k 4102444800123"), int(1));
    assert_eq!(c.cmd("PEXPIRETIME k"), int(4_102_444_800_123));
    assert_eq!(c.cmd("PERSIST k"), int(1));
    assert_eq!(c.cmd("TTL k"), int(-1));
    assert_eq!(c.cmd("EXPIRE k -1"), int(1), "a deadline in the past deletes");
    assert_eq!(c.cmd("EXISTS k"), int(0));
    assert_eq!(c.cmd("SET p v PX 100"), OK);
    assert_eq!(c.cmd("SET q v"), OK);
    assert_eq!(c.cmd("PEXPIRE q 100"), int(1));
    assert_eq!(c.cmd("SET r v EXAT 4102444800"), OK);
    assert_eq!(c.cmd("EXPIRETIME r"), int(4_102_444_800));
    assert_eq!(c.cmd("SET r v PXAT 4102444800500"), OK);
    assert_eq!(c.cmd("PEXPIRETIME r"), int(4_102_444_800_500));
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(c.cmd("GET p"), NIL);
    assert_eq!(c.cmd("GET q"), NIL);
    assert_eq!(c.cmd("EXISTS p q"), int(0));
}

#[test]
fn binary_keys_and_values() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let key: &[u8] = b"k\0\r\n\xff key";
    let value: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    assert_eq!(c.call(&[&b"SET"[..], key, &value]), OK);
    c.send_command(&[&b"GET"[..], key]);
    let mut expected = format!("${}\r\n", value.len()).into_bytes();
    expected.extend_from_slice(&value);
    expected.extend_from_slice(b"\r\n");
    assert_eq!(c.reply().into_bytes(), String::from_utf8_lossy(&expected).into_owned().into_bytes());
    assert_eq!(c.call(&[&b"STRLEN"[..], key]), int(1 << 20));
    assert_eq!(c.call(&[&b"EXISTS"[..], key]), int(1));
    let long_key = vec![b'k'; 65_536];
    assert_eq!(c.call(&[&b"SET"[..], &long_key, b"v"]), err("ERR key of 65536 bytes is too long: CrownDB keys are at most 65535 bytes"));
    assert_eq!(c.call(&[&b"GET"[..], &long_key]), NIL);
    let max_key = vec![b'k'; 65_535];
    assert_eq!(c.call(&[&b"SET"[..], &max_key, b"v"]), OK);
    assert_eq!(c.call(&[&b"GET"[..], &max_key]), bulk("v"));
}

#[test]
fn inline_commands() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    c.send(b"PING\r\n");
    assert_eq!(c.reply(), "+PONG\r\n");
    c.send(b"SET 'single' 'it\\'s'\n");
    assert_eq!(c.reply(), OK);
    c.send(b"GET single\n");
    assert_eq!(c.reply(), bulk("it's"));
    c.send(b"SET \"a key\" \"x\\x41\\n\"\r\n");
    assert_eq!(c.reply(), OK);
    c.send(b"GET \"a key\"\r\n\r\n   \r\nEXISTS    \"a key\"\n");
    assert_eq!(c.reply(), "$3\r\nxA\n\r\n");
    assert_eq!(c.reply(), int(1));
    c.send(b"GET \"unclosed\r\n");
    assert_eq!(c.reply(), err("ERR Protocol error: unbalanced quotes in request"));
    assert!(c.is_closed());
}

#[test]
fn pipelines_of_ten_thousand() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let mut pipeline = Vec::new();
    for i in 0..10_000 {
        pipeline.extend(encode(&["SET", &format!("k{i}"), &format!("v{i}")]));
        pipeline.extend(encode(&["GET", &format!("k{i}")]));
    }
    c.send(&pipeline);
    for i in 0..10_000 {
        assert_eq!(c.reply(), OK);
        assert_eq!(c.reply(), bulk(&format!("v{i}")));
    }
    assert_eq!(c.cmd("DBSIZE"), int(10_000));
}

#[test]
fn protocol_errors_close_the_connection() {
    let (_dir, server) = start();
    let addr = server.redis_addr().unwrap();
    let cases: [(&[u8], &str); 6] = [
        (b"*1\r\n$x\r\n", "ERR Protocol error: invalid bulk length"),
        (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
        (b"*1\r\nfoo\r\n", "ERR Protocol error: expected '$', got 'f'"),
        (b"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"),
        (b"*1\r\n$536870913\r\n", "ERR Protocol error: invalid bulk length"),
        (b"*3000000000\r\n", "ERR Protocol error: invalid multibulk length"),
    ];
    for (input, expected) in cases {
        let mut c = Resp::connect(addr);
        // A good request before the bad one is answered first.
        let mut bytes = encode(&["PING"]);
        bytes.extend_from_slice(input);
        bytes.extend_from_slice(&encode(&["PING"]));
        c.send(&bytes);
        assert_eq!(c.reply(), "+PONG\r\n");
        assert_eq!(c.reply(), err(expected), "{:?}", String::from_utf8_lossy(input));
        assert!(c.is_closed(), "{:?}", String::from_utf8_lossy(input));
    }
    // An inline line without end past 64 KiB.
    let mut c = Resp::connect(addr);
    c.send(&vec![b'a'; 70 * 1024]);
    assert_eq!(c.reply(), err("ERR Protocol error: too big inline request"));
    assert!(c.is_closed());
    // The server is still fine.
    assert_eq!(Resp::connect(addr).cmd("PING"), "+PONG\r\n");
}

#[test]
fn a_huge_declared_bulk_is_not_allocated() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let rss = |c: &mut Resp| -> u64 {
        let info = c.cmd("INFO memory");
        info.lines().find_map(|l| l.strip_prefix("used_memory_rss:")).unwrap().trim().parse().unwrap()
    };
    let before = rss(&mut c);
    // 500 MiB announced, 5 bytes sent: the server waits for the rest without reserving it.
    let mut hogs = Vec::new();
    for _ in 0..4 {
        let mut hog = connect(&server);
        hog.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$524288000\r\nhello");
        hogs.push(hog);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
    let after = rss(&mut c);
    assert!(after < before + (100 << 20), "RSS grew from {before} to {after}");
    // Lowering proto-max-bulk-len refuses such a length outright.
    assert_eq!(c.cmd("CONFIG SET proto-max-bulk-len 1mb"), OK);
    let mut small = connect(&server);
    small.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n");
    assert_eq!(small.reply(), err("ERR Protocol error: invalid bulk length"));
    assert!(small.is_closed());
    assert_eq!(c.cmd("CONFIG GET proto-max-bulk-len"), bulks(&["proto-max-bulk-len", "1048576"]));
}

#[test]
fn requirepass_and_auth() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |config| config.requirepass = Some("s3cret".into()));
    let mut c = connect(&server);
    assert_eq!(c.cmd("GET k"), err("NOAUTH Authentication required."));
    assert_eq!(c.cmd("PING"), err("NOAUTH Authentication required."));
    assert_eq!(c.cmd("NOSUCH"), err("ERR unknown command 'NOSUCH', with args beginning with: "));
    assert_eq!(c.cmd("AUTH wrong"), err("WRONGPASS invalid username-password pair or user is disabled."));
    assert_eq!(c.cmd("AUTH other s3cret"), err("WRONGPASS invalid username-password pair or user is disabled."));
    assert_eq!(
        c.cmd("HELLO 3"),
        err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
    );
    assert_eq!(c.cmd("AUTH s3cret"), OK);
    assert_eq!(c.cmd("SET k v"), OK);
    assert_eq!(c.cmd("RESET"), "+RESET\r\n");
    assert_eq!(c.cmd("GET k"), err("NOAUTH Authentication required."));
    assert_eq!(c.cmd("AUTH default s3cret"), OK);
    assert_eq!(c.cmd("GET k"), bulk("v"));
    // HELLO with AUTH and SETNAME in one step.
    let mut h = connect(&server);
    let hello = h.cmd("HELLO 3 AUTH default s3cret SETNAME app");
    assert!(hello.starts_with("%7\r\n") && hello.contains("proto\r\n:3\r\n"), "{hello}");
    assert_eq!(h.cmd("CLIENT GETNAME"), bulk("app"));
    assert_eq!(h.cmd("GET nokey"), "_\r\n");
    // Unauthenticated clients get Redis's small request limits.
    let mut u = connect(&server);
    let many: Vec<String> = (0..11).map(|i| i.to_string()).collect();
    u.send_command(&many);
    assert_eq!(u.reply(), err("ERR Protocol error: unauthenticated multibulk length"));
    assert!(u.is_closed());
    let mut u = connect(&server);
    u.send(b"*2\r\n$4\r\nAUTH\r\n$20000\r\n");
    assert_eq!(u.reply(), err("ERR Protocol error: unauthenticated bulk length"));
    assert!(u.is_closed());
    // The password can change live.
    assert_eq!(c.cmd("CONFIG SET requirepass other"), OK);
    let mut n = connect(&server);
    assert_eq!(n.cmd("AUTH s3cret"), err("WRONGPASS invalid username-password pair or user is disabled."));
    assert_eq!(n.cmd("AUTH other"), OK);
}

#[test]
fn resp3_after_hello_3() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let hello = c.cmd("HELLO");
    assert!(hello.starts_with("*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:2\r\n"), "{hello}");
    assert_eq!(c.cmd("HELLO 4"), err("NOPROTO unsupported protocol version"));
    assert_eq!(c.cmd("HELLO x"), err("ERR Protocol version is not an integer or out of range"));
    assert_eq!(c.cmd("HELLO 3 FOO"), err("ERR Syntax error in HELLO option 'FOO'"));
    let hello = c.cmd("HELLO 3");
    assert!(hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"), "{hello}");
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:"), "{hello}");
    assert!(hello.ends_with("$7\r\nmodules\r\n*0\r\n"), "{hello}");
    assert_eq!(c.cmd("GET nokey"), "_\r\n");
    assert_eq!(c.cmd("MGET nokey"), "*1\r\n_\r\n");
    assert_eq!(c.cmd("SET k v"), OK);
    assert_eq!(c.cmd("INCRBYFLOAT f 1.5"), bulk("1.5"));
    assert_eq!(c.cmd("CONFIG GET maxmemory"), "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    assert!(c.cmd("INFO server").starts_with("="), "INFO is a verbatim string");
    assert!(c.cmd("CLIENT INFO").contains("resp=3"));
    assert_eq!(c.cmd("HELLO 2").chars().next(), Some('*'));
    assert_eq!(c.cmd("GET nokey"), NIL);
}

#[test]
fn server_commands() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("SET k v"), OK);
    assert_eq!(c.cmd("GET k"), bulk("v"));
    assert_eq!(c.cmd("GET nokey"), NIL);
    let info = c.cmd("INFO");
    for field in [
        "# Server\r\nredis_version:7.0.15\r\n",
        "redis_mode:standalone",
        "tcp_port:",
        "uptime_in_seconds:",
        "# Clients\r\nconnected_clients:1\r\n",
        "# Memory\r\nused_memory:",
        "maxmemory_policy:noeviction",
        "# Persistence\r\nloading:0\r\n",
        "aof_enabled:1",
        "# Stats\r\ntotal_connections_received:1\r\n",
        "keyspace_hits:1\r\nkeyspace_misses:1\r\n",
        "# Replication\r\nrole:master\r\n",
        "# CPU\r\n",
        "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
    ] {
        assert!(info.contains(field), "{field} in {info}");
    }
    let stats = c.cmd("INFO stats");
    assert!(stats.contains("# Stats") && !stats.contains("# Server"), "{stats}");
    let two = c.cmd("INFO server keyspace");
    assert!(two.contains("# Server") && two.contains("# Keyspace") && !two.contains("# Memory"), "{two}");
    assert_eq!(c.cmd("DBSIZE"), int(1));
    let time = c.cmd("TIME");
    assert!(time.starts_with("*2\r\n$10\r\n"), "{time}");
    let before: i64 = c.cmd("LASTSAVE").trim_start_matches(':').trim().parse().unwrap();
    assert_eq!(c.cmd("SAVE"), OK);
    assert_eq!(c.cmd("BGSAVE"), "+Background saving started\r\n");
    assert_eq!(c.cmd("BGSAVE SCHEDULE"), "+Background saving started\r\n");
    let after: i64 = c.cmd("LASTSAVE").trim_start_matches(':').trim().parse().unwrap();
    assert!(after >= before);
    assert!(c.cmd("INFO persistence").contains("rdb_changes_since_last_save:0\r\n"));
    // CONFIG
    assert_eq!(c.cmd("CONFIG GET save"), bulks(&["save", ""]));
    assert_eq!(c.cmd("CONFIG GET appendonly"), bulks(&["appendonly", "yes"]));
    assert_eq!(c.cmd("CONFIG GET databases"), bulks(&["databases", "1"]));
    assert_eq!(c.cmd("CONFIG GET nosuch"), "*0\r\n");
    let multi = c.cmd("CONFIG GET maxmemory* timeout");
    assert!(multi.starts_with("*6\r\n"), "{multi}");
    assert_eq!(c.cmd("CONFIG SET timeout 30"), OK);
    assert_eq!(c.cmd("CONFIG GET timeout"), bulks(&["timeout", "30"]));
    assert_eq!(c.cmd("CONFIG SET timeout 0 save 900_1"), OK);
    assert_eq!(c.cmd("CONFIG SET nosuch 1"), err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"));
    assert_eq!(
        c.cmd("CONFIG SET maxmemory-policy allkeys-lru"),
        err("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - CrownDB never evicts: only noeviction is accepted")
    );
    assert_eq!(c.cmd("CONFIG SET maxmemory-policy noeviction"), OK);
    assert_eq!(c.cmd("CONFIG RESETSTAT"), OK);
    assert!(c.cmd("INFO stats").contains("keyspace_hits:0\r\n"));
    assert_eq!(c.cmd("CONFIG FOO"), err("ERR unknown subcommand 'FOO'. Try CONFIG HELP."));
    // COMMAND
    let count: i64 = c.cmd("COMMAND COUNT").trim_start_matches(':').trim().parse().unwrap();
    assert!(count >= 59, "{count}");
    let info = c.cmd("COMMAND INFO get nosuch");
    assert!(info.starts_with("*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"), "{info}");
    assert!(info.ends_with("*-1\r\n"), "{info}");
    let docs = c.cmd("COMMAND DOCS set");
    assert!(docs.starts_with("*2\r\n$3\r\nset\r\n*6\r\n$7\r\nsummary\r\n"), "{docs}");
    assert!(c.cmd("COMMAND").starts_with(&format!("*{count}\r\n")));
    assert_eq!(c.cmd("SHUTDOWN ABORT"), err("ERR No shutdown in progress."));
    assert_eq!(c.cmd("SHUTDOWN BOGUS"), err("ERR syntax error"));
}

#[test]
fn shutdown_stops_the_server() {
    let (dir, server) = start();
    let addr = server.redis_addr().unwrap();
    let mut c = connect(&server);
    assert_eq!(c.cmd("SET kept v"), OK);
    c.send_command(&["SHUTDOWN"]);
    assert!(c.is_closed(), "SHUTDOWN closes without a reply");
    server.shutdown().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err() || Resp::connect(addr).is_closed());
    let server = common::start(dir.path());
    assert_eq!(connect(&server).cmd("GET kept"), bulk("v"));
}

#[test]
fn the_same_data_through_both_protocols() {
    let (_dir, server) = start();
    let mut r = connect(&server);
    let mut m = Client::connect(&server);
    assert_eq!(m.store("set", "from-mc", 42, 0, b"hello"), "STORED");
    assert_eq!(r.cmd("GET from-mc"), bulk("hello"));
    assert_eq!(r.cmd("SET from-redis world"), OK);
    assert_eq!(m.get("from-redis"), Some((0, b"world".to_vec())));
    assert_eq!(m.store("set", "ttl", 0, 100, b"v"), "STORED");
    assert_eq!(r.cmd("TTL ttl"), int(100));
    assert_eq!(r.cmd("INCR from-mc-n"), int(1));
    assert_eq!(m.call("incr from-mc-n 5"), "6");
    assert_eq!(r.cmd("GET from-mc-n"), bulk("6"));
    // A Redis write keeps memcached's flags only where the record is modified in place.
    assert_eq!(r.cmd("APPEND from-mc !"), int(6));
    assert_eq!(m.get("from-mc"), Some((42, b"hello!".to_vec())));
    assert_eq!(r.cmd("SET from-mc x"), OK);
    assert_eq!(m.get("from-mc"), Some((0, b"x".to_vec())));
}

#[test]
fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path());
    let mut c = connect(&server);
    assert_eq!(c.cmd("SET a 1"), OK);
    assert_eq!(c.cmd("SET t v EX 1000"), OK);
    drop(c);
    server.shutdown().unwrap();
    let server = common::start(dir.path());
    let mut c = connect(&server);
    assert_eq!(c.cmd("GET a"), bulk("1"));
    let ttl: i64 = c.cmd("TTL t").trim_start_matches(':').trim().parse().unwrap();
    assert!((998..=1000).contains(&ttl), "{ttl}");
}

#[test]
fn connection_limit_gets_redis_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |config| config.max_connections = 1);
    let mut first = connect(&server);
    assert_eq!(first.cmd("PING"), "+PONG\r\n");
    let mut second = connect(&server);
    assert_eq!(second.reply(), err("ERR max number of clients reached"));
    assert!(second.is_closed());
}

/// Two clients race MSETNX on the same two keys, in opposite orders, round after round:
/// exactly one wins each round and both keys hold the winner's values (a check-then-write
/// with a window between would let both win, or mix their values).
#[test]
fn racing_msetnx_has_exactly_one_winner_and_never_mixes_values() {
    let (_dir, server) = start();
    let addr = server.redis_addr().unwrap();
    let rounds = 300;
    let racers: Vec<_> = ["x", "y"]
        .into_iter()
        .map(|who| {
            std::thread::spawn(move || {
                let mut c = Resp::connect(addr);
                (0..rounds)
                    .map(|r| {
                        let (first, second) = if who == "x" { ("a", "b") } else { ("b", "a") };
                        c.cmd(&format!("MSETNX r{r}{first} {who} r{r}{second} {who}")) == int(1)
                    })
                    .collect::<Vec<bool>>()
            })
        })
        .collect();
    let wins: Vec<Vec<bool>> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    let mut c = connect(&server);
    for (r, (&x, &y)) in wins[0].iter().zip(&wins[1]).enumerate() {
        assert!(x ^ y, "round {r}: x won {x}, y won {y}");
        let winner = if x { "x" } else { "y" };
        assert_eq!(c.cmd(&format!("MGET r{r}a r{r}b")), bulks(&[winner, winner]), "round {r}");
    }
}

// Differences the differential harness found against Redis 7.0 (docs/differential.md, "Fixed"):
// each test gives Redis 7.0.15's replies.

#[test]
fn d1_unknown_command_quotes_arguments_up_to_a_nul() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.call(&["FOO", "bin\0arg", "b"]), err("ERR unknown command 'FOO', with args beginning with: 'bin' 'b' "));
    assert_eq!(c.call(&["F\0OO", "\0"]), err("ERR unknown command 'F', with args beginning with: '' "));
}

#[test]
fn d2_exec_with_arguments_aborts_and_ends_the_transaction() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let abort = err("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command");
    assert_eq!(c.cmd("EXEC x"), abort, "outside MULTI too");
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("SET k v"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC x"), abort);
    assert_eq!(c.cmd("GET k"), NIL, "the transaction is over and nothing of it ran");
    assert_eq!(c.cmd("EXEC"), err("ERR EXEC without MULTI"));
    // It also forgets the WATCHed keys, as Redis's discardTransaction does.
    let mut other = connect(&server);
    assert_eq!(c.cmd("WATCH k"), OK);
    assert_eq!(c.cmd("EXEC x y"), abort);
    assert_eq!(other.cmd("SET k changed"), OK);
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("GET k"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), format!("*1\r\n{}", bulk("changed")));
    // Refused for authentication: the same abort.
    let dir = tempfile::tempdir().unwrap();
    let locked = common::start_with(dir.path(), |config| config.requirepass = Some("pw".into()));
    let mut u = connect(&locked);
    assert_eq!(u.cmd("EXEC"), err("EXECABORT Transaction discarded because of: NOAUTH Authentication required."));
    assert_eq!(u.cmd("EXEC x"), abort);
}

#[test]
fn d3_incrbyfloat_reads_hexadecimal_like_strtold() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("INCRBYFLOAT f 0x10"), bulk("16"));
    assert_eq!(c.cmd("SET g 0x10"), OK);
    assert_eq!(c.cmd("INCRBYFLOAT g 1"), bulk("17"));
    assert_eq!(c.cmd("INCRBYFLOAT h 0x1.8p1"), bulk("3"));
    assert_eq!(c.cmd("INCRBYFLOAT h -0X1P3"), bulk("-5"));
    assert_eq!(c.cmd("INCRBYFLOAT i +.5"), bulk("0.5"));
    for bad in ["0x", "0x1p", "1e", "0x.p1", "infin", "nan", "0x1g"] {
        assert_eq!(c.call(&["INCRBYFLOAT", "j", bad]), err("ERR value is not a valid float"), "{bad}");
    }
    assert_eq!(c.cmd("INCRBYFLOAT j infinity"), err("ERR increment would produce NaN or Infinity"));
}

#[test]
fn d4_incrbyfloat_prints_exact_results_as_redis_17_digits() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("INCRBYFLOAT g -9223372036854775808"), bulk("-9223372036854775808"));
    assert_eq!(c.cmd("SET g 1000000000000032"), OK);
    assert_eq!(c.cmd("INCRBYFLOAT g 0.25"), bulk("1000000000000032.25"));
    assert_eq!(c.cmd("GET g"), bulk("1000000000000032.25"));
    // 2^-18 has 18 decimals: rounded to 17, half to even, as printf does.
    assert_eq!(c.cmd("INCRBYFLOAT a 0.000003814697265625"), bulk("0.00000381469726562"));
    assert_eq!(c.cmd("INCRBYFLOAT b -0x1p-60"), bulk("0"));
    // Inexact sums keep the shortest digits (Redis's long double gets 10.6 too).
    assert_eq!(c.cmd("SET c 10.5"), OK);
    assert_eq!(c.cmd("INCRBYFLOAT c 0.1"), bulk("10.6"));
}

#[test]
fn d5_scan_takes_a_cursor_as_strtoul() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("SCAN -1"), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(c.cmd("SCAN -18446744073709551615"), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(c.call(&["SCAN", ""]), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(c.cmd("SCAN +0"), "*2\r\n$1\r\n0\r\n*0\r\n");
    for bad in ["-", "+", " 1", "1 ", "18446744073709551616", "-18446744073709551616", "x"] {
        assert_eq!(c.call(&["SCAN", bad]), err("ERR invalid cursor"), "{bad:?}");
    }
}

#[test]
fn d6_expire_checks_flags_before_the_time() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("SET k v"), OK);
    assert_eq!(c.cmd("EXPIRE k 1.5 GT NX"), err("ERR NX and XX, GT or LT options at the same time are not compatible"));
    assert_eq!(c.cmd("PEXPIREAT k abc BOGUS"), err("ERR Unsupported option BOGUS"));
    assert_eq!(c.cmd("EXPIRE k abc GT LT"), err("ERR GT and LT options at the same time are not compatible"));
    assert_eq!(c.cmd("EXPIRE k abc GT"), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["EXPIRE", "k", "10", "bo\0gus"]), err("ERR Unsupported option bo"));
}

#[test]
fn d7_getex_on_a_missing_key_ignores_a_bad_expiry() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("GETEX nokey PX -1"), NIL);
    assert_eq!(c.cmd("GETEX nokey EX abc"), NIL);
    assert_eq!(c.cmd("SET k v"), OK);
    assert_eq!(c.cmd("GETEX k PX -1"), err("ERR invalid expire time in 'getex' command"));
    assert_eq!(c.cmd("GETEX k EX abc"), err("ERR value is not an integer or out of range"));
}

#[test]
fn d8_repeated_expiry_options_take_the_last() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("SET k x EX GET EX 15000"), OK);
    let ttl = c.cmd("TTL k");
    assert!(ttl == int(15000) || ttl == int(14999), "{ttl}");
    assert_eq!(c.cmd("GETEX k EX 100 EX 200"), bulk("x"));
    let ttl = c.cmd("TTL k");
    assert!(ttl == int(200) || ttl == int(199), "{ttl}");
    assert_eq!(c.cmd("GETEX k PERSIST PERSIST"), bulk("x"));
    assert_eq!(c.cmd("TTL k"), int(-1));
    assert_eq!(c.cmd("SET k y KEEPTTL KEEPTTL NX NX"), NIL);
    assert_eq!(c.cmd("SET k y GET GET XX XX"), bulk("x"));
    assert_eq!(c.cmd("SET k v EX 10 PX 10"), err("ERR syntax error"));
    assert_eq!(c.cmd("SET k v EX 10 KEEPTTL"), err("ERR syntax error"));
    assert_eq!(c.cmd("GETEX k PERSIST EX 10"), err("ERR syntax error"));
}

#[test]
fn d9_getex_syntax_error_before_a_bad_expiry() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("SET k v"), OK);
    assert_eq!(c.cmd("GETEX k EX 0 PX 5"), err("ERR syntax error"));
    assert_eq!(c.cmd("GETEX k EX abc PERSIST"), err("ERR syntax error"));
    assert_eq!(c.cmd("GETEX nokey EX 0 PX 5"), err("ERR syntax error"));
    assert_eq!(c.cmd("GETEX k EX 10 EX 0"), err("ERR invalid expire time in 'getex' command"));
}

#[test]
fn info_reports_group_commit_and_index_figures() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |c| c.durability = crowndb::Durability::Always);
    let mut c = connect(&server);
    let field = |c: &mut Resp, name: &str| -> f64 {
        let info = c.cmd("INFO");
        let prefix = format!("{name}:");
        info.lines().find_map(|l| l.strip_prefix(prefix.as_str())).unwrap_or_else(|| panic!("INFO has no {name}")).trim().parse().unwrap()
    };
    let waits = field(&mut c, "crowndb_sync_waits");
    for i in 0..5 {
        assert_eq!(c.cmd(&format!("SET durable{i} v")), OK);
    }
    // Each acknowledged SET waited for a sync that covered it.
    assert!(field(&mut c, "crowndb_sync_waits") >= waits + 5.0);
    assert!(field(&mut c, "crowndb_syncs") >= 1.0);
    assert!(field(&mut c, "crowndb_sync_writes_per_sync") >= 1.0);
    assert_eq!(field(&mut c, "crowndb_false_candidate_reads"), 0.0);
}

#[test]
fn d19_container_subcommand_errors_are_refused_before_queueing() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let execabort = err("EXECABORT Transaction discarded because of previous errors.");
    for (command, error) in [
        ("OBJECT BOGUS n", "ERR unknown subcommand 'BOGUS'. Try OBJECT HELP."),
        ("OBJECT ENCODING", "ERR wrong number of arguments for 'object|encoding' command"),
        ("OBJECT HELP x", "ERR wrong number of arguments for 'object|help' command"),
        ("CONFIG BOGUS", "ERR unknown subcommand 'BOGUS'. Try CONFIG HELP."),
        ("CONFIG GET", "ERR wrong number of arguments for 'config|get' command"),
        ("CONFIG SET a", "ERR wrong number of arguments for 'config|set' command"),
        ("COMMAND COUNT x", "ERR wrong number of arguments for 'command|count' command"),
        ("COMMAND BOGUS", "ERR unknown subcommand 'BOGUS'. Try COMMAND HELP."),
    ] {
        assert_eq!(c.cmd("MULTI"), OK);
        assert_eq!(c.cmd(command), err(error), "{command}");
        assert_eq!(c.cmd("EXEC"), execabort, "{command}");
        assert_eq!(c.cmd(command), err(error), "{command} outside MULTI");
    }
}

#[test]
fn d20_a_past_deadline_set_inside_exec_hides_the_key_at_once() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("SET b old"), OK);
    assert_eq!(c.cmd("MULTI"), OK);
    for command in ["SET a v PXAT 1", "TTL a", "EXISTS a", "GET a", "SET b v GET PXAT 1", "GET b"] {
        assert_eq!(c.cmd(command), "+QUEUED\r\n");
    }
    assert_eq!(c.cmd("EXEC"), format!("*6\r\n{OK}{}{}{NIL}{}{NIL}", int(-2), int(0), bulk("old")));
    assert_eq!(c.cmd("EXISTS a b"), int(0));
}
