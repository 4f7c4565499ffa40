//! A server on 127.0.0.1 (port 0) over a temporary directory, and a plain-socket memcached
//! text-protocol client, for the integration tests.

#![allow(dead_code)]

pub mod resp;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use crowndb_server::{Config, Server};

/// Starts a server on `dir` with the test defaults (both protocols on loopback, port 0, 2 threads), adjusted by
/// `tweak`.
pub fn start_with(dir: &Path, tweak: impl FnOnce(&mut Config)) -> Server {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        memcached_addr: Some("127.0.0.1:0".into()),
        redis_addr: Some("127.0.0.1:0".into()),
        threads: 2,
        ..Config::default()
    };
    tweak(&mut config);
    Server::start(config).expect("server starts")
}

pub fn start(dir: &Path) -> Server {
    start_with(dir, |_| {})
}

/// A blocking client that speaks the text protocol over one connection.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(server: &Server) -> Client {
        Client::connect_to(server.memcached_addr().expect("memcached listener"))
    }

    pub fn connect_to(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.set_nodelay(true).unwrap();
        Client { reader: BufReader::new(stream.try_clone().unwrap()), writer: stream }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// Reads one reply line, without its `\r\n`.
    pub fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).expect("read a line");
        assert!(line.ends_with(b"\r\n"), "incomplete line: {:?}", String::from_utf8_lossy(&line));
        line.truncate(line.len() - 2);
        String::from_utf8(line).expect("utf-8 line")
    }

    /// Reads `n` bytes of a data block and its `\r\n`.
    pub fn block(&mut self, n: usize) -> Vec<u8> {
        let mut data = vec![0; n + 2];
        self.reader.read_exact(&mut data).expect("read a data block");
        assert_eq!(&data[n..], b"\r\n", "data block not followed by CRLF");
        data.truncate(n);
        data
    }

    /// Sends a request line (CRLF added) and reads the one-line reply.
    pub fn call(&mut self, request: &str) -> String {
        self.send(format!("{request}\r\n").as_bytes());
        self.line()
    }

    /// `<verb> <key> <flags> <exptime> <len>` and the value; the reply line.
    pub fn store(&mut self, verb: &str, key: &str, flags: u32, exptime: i64, value: &[u8]) -> String {
        let mut request = format!("{verb} {key} {flags} {exptime} {}\r\n", value.len()).into_bytes();
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
        self.send(&request);
        self.line()
    }

    pub fn set(&mut self, key: &str, value: &[u8]) -> String {
        self.store("set", key, 0, 0, value)
    }

    /// Reads `VALUE` lines up to `END`: (key, flags, value, cas).
    pub fn values(&mut self) -> Vec<(String, u32, Vec<u8>, Option<u64>)> {
        let mut items = Vec::new();
        loop {
            let line = self.line();
            if line == "END" {
                return items;
            }
            let parts: Vec<&str> = line.split(' ').collect();
            assert_eq!(parts[0], "VALUE", "unexpected line {line:?}");
            let len: usize = parts[3].parse().unwrap();
            let cas = parts.get(4).map(|c| c.parse().unwrap());
            let data = self.block(len);
            items.push((parts[1].to_string(), parts[2].parse().unwrap(), data, cas));
        }
    }

    /// `get <key>`: the value and flags, if any.
    pub fn get(&mut self, key: &str) -> Option<(u32, Vec<u8>)> {
        self.send(format!("get {key}\r\n").as_bytes());
        let mut items = self.values();
        assert!(items.len() <= 1);
        items.pop().map(|(_, flags, data, _)| (flags, data))
    }

    /// `gets <key>`: the cas unique, if the key exists.
    pub fn cas_of(&mut self, key: &str) -> Option<u64> {
        self.send(format!("gets {key}\r\n").as_bytes());
        self.values().pop().map(|(_, _, _, cas)| cas.expect("gets returns a cas"))
    }

    /// Whether the server closed the connection (reads EOF within the timeout).
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0) | Err(_))
    }

    /// `stats`: the value of one STAT line.
    pub fn stat(&mut self, name: &str) -> String {
        self.send(b"stats\r\n");
        let mut found = None;
        loop {
            let line = self.line();
            if line == "END" {
                return found.unwrap_or_else(|| panic!("no stat {name}"));
            }
            let mut parts = line.splitn(3, ' ');
            assert_eq!(parts.next(), Some("STAT"));
            if parts.next() == Some(name) {
                found = parts.next().map(str::to_string);
            }
        }
    }
}
