//! `max_client_memory` (Redis's `maxmemory-clients`): when the buffers of all connections
//! together pass it, the connections holding the most are closed with a sentence saying why,
//! and everyone else goes on being served.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::resp::Resp;
use common::Client;

const LIMIT: usize = 8 << 20;

/// Sends `request` 64 times without reading a byte (64 MiB of replies asked for); returns the
/// connection.
fn flood_without_reading(addr: SocketAddr, request: &'static [u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(&request.repeat(64)).unwrap();
    stream
}

/// Says it will send nothing more, then reads until the server closes the connection (or
/// 20 s pass); returns the last bytes read.
fn drain_until_closed(mut stream: TcpStream) -> Option<Vec<u8>> {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return Some(tail),
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                let keep = tail.len().saturating_sub(4096);
                tail.drain(..keep);
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(tail),
            Err(_) => return None,
        }
    }
    None
}

#[test]
fn clients_over_the_memory_limit_are_closed_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |c| c.max_client_memory = LIMIT);
    let (memcached, redis) = (server.memcached_addr().unwrap(), server.redis_addr().unwrap());
    let mut client = Client::connect(&server);
    let big = vec![b'x'; 1 << 20];
    assert_eq!(client.set("big", &big), "STORED");

    // Clients that ask for the 1 MiB value again and again and never read: each makes the
    // server hold up to ~2 MiB of replies, more than the limit allows for all of them.
    let floods: Vec<_> = (0..10)
        .map(|i| {
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    flood_without_reading(memcached, b"get big\r\n")
                } else {
                    flood_without_reading(redis, b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
                }
            })
        })
        .collect();
    let floods: Vec<TcpStream> = floods.into_iter().map(|t| t.join().unwrap()).collect();
    // Until the server has read and answered as much as it can: every one is blocked on a full socket.
    std::thread::sleep(Duration::from_millis(500));

    // Meanwhile the others are served.
    assert_eq!(client.set("k", b"v"), "STORED");
    assert_eq!(client.get("big"), Some((0, big.clone())));
    let mut r = Resp::connect(redis);
    assert_eq!(r.cmd("PING"), "+PONG\r\n");

    let evicted: u64 = client.stat("evicted_clients").parse().unwrap();
    assert!(evicted >= 1, "no client was closed although their buffers passed {LIMIT} bytes");
    let held: usize = client.stat("client_buffer_bytes").parse().unwrap();
    assert!(held <= LIMIT + (4 << 20), "client buffers hold {held} bytes, limit {LIMIT}");

    // An evicted client is told why; the rest are closed when they go away.
    let endings: Vec<Option<Vec<u8>>> = floods.into_iter().map(drain_until_closed).collect();
    let told = endings.iter().flatten().filter(|tail| {
        let text = String::from_utf8_lossy(tail);
        text.contains("SERVER_ERROR out of memory") || text.contains("-ERR client evicted")
    });
    assert!(told.count() >= 1, "no evicted client got the reason");
    drop(r);

    // Once they are gone their buffers are given back.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let held: usize = client.stat("client_buffer_bytes").parse().unwrap();
        if held < 1 << 20 {
            break;
        }
        assert!(Instant::now() < deadline, "client buffers still hold {held} bytes after the clients left");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(client.get("k"), Some((0, b"v".to_vec())));
}

#[test]
fn a_huge_redis_request_is_evicted_past_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |c| c.max_client_memory = LIMIT);
    let redis = server.redis_addr().unwrap();
    // A 100 MB value really being sent: the query buffer grows with it until the limit.
    let mut stream = TcpStream::connect(redis).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$100000000\r\n").unwrap();
    let chunk = vec![b'y'; 1 << 20];
    let mut sent = 0;
    while sent < 100 && stream.write_all(&chunk).is_ok() {
        sent += 1;
    }
    assert!(sent < 100, "the server took all 100 MB of a request over the {LIMIT}-byte limit");
    let tail = drain_until_closed(stream).expect("the connection was closed");
    assert!(String::from_utf8_lossy(&tail).contains("-ERR client evicted"), "{:?}", String::from_utf8_lossy(&tail));
    let mut r = Resp::connect(redis);
    assert_eq!(r.cmd("EXISTS huge"), ":0\r\n");
    assert!(r.cmd("INFO clients").contains("evicted_clients:1"));
}
