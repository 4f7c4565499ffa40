//! Long (over 600 lines) on purpose: one catalogue of bad input for both listeners, so a new
//! kind of bad input has one place to go; each test is independent.
//!
//! Bad input against a running server, through both protocols: oversized lines, huge declared
//! lengths, invalid numbers, binary garbage, half requests followed by silence, values over the
//! size limit, thousands of idle connections, and clients that pipeline requests but never read
//! the replies.
//!
//! Every test checks what a user would: the bad client gets memcached's or Redis's error (or is
//! disconnected where they would disconnect it), a well-behaved client on another connection
//! keeps getting correct answers *while* the bad one is at work (a [`Bystander`] thread), and
//! keys stored before are unchanged afterwards. The memory test runs the server in a child
//! process (this test executable, started again on [`server_process_for_the_memory_test`]) so
//! that its resident memory can be read from `/proc/<pid>/status` without the clients' own.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::resp::{encode, Resp};
use common::{start_with, Client};
use crowndb_server::{Config, Server};

/// A server with both protocols and room for many connections.
fn start_server(dir: &Path, tweak: impl FnOnce(&mut Config)) -> Server {
    start_with(dir, |config| {
        config.max_connections = 10_000;
        tweak(config);
    })
}

/// Addresses of a running server's two listeners.
#[derive(Clone, Copy)]
struct Addrs {
    memcached: SocketAddr,
    redis: SocketAddr,
}

impl Addrs {
    fn of(server: &Server) -> Addrs {
        Addrs { memcached: server.memcached_addr().unwrap(), redis: server.redis_addr().unwrap() }
    }
}

/// A reproducible value of `len` bytes holding every byte value, NUL and CR LF included.
fn value(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Random bytes (xorshift), for garbage.
struct Noise(u64);

impl Noise {
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 >> 24) as u8
            })
            .collect()
    }
}

/// Keys stored before an attack, to be found unchanged after it.
struct Seeded(Vec<(String, Vec<u8>)>);

/// Stores 40 keys: 20 through memcached, 20 through Redis, 0 B to 64 KiB of binary values.
fn seed(addrs: Addrs) -> Seeded {
    let mut mc = Client::connect_to(addrs.memcached);
    let mut redis = Resp::connect(addrs.redis);
    let mut items = Vec::new();
    for i in 0..40u64 {
        let key = format!("keep:{i}");
        let data = value(i + 1, [0, 1, 100, 3000, 65_536][i as usize % 5]);
        if i % 2 == 0 {
            assert_eq!(mc.set(&key, &data), "STORED");
        } else {
            redis.send_command(&[&b"SET"[..], key.as_bytes(), &data]);
            assert_eq!(redis.reply(), "+OK\r\n");
        }
        items.push((key, data));
    }
    Seeded(items)
}

impl Seeded {
    /// Every key holds its value, read on fresh connections of both protocols.
    fn check(&self, addrs: Addrs, when: &str) {
        let mut mc = Client::connect_to(addrs.memcached);
        let mut redis = Resp::connect(addrs.redis);
        for (key, data) in &self.0 {
            assert_eq!(mc.get(key).map(|(_, v)| v).as_deref(), Some(&data[..]), "memcached get {key} {when}");
            let expected = [format!("${}\r\n", data.len()).into_bytes(), data.clone(), b"\r\n".to_vec()].concat();
            assert_eq!(redis.call(&["GET", key]), String::from_utf8_lossy(&expected), "Redis GET {key} {when}");
        }
    }
}

/// A well-behaved client of each protocol, in a thread, writing and reading back keys of its
/// own until stopped. Any wrong or missing answer fails the test.
struct Bystander {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Bystander {
    fn start(addrs: Addrs, tag: &str) -> Bystander {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let tag = tag.to_string();
        let thread = {
            let (stop, ops) = (stop.clone(), ops.clone());
            thread::spawn(move || {
                let mut mc = Client::connect_to(addrs.memcached);
                let mut redis = Resp::connect(addrs.redis);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("bystander:{tag}:{}", i % 16);
                    let data = value(i + 1000, (i % 7) as usize * 300);
                    assert_eq!(mc.set(&key, &data), "STORED", "bystander {tag}: memcached set {i}");
                    assert_eq!(mc.get(&key).map(|(_, v)| v), Some(data.clone()), "bystander {tag}: memcached get {i}");
                    let text = format!("{tag}-{i}");
                    assert_eq!(redis.call(&["SET", &key, &text]), "+OK\r\n", "bystander {tag}: Redis SET {i}");
                    assert_eq!(redis.call(&["GET", &key]), format!("${}\r\n{text}\r\n", text.len()), "bystander {tag}: Redis GET {i}");
                    ops.fetch_add(4, Ordering::Relaxed);
                    i += 1;
                    thread::sleep(Duration::from_millis(2));
                }
            })
        };
        Bystander { stop, ops, thread: Some(thread) }
    }

    fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    /// Waits until the bystander has done `more` operations beyond now: it is being served.
    fn served(&self, more: u64, what: &str) {
        let target = self.ops() + more;
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.ops() < target {
            assert!(!self.thread.as_ref().unwrap().is_finished(), "the bystander failed during {what}");
            assert!(Instant::now() < deadline, "the bystander got no answers during {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the thread; panics if it failed.
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Err(panic) = self.thread.take().unwrap().join() {
            std::panic::resume_unwind(panic);
        }
        self.ops()
    }
}

/// Sends `data` in 64 KiB pieces from a thread, ignoring a refusal (the server may close first),
/// while this thread reads everything the server sends until it closes. Returns the bytes read
/// and whether the connection ended (EOF or reset) within `limit`.
fn blast(addr: SocketAddr, data: Vec<u8>, limit: Duration) -> (Vec<u8>, bool) {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        for piece in data.chunks(64 * 1024) {
            if writer.write_all(piece).is_err() {
                return;
            }
        }
    });
    let mut reader = stream;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let ended = loop {
        match reader.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break false,
            Err(_) => break true,
        }
    };
    drop(reader);
    sender.join().unwrap();
    (got, ended)
}

/// `got` is `reply`, or a prefix of it: the server sent it and closed at once, and a reset can
/// overtake the reply of a connection closed with unread input.
fn is_reply_or_reset(got: &[u8], reply: &str) -> bool {
    reply.as_bytes().starts_with(got)
}

#[test]
fn oversized_lines_close_only_the_sender() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), |_| {});
    let addrs = Addrs::of(&server);
    let seeded = seed(addrs);
    let bystander = Bystander::start(addrs, "lines");

    // Just over memcached's 2048-byte line limit: the whole reply, then the close.
    let mut c = Client::connect_to(addrs.memcached);
    c.send(&vec![b'a'; 3000]);
    assert_eq!(c.line(), "CLIENT_ERROR line too long");
    assert!(c.is_closed());
    // Just over Redis's 64 KiB inline limit, and a `*` header that never ends.
    for (input, reply) in
        [(vec![b'a'; 70_000], "too big inline request"), ([b"*".to_vec(), b"1".repeat(70_000)].concat(), "too big mbulk count string")]
    {
        let mut r = Resp::connect(addrs.redis);
        r.send(&input);
        assert_eq!(r.reply(), format!("-ERR Protocol error: {reply}\r\n"));
        assert!(r.is_closed());
    }

    // 10 MB without a newline, in every form: the connection is closed long before the end.
    let ten_mb = 10 << 20;
    let cases: [(SocketAddr, Vec<u8>, &str); 5] = [
        (addrs.memcached, vec![b'x'; ten_mb], "CLIENT_ERROR line too long\r\n"),
        (addrs.memcached, [b"get ".to_vec(), b"k ".repeat(ten_mb / 2)].concat(), "CLIENT_ERROR line too long\r\n"),
        (addrs.memcached, [b"set k 0 0 1 ".to_vec(), vec![b'9'; ten_mb]].concat(), "CLIENT_ERROR line too long\r\n"),
        (addrs.redis, vec![b'x'; ten_mb], "-ERR Protocol error: too big inline request\r\n"),
        (addrs.redis, [b"*1\r\n$".to_vec(), vec![b'7'; ten_mb]].concat(), "-ERR Protocol error: too big bulk count string\r\n"),
    ];
    for (addr, data, reply) in cases {
        let what = String::from_utf8_lossy(&data[..12]).into_owned();
        let started = Instant::now();
        let (got, ended) = blast(addr, data, Duration::from_secs(10));
        assert!(ended, "10 MB line {what:?}: the connection was not closed");
        assert!(is_reply_or_reset(&got, reply), "10 MB line {what:?}: got {:?}", String::from_utf8_lossy(&got));
        bystander.served(8, "a 10 MB line");
        eprintln!("10 MB line {what:?}: closed after {} ms", started.elapsed().as_millis());
    }
    // A long `get` line under its 1 MiB limit is a request like any other.
    let mut c = Client::connect_to(addrs.memcached);
    let keys: Vec<String> = (0..40).map(|i| format!("keep:{i}")).chain((0..50_000).map(|i| format!("missing:{i}"))).collect();
    c.send(format!("get {}\r\n", keys.join(" ")).as_bytes());
    assert_eq!(c.values().len(), 40);

    bystander.finish();
    seeded.check(addrs, "after oversized lines");
}

