//! Long (just over 600 lines) on purpose: one end-to-end specification of the memcached listener.
//!
//! The memcached text protocol end to end: a server on 127.0.0.1 over a temporary directory,
//! spoken to through a plain TCP socket.

mod common;

use std::thread;
use std::time::Duration;

use common::{start, start_with, Client};

#[test]
fn set_get_gets_delete_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);

    assert_eq!(c.store("set", "greeting", 42, 0, b"hello"), "STORED");
    assert_eq!(c.get("greeting"), Some((42, b"hello".to_vec())));
    assert_eq!(c.get("missing"), None);

    c.send(b"gets greeting missing greeting\r\n");
    let items = c.values();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|(key, flags, data, cas)| key == "greeting" && *flags == 42 && data == b"hello" && cas.is_some()));
    let cas = items[0].3.unwrap();

    assert_eq!(c.set("greeting", b"bye"), "STORED");
    let new_cas = c.cas_of("greeting").unwrap();
    assert!(new_cas > cas, "a write gives a new cas: {new_cas} after {cas}");

    assert_eq!(c.call("delete greeting"), "DELETED");
    assert_eq!(c.call("delete greeting"), "NOT_FOUND");
    assert_eq!(c.get("greeting"), None);
    assert_eq!(c.call("version").split(' ').next(), Some("VERSION"));
    assert_eq!(c.call("verbosity 1"), "OK");
    server.shutdown().unwrap();
}

#[test]
fn binary_values_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let tricky: &[&[u8]] = &[b"", b"\r\n", b"END\r\n", b"\r\nVALUE x 0 1\r\n", b"\0\xff\x80", &all_bytes];
    for (i, value) in tricky.iter().enumerate() {
        let key = format!("bin{i}");
        assert_eq!(c.set(&key, value), "STORED");
        assert_eq!(c.get(&key), Some((0, value.to_vec())), "value {i}");
    }
}

#[test]
fn values_at_the_size_limit_and_above() {
    let dir = tempfile::tempdir().unwrap();
    let limit = 64 * 1024;
    let server = start_with(dir.path(), |config| config.max_item_size = limit);
    let mut c = Client::connect(&server);

    let at_limit: Vec<u8> = (0..limit).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.set("big", &at_limit), "STORED");
    assert_eq!(c.get("big"), Some((0, at_limit.clone())));

    // One byte more: refused, its data swallowed, the connection still usable.
    let too_big = vec![b'x'; limit + 1];
    assert_eq!(c.set("big", &too_big), "SERVER_ERROR object too large for cache");
    assert_eq!(c.get("big"), Some((0, at_limit.clone())), "the old value stays");

    // A much larger value, sent in pieces: swallowed as it arrives.
    c.send(format!("set huge 0 0 {}\r\n", 10 * limit).as_bytes());
    assert_eq!(c.line(), "SERVER_ERROR object too large for cache");
    for _ in 0..10 {
        c.send(&vec![b'y'; limit]);
    }
    c.send(b"\r\n");
    assert_eq!(c.get("huge"), None);
    assert_eq!(c.set("small", b"ok"), "STORED");

    // The default limit is memcached's 1 MiB.
    drop(c);
    server.shutdown().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);
    let mib = vec![7u8; 1 << 20];
    assert_eq!(c.set("mib", &mib), "STORED");
    assert_eq!(c.get("mib"), Some((0, mib)));
    assert_eq!(c.set("mib", &vec![7u8; (1 << 20) + 1]), "SERVER_ERROR object too large for cache");
    assert_eq!(c.set("after", b"1"), "STORED");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);
    let mut batch = Vec::new();
    for i in 0..200 {
        batch.extend_from_slice(format!("set key{i} {i} 0 {}\r\nvalue{i}\r\n", format!("value{i}").len()).as_bytes());
        batch.extend_from_slice(format!("get key{i}\r\n").as_bytes());
        batch.extend_from_slice(b"bogus\r\n");
    }
    batch.extend_from_slice(b"mn\r\n");
    c.send(&batch);
    for i in 0..200 {
        assert_eq!(c.line(), "STORED");
        let items = c.values();
        assert_eq!(items, vec![(format!("key{i}"), i, format!("value{i}").into_bytes(), None)]);
        assert_eq!(c.line(), "ERROR");
    }
    assert_eq!(c.line(), "MN");

    // A request split across packets waits for its end.
    c.send(b"set split 0 0 10\r\nhello");
    thread::sleep(Duration::from_millis(50));
    c.send(b"world\r\nget spl");
    thread::sleep(Duration::from_millis(50));
    c.send(b"it\r\n");
    assert_eq!(c.line(), "STORED");
    assert_eq!(c.values()[0].2, b"helloworld");
}

