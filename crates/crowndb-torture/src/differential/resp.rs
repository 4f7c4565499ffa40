//! A minimal RESP2/RESP3 client for the differential harness: it sends a command as an array
//! of bulk strings and reads one reply, keeping the reply's exact bytes (compared as they are)
//! and its parsed shape (for the normalised comparisons).

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One reply: its bytes on the wire, and what they say.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub raw: Vec<u8>,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `+` simple string.
    Simple(Vec<u8>),
    /// `-` error or `!` blob error.
    Error(Vec<u8>),
    /// `:` integer.
    Int(i64),
    /// `$` bulk or `=` verbatim string; `None` is RESP2's `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*` array, `~` set or `>` push; `None` is RESP2's `*-1`.
    Array(Option<Vec<Reply>>),
    /// `%` map (and `|` attributes, which the harness never asks for).
    Map(Vec<(Reply, Reply)>),
    /// `_` null.
    Null,
    /// `,` double, `(` big number, `#` boolean: kept as their text.
    Other(u8, Vec<u8>),
}

impl Reply {
    /// A reply made by the harness (a whole SCAN walk), not read from a socket.
    pub fn synthetic(kind: Kind) -> Reply {
        let raw = format!("{kind:?}").into_bytes();
        Reply { raw, kind }
    }

    pub fn is_error(&self) -> bool {
        matches!(self.kind, Kind::Error(_))
    }

    pub fn is_simple(&self, text: &str) -> bool {
        matches!(&self.kind, Kind::Simple(s) if s == text.as_bytes())
    }

    pub fn bulk(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Bulk(Some(b)) | Kind::Simple(b) => Some(b),
            _ => None,
        }
    }
}

/// One connection to a server.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    pub fn connect(addr: &str) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        let writer = stream.try_clone()?;
        Ok(Conn { reader: BufReader::new(stream), writer })
    }

    /// Sends `args` and reads the reply.
    pub fn call(&mut self, args: &[Vec<u8>]) -> io::Result<Reply> {
        self.writer.write_all(&encode(args))?;
        read_reply(&mut self.reader)
    }
}

pub fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn read_line(r: &mut impl BufRead, raw: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
    }
    raw.extend_from_slice(&line);
    if !line.ends_with(b"\r\n") {
        return Err(bad(format!("reply line without CRLF: {}", show(&line))));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn number(text: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(text).ok().and_then(|s| s.parse().ok()).ok_or_else(|| bad(format!("bad length or integer {}", show(text))))
}

/// Reads one complete reply.
pub fn read_reply(r: &mut impl BufRead) -> io::Result<Reply> {
    let mut raw = Vec::new();
    let kind = read_kind(r, &mut raw)?;
    Ok(Reply { raw, kind })
}

fn read_blob(r: &mut impl BufRead, raw: &mut Vec<u8>, len: i64) -> io::Result<Vec<u8>> {
    let mut data = vec![0; len as usize + 2];
    r.read_exact(&mut data)?;
    raw.extend_from_slice(&data);
    if !data.ends_with(b"\r\n") {
        return Err(bad("bulk string not followed by CRLF".into()));
    }
    data.truncate(len as usize);
    Ok(data)
}

fn read_kind(r: &mut impl BufRead, raw: &mut Vec<u8>) -> io::Result<Kind> {
    let line = read_line(r, raw)?;
    let Some((&tag, rest)) = line.split_first() else { return Err(bad("empty reply line".into())) };
    let rest = rest.to_vec();
    Ok(match tag {
        b'+' => Kind::Simple(rest),
        b'-' => Kind::Error(rest),
        b':' => Kind::Int(number(&rest)?),
        b'_' => Kind::Null,
        b',' | b'(' | b'#' => Kind::Other(tag, rest),
        b'$' | b'=' | b'!' => {
            let len = number(&rest)?;
            if len < 0 {
                Kind::Bulk(None)
            } else {
                let data = read_blob(r, raw, len)?;
                if tag == b'!' {
                    Kind::Error(data)
                } else {
                    Kind::Bulk(Some(data))
                }
            }
        }
        b'*' | b'~' | b'>' => {
            let len = number(&rest)?;
            if len < 0 {
                Kind::Array(None)
            } else {
                let mut items = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    items.push(read_child(r, raw)?);
                }
                Kind::Array(Some(items))
            }
        }
        b'%' | b'|' => {
            let len = number(&rest)?;
            let mut pairs = Vec::with_capacity(len.max(0) as usize);
            for _ in 0..len {
                let k = read_child(r, raw)?;
                let v = read_child(r, raw)?;
                pairs.push((k, v));
            }
            if tag == b'|' {
                // Attributes precede the real reply.
                return read_kind(r, raw);
            }
            Kind::Map(pairs)
        }
        other => return Err(bad(format!("unknown reply type {:?} in {}", other as char, show(&line)))),
    })
}

fn read_child(r: &mut impl BufRead, raw: &mut Vec<u8>) -> io::Result<Reply> {
    let mut own = Vec::new();
    let kind = read_kind(r, &mut own)?;
    raw.extend_from_slice(&own);
    Ok(Reply { raw: own, kind })
}

/// Bytes as printable text: `\r\n` and other control or non-ASCII bytes escaped.
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// A command as redis-cli would take it: each argument quoted when needed.
pub fn show_command(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| {
            let text = show(a);
            if a.is_empty() || text.len() != a.len() || a.iter().any(|&b| b == b' ' || b == b'\'') {
                format!("\"{text}\"")
            } else {
                text
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A reply as printable text, long ones cut.
pub fn show_reply(reply: &Reply) -> String {
    let mut s = show(&reply.raw);
    if s.len() > 600 {
        s.truncate(600);
        s.push_str("...");
    }
    s
}
