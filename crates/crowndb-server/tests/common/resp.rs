//! A plain-socket RESP client for the Redis tests: sends commands or raw bytes, and reads one
//! reply at a time as its exact wire bytes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Resp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Resp {
    pub fn connect(addr: SocketAddr) -> Resp {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        stream.set_nodelay(true).unwrap();
        Resp { reader: BufReader::new(stream.try_clone().unwrap()), writer: stream }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// Sends a command as a multibulk request.
    pub fn send_command<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send(&encode(args));
    }

    /// One whole reply, as the bytes on the wire (lossy UTF-8, for readable assertions).
    pub fn reply(&mut self) -> String {
        let mut raw = Vec::new();
        self.read_value(&mut raw);
        String::from_utf8_lossy(&raw).into_owned()
    }

    /// Sends a command and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> String {
        self.send_command(args);
        self.reply()
    }

    /// Sends a command given as one space-separated string, reads the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        let args: Vec<&str> = line.split(' ').collect();
        self.call(&args)
    }

    /// Whether the server closed the connection (EOF, or a reset).
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0) | Err(_))
    }

    fn line(&mut self, raw: &mut Vec<u8>) -> Vec<u8> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).expect("read a reply line");
        assert!(
            line.ends_with(b"\r\n"),
            "incomplete reply line {:?} after {:?}",
            String::from_utf8_lossy(&line),
            String::from_utf8_lossy(raw)
        );
        raw.extend_from_slice(&line);
        line.truncate(line.len() - 2);
        line
    }

    fn read_value(&mut self, raw: &mut Vec<u8>) {
        let line = self.line(raw);
        let (kind, rest) = line.split_first().expect("an empty reply line");
        let n = || std::str::from_utf8(rest).unwrap().parse::<i64>().unwrap();
        match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {}
            b'$' | b'=' | b'!' => {
                let len = n();
                if len >= 0 {
                    let mut data = vec![0; len as usize + 2];
                    self.reader.read_exact(&mut data).expect("read a bulk");
                    raw.extend_from_slice(&data);
                }
            }
            b'*' | b'~' | b'>' => {
                for _ in 0..n().max(0) {
                    self.read_value(raw);
                }
            }
            b'%' | b'|' => {
                for _ in 0..n() * 2 {
                    self.read_value(raw);
                }
            }
            other => panic!("unexpected reply type {:?}", *other as char),
        }
    }
}

/// A multibulk request.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `$<len>\r\n<text>\r\n`.
pub fn bulk(text: &str) -> String {
    format!("${}\r\n{text}\r\n", text.len())
}

/// A RESP2 array of bulk strings.
pub fn bulks(items: &[&str]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for item in items {
        out.push_str(&bulk(item));
    }
    out
}

/// A server on a temporary directory (test defaults), for the Redis tests.
pub fn start() -> (tempfile::TempDir, crowndb_server::Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = super::start(dir.path());
    (dir, server)
}

/// A client of the server's Redis listener.
pub fn connect(server: &crowndb_server::Server) -> Resp {
    Resp::connect(server.redis_addr().expect("redis listener"))
}

pub const OK: &str = "+OK\r\n";
pub const NIL: &str = "$-1\r\n";

/// An integer reply.
pub fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

/// An error reply with this text (its prefix included: `ERR ...`, `WRONGTYPE ...`).
pub fn err(text: &str) -> String {
    format!("-{text}\r\n")
}