#[test]
fn malformed_requests_get_errors_and_the_connection_survives() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);
    assert_eq!(c.call("bogus"), "ERROR");
    assert_eq!(c.call(""), "ERROR");
    assert_eq!(c.call("get"), "ERROR");
    // A bad number: the line is refused and its data block is not run as a command.
    c.send(b"set k abc 0 3\r\nget\r\n");
    assert_eq!(c.line(), "CLIENT_ERROR bad command line format");
    // A data block of the wrong length: its <bytes> + 2 bytes are gone, and what follows them
    // (here the "\n") is read as the next request, as memcached does.
    c.send(b"set k 0 0 1\r\nab\r\n");
    assert_eq!(c.line(), "CLIENT_ERROR bad data chunk");
    assert_eq!(c.line(), "ERROR");
    assert_eq!(c.call("incr k abc"), "CLIENT_ERROR invalid numeric delta argument");
    assert_eq!(c.call("touch k abc"), "CLIENT_ERROR invalid exptime argument");
    assert_eq!(c.call(&format!("get {}", "k".repeat(251))), "CLIENT_ERROR bad command line format");
    assert_eq!(c.call("delete k 5"), "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]");
    assert_eq!(c.call("stats nonsense"), "ERROR");
    assert_eq!(c.set("k", b"still fine"), "STORED");
    assert_eq!(c.get("k"), Some((0, b"still fine".to_vec())));

    // A line over the limit closes the connection, and only that one.
    let mut other = Client::connect(&server);
    c.send(&vec![b'a'; 4096]);
    assert_eq!(c.line(), "CLIENT_ERROR line too long");
    assert!(c.is_closed());
    assert_eq!(other.get("k"), Some((0, b"still fine".to_vec())));
}

#[test]
fn noreply_requests_are_silent() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);
    c.send(b"set a 1 0 1 noreply\r\nx\r\n");
    c.send(b"add a 0 0 1 noreply\r\ny\r\n");
    c.send(b"set n 0 0 1 noreply\r\n5\r\n");
    c.send(b"incr n 10 noreply\r\n");
    c.send(b"decr n 1 noreply\r\n");
    c.send(b"delete missing noreply\r\n");
    c.send(b"touch a 0 noreply\r\n");
    c.send(b"set bad 0 0 1 noreply\r\nxx\r");
    c.send(b"verbosity 1 noreply\r\n");
    c.send(b"get a n bad\r\n");
    let items = c.values();
    assert_eq!(items, vec![("a".into(), 1, b"x".to_vec(), None), ("n".into(), 0, b"14".to_vec(), None)]);
}

#[test]
fn conditional_stores_and_arithmetic() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);

    assert_eq!(c.store("add", "k", 1, 0, b"first"), "STORED");
    assert_eq!(c.store("add", "k", 1, 0, b"again"), "NOT_STORED");
    assert_eq!(c.store("replace", "nope", 0, 0, b"x"), "NOT_STORED");
    assert_eq!(c.store("replace", "k", 2, 0, b"second"), "STORED");
    assert_eq!(c.store("append", "k", 9, 0, b"!"), "STORED");
    assert_eq!(c.store("prepend", "k", 9, 0, b"<"), "STORED");
    assert_eq!(c.get("k"), Some((2, b"<second!".to_vec())), "append and prepend keep the flags");
    assert_eq!(c.store("append", "nope", 0, 0, b"x"), "NOT_STORED");

    let cas = c.cas_of("k").unwrap();
    c.send(format!("cas k 3 0 1 {}\r\nA\r\n", cas + 1000).as_bytes());
    assert_eq!(c.line(), "EXISTS");
    c.send(format!("cas k 3 0 1 {cas}\r\nA\r\n").as_bytes());
    assert_eq!(c.line(), "STORED");
    c.send(format!("cas k 3 0 1 {cas}\r\nB\r\n").as_bytes());
    assert_eq!(c.line(), "EXISTS");
    c.send(b"cas nope 0 0 1 1\r\nx\r\n");
    assert_eq!(c.line(), "NOT_FOUND");
    assert_eq!(c.get("k"), Some((3, b"A".to_vec())));

    assert_eq!(c.call("incr counter 1"), "NOT_FOUND");
    assert_eq!(c.set("counter", b"10"), "STORED");
    assert_eq!(c.call("incr counter 5"), "15");
    assert_eq!(c.call("decr counter 100"), "0");
    assert_eq!(c.call("incr counter 18446744073709551615"), "18446744073709551615");
    assert_eq!(c.call("incr counter 2"), "1", "incr wraps at 2^64");
    assert_eq!(c.call("incr k 1"), "CLIENT_ERROR cannot increment or decrement non-numeric value");
}