#[test]
fn huge_declared_lengths_are_refused_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), |_| {});
    let addrs = Addrs::of(&server);
    let seeded = seed(addrs);
    let bystander = Bystander::start(addrs, "lengths");

    // Lengths that do not fit memcached's 32-bit field: a bad line, and the connection goes on.
    let mut c = Client::connect_to(addrs.memcached);
    for line in
        ["set keep:0 0 0 99999999999", "set keep:0 0 0 2147483647", "append keep:0 0 0 18446744073709551616", "ms keep:0 99999999999 T0"]
    {
        assert_eq!(c.call(line), "CLIENT_ERROR bad command line format", "{line}");
        assert_eq!(c.call("version").split(' ').next(), Some("VERSION"), "after {line}");
    }
    // A length that fits but is over the item size: refused, and the 2 GB announced are
    // discarded as they arrive, never buffered. This client sends 8 MiB of them and leaves.
    c.send(b"set keep:2 0 0 2000000000\r\n");
    assert_eq!(c.line(), "SERVER_ERROR object too large for cache");
    for _ in 0..8 {
        c.send(&vec![b'z'; 1 << 20]);
    }
    bystander.served(8, "a 2 GB value being swallowed");
    drop(c);

    // Redis: counts and lengths beyond the limits close the connection with Redis's error.
    for (input, reply) in [
        (&b"*1\r\n$99999999999\r\n"[..], "invalid bulk length"),
        (b"*2147483648\r\n", "invalid multibulk length"),
        (b"*99999999999999999999999\r\n", "invalid multibulk length"),
        (b"*1\r\n$536870913\r\n", "invalid bulk length"),
        (b"*1\r\n$-2\r\n", "invalid bulk length"),
    ] {
        let mut r = Resp::connect(addrs.redis);
        r.send(input);
        assert_eq!(r.reply(), format!("-ERR Protocol error: {reply}\r\n"), "{:?}", String::from_utf8_lossy(input));
        assert!(r.is_closed(), "{:?}", String::from_utf8_lossy(input));
    }
    // The largest count and length accepted: the server waits for the arguments without
    // reserving room for them (the memory test measures that); others are served meanwhile.
    let mut waiting = Vec::new();
    for input in [&b"*2147483647\r\n"[..], b"*3\r\n$3\r\nSET\r\n$6\r\nkeep:1\r\n$536870912\r\nabc"] {
        let mut r = Resp::connect(addrs.redis);
        r.send(input);
        waiting.push(r);
    }
    bystander.served(8, "requests announcing 2^31 arguments and 512 MiB");
    drop(waiting);

    bystander.finish();
    seeded.check(addrs, "after huge declared lengths");
}

#[test]
fn invalid_numbers_get_errors_and_the_connection_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), |_| {});
    let addrs = Addrs::of(&server);
    let seeded = seed(addrs);
    let bystander = Bystander::start(addrs, "numbers");

    let bad_line = "CLIENT_ERROR bad command line format";
    // Each request, its data block if it has one, and memcached's reply.
    let memcached: &[(&str, &str)] = &[
        ("set keep:0 -1 0 1\r\nx", bad_line),
        ("set keep:0 0 0 -1", bad_line),
        ("set keep:0 abc 0 1\r\nx", bad_line),
        ("set keep:0 4294967296 0 1\r\nx", bad_line),
        ("set keep:0 0 zz 1\r\nx", bad_line),
        ("set keep:0 0 99999999999999999999 1\r\nx", bad_line),
        ("set keep:0 0 0 1x", bad_line),
        ("set keep:0 0 0 +1", bad_line),
        ("cas keep:0 0 0 1 abc\r\nx", bad_line),
        ("cas keep:0 0 0 1 -5\r\nx", bad_line),
        ("incr keep:0 abc", "CLIENT_ERROR invalid numeric delta argument"),
        ("decr keep:0 -1", "CLIENT_ERROR invalid numeric delta argument"),
        ("incr keep:0 18446744073709551616", "CLIENT_ERROR invalid numeric delta argument"),
        ("touch keep:0 abc", "CLIENT_ERROR invalid exptime argument"),
        ("gat 1x keep:0", "CLIENT_ERROR invalid exptime argument"),
        ("flush_all abc", "CLIENT_ERROR invalid exptime argument"),
        ("flush_all 99999999999999999999", "CLIENT_ERROR invalid exptime argument"),
        ("verbosity abc", bad_line),
        ("mg keep:0 v Tabc", "CLIENT_ERROR bad token in command line format"),
        ("ms keep:0 abc", bad_line),
        ("ms keep:0 -1", bad_line),
        ("ms keep:0 1 F99999999999\r\nx", bad_line),
        ("ma keep:0 Dabc", "CLIENT_ERROR invalid or duplicate flag"),
        ("ma keep:0 J-1 N0", "CLIENT_ERROR invalid or duplicate flag"),
    ];
    let mut c = Client::connect_to(addrs.memcached);
    for (request, reply) in memcached {
        assert_eq!(c.call(request), *reply, "{request:?}");
        // The connection is in step: the next request gets its own answer.
        assert_eq!(c.get("keep:0"), Some((0, value(1, 0))), "after {request:?}");
    }
    let redis: &[(&str, &str)] = &[
        ("SET keep:1 v EX abc", "value is not an integer or out of range"),
        ("SET keep:1 v EX -5", "invalid expire time in 'set' command"),
        ("SET keep:1 v PX 99999999999999999999", "value is not an integer or out of range"),
        ("SET keep:1 v EX 9223372036854775807", "invalid expire time in 'set' command"),
        ("INCRBY keep:1 1.5", "value is not an integer or out of range"),
        ("INCRBYFLOAT keep:1 nan", "value is not a valid float"),
        ("EXPIRE keep:1 abc", "value is not an integer or out of range"),
        ("GETRANGE keep:1 a b", "value is not an integer or out of range"),
        ("SETRANGE keep:1 -1 x", "offset is out of range"),
        ("SETRANGE keep:1 999999999999 x", "string exceeds maximum allowed size (proto-max-bulk-len)"),
        ("SCAN abc", "invalid cursor"),
        ("SCAN 0 COUNT -1", "syntax error"),
    ];
    let mut r = Resp::connect(addrs.redis);
    for (request, reply) in redis {
        let args: Vec<&str> = request.split(' ').collect();
        assert_eq!(r.call(&args), format!("-ERR {reply}\r\n"), "{request:?}");
        assert_eq!(r.cmd("PING"), "+PONG\r\n", "after {request:?}");
    }
    // Empty and negative counts are no request at all, as in Redis.
    r.send(b"*0\r\n*-1\r\n*-99999999999\r\n");
    assert_eq!(r.cmd("PING"), "+PONG\r\n");

    bystander.finish();
    seeded.check(addrs, "after invalid numbers");
}