#[test]
fn concurrent_increments_are_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let addr = server.memcached_addr().unwrap();
    Client::connect(&server).set("n", b"0");
    let workers: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                let mut c = Client::connect_to(addr);
                for _ in 0..250 {
                    c.call("incr n 1").parse::<u64>().unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(Client::connect(&server).get("n"), Some((0, b"1000".to_vec())));
}

#[test]
fn touch_gat_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);
    assert_eq!(c.store("set", "k", 5, 0, b"v"), "STORED");
    assert_eq!(c.call("mg k t"), "HD t-1");
    assert_eq!(c.call("touch k 100"), "TOUCHED");
    assert_eq!(c.call("mg k t"), "HD t100");
    assert_eq!(c.call("touch missing 100"), "NOT_FOUND");

    c.send(b"gat 0 k missing\r\n");
    assert_eq!(c.values(), vec![("k".into(), 5, b"v".to_vec(), None)]);
    assert_eq!(c.call("mg k t"), "HD t-1");
    c.send(b"gats 200 k\r\n");
    let items = c.values();
    assert_eq!(items[0].3, c.cas_of("k"), "gats returns the item's current cas");
    assert_eq!(c.call("mg k t f v"), "VA 1 t200 f5");
    assert_eq!(c.block(1), b"v");

    // A negative exptime stores an item that is already expired.
    assert_eq!(c.store("set", "gone", 0, -1, b"x"), "STORED");
    assert_eq!(c.get("gone"), None);
    assert_eq!(c.store("set", "k", 0, -1, b"x"), "STORED");
    assert_eq!(c.get("k"), None, "and replaces the old value");

    // A short TTL runs out.
    assert_eq!(c.store("set", "brief", 0, 1, b"x"), "STORED");
    assert!(c.get("brief").is_some());
    thread::sleep(Duration::from_millis(1100));
    assert_eq!(c.get("brief"), None);

    // An absolute Unix time in the past is expired, in the future it is kept.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert_eq!(c.store("set", "past", 0, now - 10, b"x"), "STORED");
    assert_eq!(c.get("past"), None);
    assert_eq!(c.store("set", "future", 0, now + 1000, b"x"), "STORED");
    let ttl: i64 = c.call("mg future t")[4..].parse().unwrap();
    assert!((990..=1000).contains(&ttl), "{ttl}");
}

#[test]
fn flush_all_now_and_later() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);
    for i in 0..100 {
        assert_eq!(c.set(&format!("k{i}"), b"v"), "STORED");
    }
    assert_eq!(c.call("flush_all"), "OK");
    assert!((0..100).all(|i| c.get(&format!("k{i}")).is_none()));
    assert_eq!(c.set("after", b"v"), "STORED");
    assert_eq!(c.get("after"), Some((0, b"v".to_vec())), "items stored after a flush stay");

    // Delayed: items stay until the delay has passed.
    assert_eq!(c.call("flush_all 1"), "OK");
    assert!(c.get("after").is_some());
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(c.get("after"), None);

    // A later flush_all replaces a pending one.
    assert_eq!(c.set("kept", b"v"), "STORED");
    assert_eq!(c.call("flush_all 1"), "OK");
    c.send(b"flush_all 100 noreply\r\n");
    thread::sleep(Duration::from_millis(1500));
    assert!(c.get("kept").is_some());
}