/// Every line of `got` is an error reply of memcached (the text is garbage, so it can be
/// nothing else); the connection may also have been closed for a line too long.
fn memcached_errors_only(got: &[u8]) -> Result<usize, String> {
    let text = String::from_utf8_lossy(got);
    let mut lines = 0;
    for line in text.split_inclusive("\r\n") {
        let ok = line == "ERROR\r\n"
            || (line.starts_with("CLIENT_ERROR ") || line.starts_with("SERVER_ERROR ")) && line.ends_with("\r\n")
            || is_reply_or_reset(line.as_bytes(), "CLIENT_ERROR line too long\r\n");
        if !ok {
            return Err(format!("unexpected reply line {line:?}"));
        }
        lines += 1;
    }
    Ok(lines)
}

#[test]
fn binary_garbage_gets_errors_or_a_close() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), |_| {});
    let addrs = Addrs::of(&server);
    let seeded = seed(addrs);
    let bystander = Bystander::start(addrs, "garbage");

    // A memcached binary-protocol request (magic 0x80, GET "foo"): refused at once with a
    // sentence, not left waiting for a text line that never comes.
    let mut binary = vec![0x80, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    binary.extend_from_slice(b"foo");
    let mut c = Client::connect_to(addrs.memcached);
    c.send(&binary);
    let line = c.line();
    assert!(line.starts_with("CLIENT_ERROR binary protocol"), "{line}");
    assert!(c.is_closed());
    // After text requests too.
    let mut c = Client::connect_to(addrs.memcached);
    c.send(&[&b"version\r\n"[..], &binary].concat());
    assert!(c.line().starts_with("VERSION"));
    assert!(c.line().starts_with("CLIENT_ERROR binary protocol"));
    assert!(c.is_closed());

    // Random bytes, NUL and 0x80 included, 256 KiB per connection, 16 connections per protocol.
    let mut noise = Noise(0x5EED);
    let mut senders = Vec::new();
    for round in 0..32 {
        let mut data = noise.bytes(256 * 1024);
        if round % 4 == 0 {
            data[0] = 0x80;
        }
        let addr = if round % 2 == 0 { addrs.memcached } else { addrs.redis };
        senders.push(thread::spawn(move || (round, blast(addr, data, Duration::from_secs(5)))));
    }
    for sender in senders {
        let (round, (got, _ended)) = sender.join().unwrap();
        if round % 2 == 0 {
            memcached_errors_only(&got).unwrap_or_else(|e| panic!("memcached garbage round {round}: {e}"));
        } else {
            // Redis answers garbage with errors (unknown command, protocol error), nothing else.
            let text = String::from_utf8_lossy(&got);
            for line in text.split_inclusive("\r\n") {
                assert!(line.starts_with("-ERR ") || line.starts_with("-WRONGTYPE "), "Redis garbage round {round}: reply {line:?}");
            }
        }
    }
    bystander.served(8, "binary garbage");

    // Garbage that stops in the middle of a line leaves the connection waiting, not the server.
    let mut quiet = Vec::new();
    for addr in [addrs.memcached, addrs.redis] {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"\x00\x01\x02\xfe\xff garbage without end").unwrap();
        quiet.push(s);
    }
    bystander.served(8, "unfinished garbage");

    bystander.finish();
    seeded.check(addrs, "after binary garbage");
}

#[test]
fn half_requests_then_silence() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), |_| {});
    let addrs = Addrs::of(&server);
    let seeded = seed(addrs);
    let bystander = Bystander::start(addrs, "silence");

    // Requests cut in the middle of the line, of the data block, and of each RESP part.
    let halves: [(SocketAddr, &[u8]); 7] = [
        (addrs.memcached, b"set keep:0 0 0 10\r\nhal"),
        (addrs.memcached, b"set keep:2 0 0 5"),
        (addrs.memcached, b"ms keep:4 5 T0\r\nab"),
        (addrs.memcached, b"get keep:0 kee"),
        (addrs.redis, b"*3\r\n$3\r\nSET\r\n$6\r\nkeep:1\r\n$5\r\nab"),
        (addrs.redis, b"*3\r\n$3\r\nSET\r\n$6\r\nke"),
        (addrs.redis, b"SET keep:3 inline-without-end"),
    ];
    let mut silent: Vec<TcpStream> = halves
        .iter()
        .map(|(addr, bytes)| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(bytes).unwrap();
            s
        })
        .collect();
    bystander.served(40, "half requests");
    seeded.check(addrs, "while half requests wait");
    // The half requests' clients go away: nothing of them is applied.
    silent.clear();
    thread::sleep(Duration::from_millis(100));
    seeded.check(addrs, "after the half requests' clients left");
    bystander.finish();
    drop(server);

    // With an idle timeout the server closes the silent ones itself; busy clients stay.
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(400);
    let server = start_server(dir.path(), |config| config.idle_timeout = Some(timeout));
    let addrs = Addrs::of(&server);
    let bystander = Bystander::start(addrs, "timeout");
    let started = Instant::now();
    let mut silent: Vec<TcpStream> = halves
        .iter()
        .map(|(addr, bytes)| {
            let mut s = TcpStream::connect(if *addr == halves[0].0 { addrs.memcached } else { addrs.redis }).unwrap();
            s.write_all(bytes).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s
        })
        .collect();
    for (i, s) in silent.iter_mut().enumerate() {
        let mut byte = [0u8; 64];
        assert!(matches!(s.read(&mut byte), Ok(0) | Err(_)), "half request {i} was not closed by the idle timeout");
    }
    let waited = started.elapsed();
    assert!(waited >= timeout && waited < Duration::from_secs(5), "closed after {waited:?} with a timeout of {timeout:?}");
    // The bystander, never idle that long, was served throughout and is still connected.
    bystander.served(8, "the idle timeout");
    bystander.finish();
}

#[test]
fn with_an_idle_timeout_clients_that_never_read_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(500);
    let server = start_server(dir.path(), |config| config.idle_timeout = Some(timeout));
    let addrs = Addrs::of(&server);
    let mut c = Client::connect_to(addrs.memcached);
    assert_eq!(c.set("big", &value(7, 1 << 20)), "STORED");
    drop(c);
    let bystander = Bystander::start(addrs, "stuck");
    // Each pipelines GETs of 1 MiB until the server stops reading it, then waits.
    let stuck =
        [never_reads(addrs.memcached, b"get big\r\n".to_vec(), u64::MAX), never_reads(addrs.redis, encode(&["GET", "big"]), u64::MAX)];
    let stuck: Vec<(TcpStream, u64)> = stuck.into_iter().map(|t| t.join().unwrap()).collect();
    // The server sees no progress on its replies for the idle timeout, and closes them: only
    // the bystander's two connections and the one asking remain.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let open: u64 = Client::connect_to(addrs.memcached).stat("curr_connections").parse().unwrap();
        if open == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} connections still open, clients that never read among them");
        thread::sleep(Duration::from_millis(100));
    }
    for (mut s, sent) in stuck {
        assert!(sent > 0);
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let closed = loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break true,
                Ok(_) => {}
            }
        };
        assert!(closed);
    }
    bystander.served(8, "clients that never read being closed");
    bystander.finish();
}