#[test]
fn meta_commands() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);
    c.send(b"ms mk 2 T60 F7 c\r\nhi\r\n");
    let reply = c.line();
    assert!(reply.starts_with("HD c"), "{reply}");
    assert_eq!(c.call("mg mk s f t k Oxyz"), "HD s2 f7 t60 kmk Oxyz");
    assert_eq!(c.call("mg missing v k O1"), "EN kmissing O1");
    // Quiet mode: a miss and a successful store say nothing; mn marks the end.
    c.send(b"mg missing v q\r\nms mk 3 q\r\nabc\r\nmg mk v q\r\nmn\r\n");
    assert_eq!(c.line(), "VA 3");
    assert_eq!(c.block(3), b"abc");
    assert_eq!(c.line(), "MN");

    // Modes and compare-and-swap.
    c.send(b"ms mk 1 ME\r\nx\r\n");
    assert_eq!(c.line(), "NS");
    c.send(b"ms mk 1 MA\r\n!\r\n");
    assert_eq!(c.line(), "HD");
    c.send(b"ms new 1 MA N30\r\n!\r\n");
    assert_eq!(c.line(), "HD", "append with N vivifies");
    let cas: u64 = c.call("mg mk c")[4..].parse().unwrap();
    c.send(format!("ms mk 1 C{}\r\nz\r\n", cas + 1).as_bytes());
    assert_eq!(c.line(), "EX");
    c.send(format!("ms mk 1 C{cas}\r\nz\r\n").as_bytes());
    assert_eq!(c.line(), "HD");

    // Arithmetic.
    assert_eq!(c.call("ma cnt"), "NF");
    assert_eq!(c.call("ma cnt N0 J10 v").as_str(), "VA 2");
    assert_eq!(c.block(2), b"10");
    assert_eq!(c.call("ma cnt D5 v t").as_str(), "VA 2 t-1");
    assert_eq!(c.block(2), b"15");
    c.send(b"ma cnt MD D20 q\r\n");
    assert_eq!(c.call("mn"), "MN", "quiet ma says nothing on success");
    assert_eq!(c.get("cnt"), Some((0, b"0".to_vec())));

    // Delete, base64 keys, debug.
    c.send(b"md cnt q O9\r\n");
    assert_eq!(c.call("mn"), "MN", "quiet md says nothing on success");
    assert_eq!(c.call("md cnt O9"), "NF O9");
    c.send(b"ms AP8= 1 b\r\nx\r\n");
    assert_eq!(c.line(), "HD");
    assert_eq!(c.call("mg AP8= b k v"), "VA 1 kAP8= b");
    assert_eq!(c.block(1), b"x");
    let debug = c.call("me mk");
    assert!(debug.starts_with("ME mk exp=-1 la=0 cas="), "{debug}");
    assert_eq!(c.call("me missing"), "EN");
    assert_eq!(c.call("mn"), "MN");
}

#[test]
fn stats_report_counters() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);
    let _other = Client::connect(&server);
    c.set("a", b"1");
    c.get("a");
    c.get("b");
    assert_eq!(c.stat("pid"), std::process::id().to_string());
    assert_eq!(c.stat("cmd_get"), "2");
    assert_eq!(c.stat("get_hits"), "1");
    assert_eq!(c.stat("get_misses"), "1");
    assert_eq!(c.stat("cmd_set"), "1");
    assert_eq!(c.stat("curr_items"), "1");
    assert_eq!(c.stat("evictions"), "0");
    assert_eq!(c.stat("curr_connections"), "2");
    assert!(c.stat("version").starts_with("1.6"));
    assert_eq!(c.call("stats reset"), "RESET");
    assert_eq!(c.stat("cmd_get"), "0");
    c.send(b"stats settings\r\n");
    let mut settings = Vec::new();
    loop {
        let line = c.line();
        if line == "END" {
            break;
        }
        settings.push(line);
    }
    assert!(settings.contains(&"STAT item_size_max 1048576".to_string()), "{settings:?}");
}

#[test]
fn quit_and_idle_timeout_close_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), |config| config.idle_timeout = Some(Duration::from_millis(300)));
    let mut c = Client::connect(&server);
    c.send(b"quit\r\n");
    assert!(c.is_closed());
    let mut idle = Client::connect(&server);
    assert_eq!(idle.set("k", b"v"), "STORED");
    thread::sleep(Duration::from_millis(600));
    assert!(idle.is_closed());
}