#[test]
fn values_over_the_size_limit_are_refused_and_nothing_else_changes() {
    let dir = tempfile::tempdir().unwrap();
    let limit = 64 * 1024;
    let server = start_server(dir.path(), |config| config.max_item_size = limit);
    let addrs = Addrs::of(&server);
    let seeded = seed(addrs);
    let bystander = Bystander::start(addrs, "limit");

    let too_big = value(99, limit + 1);
    let mut c = Client::connect_to(addrs.memcached);
    // keep:4 holds 64 KiB exactly (value 5 of the seed); one byte more is refused, and the data
    // block is swallowed rather than read as commands.
    for request in [
        [format!("set keep:4 0 0 {}\r\n", too_big.len()).into_bytes(), too_big.clone(), b"\r\n".to_vec()].concat(),
        [format!("ms keep:4 {} T0\r\n", too_big.len()).into_bytes(), too_big.clone(), b"\r\n".to_vec()].concat(),
        [format!("append keep:4 0 0 {}\r\n", too_big.len()).into_bytes(), too_big.clone(), b"\r\n".to_vec()].concat(),
    ] {
        c.send(&request);
        assert_eq!(c.line(), "SERVER_ERROR object too large for cache");
        assert_eq!(c.call("version").split(' ').next(), Some("VERSION"));
    }
    // `noreply`: silent, swallowed all the same.
    c.send(&[format!("set keep:4 0 0 {} noreply\r\n", too_big.len()).into_bytes(), too_big.clone(), b"\r\n".to_vec()].concat());
    assert_eq!(c.call("version").split(' ').next(), Some("VERSION"));
    // An append that would take a value over the limit.
    assert_eq!(c.store("append", "keep:4", 0, 0, b"x"), "SERVER_ERROR out of memory storing object");

    // Redis: a value over the store's largest value (64 MiB by default, or the item size if
    // larger) is refused with a sentence; the connection stays.
    let mut r = Resp::connect(addrs.redis);
    let huge = vec![b'h'; (64 << 20) + 1];
    r.send_command(&[&b"SET"[..], b"keep:1", &huge]);
    let reply = r.reply();
    assert!(reply.starts_with("-ERR ") && reply.contains("67108865"), "{reply}");
    r.send_command(&[&b"APPEND"[..], b"keep:3", &huge[..(64 << 20)]]);
    let reply = r.reply();
    assert!(reply.starts_with("-ERR "), "{reply}");
    assert_eq!(r.cmd("PING"), "+PONG\r\n");
    drop(huge);

    bystander.finish();
    seeded.check(addrs, "after values over the limit");
}

#[test]
fn one_request_cannot_ask_for_an_unbounded_reply() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), |_| {});
    let addrs = Addrs::of(&server);
    let big = value(7, 1 << 20);
    let mut c = Client::connect_to(addrs.memcached);
    assert_eq!(c.set("big", &big), "STORED");
    let mut r = Resp::connect(addrs.redis);

    // Up to 32 MiB of values in one reply: answered in full.
    c.send(format!("get{}\r\n", " big".repeat(32)).as_bytes());
    let values = c.values();
    assert_eq!(values.len(), 32);
    assert!(values.iter().all(|(_, _, v, _)| *v == big));
    let mget: Vec<&str> = std::iter::once("MGET").chain(std::iter::repeat_n("big", 32)).collect();
    r.send_command(&mget);
    let reply = r.reply();
    assert!(reply.starts_with("*32\r\n$1048576\r\n") && reply.len() > 32 << 20, "{}", &reply[..40]);

    // More: refused as a whole with a sentence, and the connections go on.
    for verb in ["get", "gets", "gat 0"] {
        c.send(format!("{verb}{}\r\n", " big".repeat(33)).as_bytes());
        assert_eq!(c.line(), "SERVER_ERROR the values asked for exceed 32 MiB in one reply; get fewer keys at once", "{verb}");
        assert_eq!(c.call("version").split(' ').next(), Some("VERSION"));
    }
    let mget: Vec<&str> = std::iter::once("MGET").chain(std::iter::repeat_n("big", 100_000)).collect();
    assert_eq!(r.call(&mget), "-ERR the values asked for exceed 32 MiB in one reply; MGET fewer keys at once\r\n");
    assert_eq!(r.cmd("PING"), "+PONG\r\n");
    // A single value is never refused, whatever its size.
    let huge = vec![b'q'; 40 << 20];
    assert_eq!(r.call(&[&b"SET"[..], b"huge", &huge]), "+OK\r\n");
    r.send_command(&["MGET", "huge", "missing"]);
    let reply = r.reply();
    assert!(reply.starts_with("*2\r\n$41943040\r\nqqq") && reply.ends_with("qqq\r\n$-1\r\n"), "{}", &reply[..20]);
    assert_eq!(reply.len(), "*2\r\n$41943040\r\n".len() + (40 << 20) + "\r\n$-1\r\n".len());
}

// ---------------------------------------------------------------------------------------------
// Memory: the server in a child process, idle connections and clients that never read.

/// The environment variable that turns [`server_process_for_the_memory_test`] into a server.
const CHILD_ENV: &str = "CROWNDB_BAD_INPUT_SERVER_DIR";

/// Not a test of its own: the server process of
/// [`idle_connections_and_clients_that_never_read_keep_memory_bounded`], which starts this
/// test executable again on this function with `CROWNDB_BAD_INPUT_SERVER_DIR` set. It serves
/// until its stdin closes, and returns at once when the variable is not set.
#[test]
fn server_process_for_the_memory_test() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else { return };
    let server = start_server(&dir.join("data"), |config| config.threads = 2);
    let addrs = Addrs::of(&server);
    std::fs::write(dir.join("addrs.tmp"), format!("{} {}", addrs.memcached, addrs.redis)).unwrap();
    std::fs::rename(dir.join("addrs.tmp"), dir.join("addrs")).unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    server.shutdown().unwrap();
}

/// The child server process; killed if the test fails before it ends it.
struct ServerProcess {
    child: Child,
    addrs: Addrs,
}

impl ServerProcess {
    fn start(dir: &Path) -> ServerProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["server_process_for_the_memory_test", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting the server process");
        let deadline = Instant::now() + Duration::from_secs(30);
        let text = loop {
            if let Ok(text) = std::fs::read_to_string(dir.join("addrs")) {
                break text;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the server process exited: {status}");
            }
            assert!(Instant::now() < deadline, "the server process did not start in 30 s");
            thread::sleep(Duration::from_millis(20));
        };
        let (mc, redis) = text.split_once(' ').unwrap();
        ServerProcess { child, addrs: Addrs { memcached: mc.parse().unwrap(), redis: redis.parse().unwrap() } }
    }

    /// Resident memory, in bytes (VmRSS of /proc/<pid>/status).
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("reading the server's /proc status");
        let kb: u64 =
            status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches(" kB").parse().ok()).unwrap();
        kb * 1024
    }

    /// CPU time used so far (user + system, from /proc/<pid>/stat).
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).expect("reading the server's /proc stat");
        // Fields after the command name (which is in parentheses): utime and stime are 12th and 13th.
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf only reads a system setting.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(ticks * 1000 / per_second)
    }

    /// Closes stdin and waits for a clean exit.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the server process ended with {status}");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Raises the soft limit of open files to `wanted` if the hard limit allows; returns the limit.
// rlim_t is u64 on Linux but not on every target.
#[allow(clippy::unnecessary_cast)]
fn raise_fd_limit(wanted: u64) -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < wanted as libc::rlim_t {
            limit.rlim_cur = (wanted as libc::rlim_t).min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
    }
    limit.rlim_cur as u64
}