#[test]
fn connections_beyond_the_limit_are_refused_politely() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), |config| config.max_connections = 2);
    let mut a = Client::connect(&server);
    let mut b = Client::connect(&server);
    assert_eq!(a.call("version").split(' ').next(), Some("VERSION"));
    assert_eq!(b.call("version").split(' ').next(), Some("VERSION"));
    let mut refused = Client::connect(&server);
    assert_eq!(refused.line(), "SERVER_ERROR too many open connections");
    assert!(refused.is_closed());
    // Once one leaves, there is room again.
    a.send(b"quit\r\n");
    assert!(a.is_closed());
    let mut retries = 0;
    loop {
        let mut c = Client::connect(&server);
        c.send(b"version\r\n");
        let line = c.line();
        if line.starts_with("VERSION") {
            break;
        }
        retries += 1;
        assert!(retries < 50, "no room after a connection left: {line}");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(b.stat("rejected_connections"), "1");
}

#[test]
fn items_persist_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(&server);
    assert_eq!(c.store("set", "forever", 123, 0, b"kept"), "STORED");
    assert_eq!(c.store("set", "ttl", 9, 100, b"for a while"), "STORED");
    assert_eq!(c.store("set", "brief", 0, 1, b"soon gone"), "STORED");
    assert_eq!(c.set("deleted", b"x"), "STORED");
    assert_eq!(c.call("delete deleted"), "DELETED");
    let cas = c.cas_of("forever").unwrap();
    // A connection still open at shutdown does not stop it.
    server.shutdown().unwrap();
    assert!(c.is_closed());

    thread::sleep(Duration::from_millis(1100));
    let server = start(dir.path());
    let mut c = Client::connect(&server);
    assert_eq!(c.get("forever"), Some((123, b"kept".to_vec())));
    assert_eq!(c.cas_of("forever"), Some(cas));
    assert_eq!(c.get("ttl"), Some((9, b"for a while".to_vec())));
    let ttl: i64 = c.call("mg ttl t")[4..].parse().unwrap();
    assert!((95..=99).contains(&ttl), "remaining TTL {ttl}");
    assert_eq!(c.get("brief"), None, "expired while the server was down");
    assert_eq!(c.get("deleted"), None);
    assert!(c.set("after", b"restart").starts_with("STORED"));
    let items = c.stat("curr_items");
    assert!(items == "3" || items == "4", "forever, ttl, after (and brief until reclaimed): {items}");
}

#[test]
fn durability_always_acknowledges_after_sync() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), |config| config.durability = crowndb::Durability::Always);
    let mut c = Client::connect(&server);
    let mut batch = Vec::new();
    for i in 0..50 {
        batch.extend_from_slice(format!("set k{i} 0 0 1\r\n{}\r\n", i % 10).as_bytes());
    }
    c.send(&batch);
    for _ in 0..50 {
        assert_eq!(c.line(), "STORED");
    }
    assert_eq!(c.call("incr k5 1"), "6");
    assert_eq!(c.get("k9"), Some((0, b"9".to_vec())));
}

#[test]
fn non_loopback_addresses_are_refused_without_permission() {
    let dir = tempfile::tempdir().unwrap();
    let config = crowndb_server::Config {
        data_dir: dir.path().to_path_buf(),
        memcached_addr: Some("0.0.0.0:0".into()),
        redis_addr: None,
        ..crowndb_server::Config::default()
    };
    let err = crowndb_server::Server::start(config).err().expect("refused").to_string();
    assert!(err.contains("--allow-non-loopback") && err.contains("no authentication"), "{err}");
}

#[test]
fn a_second_server_on_the_same_directory_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let _server = start(dir.path());
    let config = crowndb_server::Config {
        data_dir: dir.path().to_path_buf(),
        memcached_addr: Some("127.0.0.1:0".into()),
        redis_addr: None,
        ..crowndb_server::Config::default()
    };
    let err = crowndb_server::Server::start(config).err().expect("refused").to_string();
    assert!(err.contains("opening the store"), "{err}");
}