/// Samples the server's RSS every 20 ms until stopped; the peak.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut peak = 0;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                        if let Some(kb) = status
                            .lines()
                            .find_map(|l| l.strip_prefix("VmRSS:"))
                            .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
                        {
                            peak = peak.max(kb * 1024);
                        }
                    }
                    thread::sleep(Duration::from_millis(20));
                }
                peak
            })
        };
        RssSampler { stop, thread }
    }

    fn peak(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// A client that sends `request` over and over without reading a byte of the replies, until
/// the server stops taking its requests (a send blocks for a second) or `max` were sent.
/// Returns the open socket and how many requests were sent.
fn never_reads(addr: SocketAddr, request: Vec<u8>, max: u64) -> JoinHandle<(TcpStream, u64)> {
    thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
        let per_write = (64 * 1024 / request.len()).max(1) as u64;
        let chunk = request.repeat(per_write as usize);
        let mut sent = 0;
        while sent < max {
            if s.write_all(&chunk).is_err() {
                break;
            }
            sent += per_write;
        }
        (s, sent)
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

#[test]
fn idle_connections_and_clients_that_never_read_keep_memory_bounded() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("SKIPPED: no /proc to read the server's memory from");
        return;
    }
    const IDLE: u64 = 2_000;
    let fds = raise_fd_limit(IDLE + 500);
    let idle = IDLE.min(fds.saturating_sub(500));
    assert!(idle >= 500, "only {fds} file descriptors allowed: raise `ulimit -n` to at least 1000");
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let addrs = server.addrs;
    let seeded = seed(addrs);
    // A 1 MiB value, the largest memcached takes by default, for the non-reading clients.
    let big = value(7, 1 << 20);
    let mut c = Client::connect_to(addrs.memcached);
    assert_eq!(c.set("big", &big), "STORED");
    let bystander = Bystander::start(addrs, "memory");
    bystander.served(40, "warm-up");
    let baseline = server.rss();

    // Idle connections, half of each protocol; one in ten said one thing first.
    let mut held = Vec::new();
    for i in 0..idle {
        let addr = if i % 2 == 0 { addrs.memcached } else { addrs.redis };
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("idle connection {i}: {e}"));
        if i % 10 == 0 {
            s.write_all(if i % 2 == 0 { b"version\r\n" } else { b"PING\r\n" }).unwrap();
        }
        held.push(s);
    }
    bystander.served(40, "idle connections");
    // Each one is really being served: the last one opened answers.
    let last = held.last_mut().unwrap();
    last.write_all(if idle % 2 == 1 { b"version\r\n" } else { b"PING\r\n" }).unwrap();
    let mut buf = [0u8; 64];
    last.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert!(last.read(&mut buf).unwrap() > 0);
    let with_idle = server.rss();

    // Clients that pipeline GETs of the 1 MiB value and never read, 4 per protocol, until the
    // server stops taking their requests. And single requests whose one reply would be 2 GB.
    let sampler = RssSampler::start(server.child.id());
    let mut non_readers = Vec::new();
    for i in 0..8 {
        let (addr, request) = if i % 2 == 0 { (addrs.memcached, b"get big\r\n".to_vec()) } else { (addrs.redis, encode(&["GET", "big"])) };
        non_readers.push(never_reads(addr, request, u64::MAX));
    }
    let many_keys = [b"get".to_vec(), b" big".repeat(2_000), b"\r\n".to_vec()].concat();
    let mget: Vec<&str> = std::iter::once("MGET").chain(std::iter::repeat_n("big", 2_000)).collect();
    non_readers.push(never_reads(addrs.memcached, many_keys, 2));
    non_readers.push(never_reads(addrs.redis, encode(&mget), 2));
    let non_readers: Vec<(TcpStream, u64)> = non_readers.into_iter().map(|t| t.join().unwrap()).collect();
    let pipelined: u64 = non_readers.iter().map(|(_, n)| n).sum();
    bystander.served(40, "clients that never read");
    thread::sleep(Duration::from_millis(500));
    let peak = sampler.peak().max(server.rss());
    seeded.check(addrs, "with clients that never read");
    assert_eq!(c.get("big"), Some((0, big)));
    drop(non_readers);
    drop(held);
    thread::sleep(Duration::from_millis(500));
    let after = server.rss();
    let ops = bystander.finish();

    eprintln!(
        "server RSS: {:.1} MiB at the start, {:.1} MiB with {idle} idle connections ({:.1} KiB each), peak {:.1} MiB with 10 \
         non-reading clients ({pipelined} pipelined requests sent), {:.1} MiB after they left; the bystander did {ops} operations",
        mib(baseline),
        mib(with_idle),
        with_idle.saturating_sub(baseline) as f64 / idle as f64 / 1024.0,
        mib(peak),
        mib(after)
    );
    // An idle connection holds no buffer (net::refill allocates when bytes arrive): about 3 KiB
    // each, against 11 KiB when every connection had its 16 KiB buffers from the start.
    let per_idle = with_idle.saturating_sub(baseline) / idle;
    assert!(per_idle < 6 << 10, "each idle connection costs {per_idle} bytes of server memory");
    let bound = 256 << 20;
    assert!(with_idle < baseline + bound, "{idle} idle connections took the server from {baseline} to {with_idle} bytes");
    assert!(peak < baseline + bound, "clients that never read took the server from {baseline} to {peak} bytes");
    seeded.check(addrs, "at the end");

    // A 1 MiB `get` line arriving in 16,384 small pieces is searched for its end once, not once
    // per read (up to 8 GiB of scanning): the server's CPU time stays small. (Measured at
    // opt-level 1: 190 ms, against 420 ms when every read rescanned the line.)
    let cpu_before = server.cpu_time();
    let mut c = Client::connect_to(addrs.memcached);
    let keys: Vec<String> = (0..40).map(|i| format!("keep:{i}")).chain((0..105_000).map(|i| format!("gone{i}"))).collect();
    let line = format!("get {}\r\n", keys.join(" "));
    assert!(line.len() > 1_000_000 && line.len() < 1 << 20);
    for piece in line.as_bytes().chunks(line.len().div_ceil(16_384)) {
        c.send(piece);
        thread::sleep(Duration::from_micros(50));
    }
    assert_eq!(c.values().len(), 40);
    let cpu = server.cpu_time() - cpu_before;
    eprintln!("a 1 MiB get line in 16,384 pieces took {:.0} ms of server CPU", cpu.as_secs_f64() * 1e3);
    assert!(cpu < Duration::from_millis(1500), "the server spent {cpu:?} of CPU on one 1 MiB get line sent in pieces");
    server.stop();
}