/// The same request stream, sent whole or cut into packets at arbitrary points (inside lines,
/// inside values, inside `\r\n`), gets the same replies.
#[test]
fn replies_do_not_depend_on_packet_boundaries() {
    let mut stream = Vec::new();
    for i in 0..40 {
        let value = vec![b'a' + (i % 26) as u8; i * 37 % 300];
        stream.extend_from_slice(format!("set k{i} {i} 0 {}\r\n", value.len()).as_bytes());
        stream.extend_from_slice(&value);
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(format!("get k{i} k{} nothing\r\n", i / 2).as_bytes());
        match i % 5 {
            0 => stream.extend_from_slice(b"bogus command\r\n"),
            1 => stream.extend_from_slice(b"set bad 0 0 3\r\nabcdef\r\n"),
            2 => stream.extend_from_slice(format!("set big 0 0 {}\r\n{}\r\n", 5000, "x".repeat(5000)).as_bytes()),
            3 => stream.extend_from_slice(format!("append k{i} 0 0 2 noreply\r\n!!\r\nincr k{i} 1\r\n").as_bytes()),
            _ => stream.extend_from_slice(format!("mg k{i} s f v k\r\nmg missing q\r\nmn\r\ndelete k{}\r\n", i - 1).as_bytes()),
        }
    }
    stream.extend_from_slice(b"version\r\n");

    let replies = |chunks: &[&[u8]]| -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let server = start_with(dir.path(), |config| config.max_item_size = 4096);
        let mut c = Client::connect(&server);
        for (i, chunk) in chunks.iter().enumerate() {
            c.send(chunk);
            if i % 16 == 0 {
                // Let the server read what came so far, so its reads end mid-request.
                thread::sleep(Duration::from_micros(300));
            }
        }
        let mut out = Vec::new();
        loop {
            let line = c.line();
            let done = line.starts_with("VERSION");
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
            if let Some(len) = line
                .strip_prefix("VALUE ")
                .and_then(|rest| rest.split(' ').nth(2))
                .or_else(|| line.strip_prefix("VA ").and_then(|rest| rest.split(' ').next()))
            {
                out.extend_from_slice(&c.block(len.parse().unwrap()));
            }
            if done {
                return out;
            }
        }
    };

    let whole = replies(&[&stream]);
    assert!(whole.windows(9).any(|w| w == b"NOT_FOUND" || w == b"DELETED\r\n"), "the stream exercises deletes");
    // Cut points from a fixed pseudo-random sequence: several different splittings.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..4 {
        let mut chunks = Vec::new();
        let mut at = 0;
        while at < stream.len() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = 1 + (seed >> 33) as usize % [3, 17, 200, 1500][round];
            let end = (at + len).min(stream.len());
            chunks.push(&stream[at..end]);
            at = end;
        }
        assert_eq!(String::from_utf8_lossy(&replies(&chunks)), String::from_utf8_lossy(&whole), "splitting {round}");
    }
}

/// Garbage from one client gets errors or a closed connection, never a dead server.
#[test]
fn garbage_input_does_not_hurt_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut good = Client::connect(&server);
    assert_eq!(good.set("k", b"v"), "STORED");
    let mut seed = 42u64;
    for round in 0..20 {
        let mut garbage = Vec::with_capacity(8192);
        for _ in 0..8192 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let byte = (seed >> 56) as u8;
            // Mostly printable, with line ends and command words now and then.
            garbage.push(match byte % 16 {
                0 => b'\n',
                1 => b' ',
                2 => b'0' + byte % 10,
                _ => byte,
            });
            if seed.is_multiple_of(97) {
                garbage.extend_from_slice([&b"set "[..], b"get ", b"mg ", b"ms ", b"gat ", b"incr ", b"cas "][(seed % 7) as usize]);
            }
        }
        let mut bad = Client::connect(&server);
        bad.send(&garbage);
        bad.send(b"\r\nquit\r\n");
        let _ = bad.is_closed();
        assert_eq!(good.get("k"), Some((0, b"v".to_vec())), "round {round}");
    }
    thread::sleep(Duration::from_millis(100));
    let mut fresh = Client::connect(&server);
    assert_eq!(fresh.get("k"), Some((0, b"v".to_vec())));
    assert_eq!(fresh.stat("total_connections"), "22");
    server.shutdown().unwrap();
}
