//! Writing frames in the protocol the client chose: RESP2 (the default) or RESP3 (after
//! `HELLO 3`).
//!
//! RESP2 has no map, set, double, boolean, big number, verbatim string or push; Redis sends them
//! as the closest RESP2 type, and so do we:
//!
//! | Frame           | RESP3                    | RESP2                         |
//! |-----------------|--------------------------|-------------------------------|
//! | `Null`          | `_\r\n`                  | `$-1\r\n`                     |
//! | `NullArray`     | `_\r\n`                  | `*-1\r\n`                     |
//! | `Map` of n      | `%n` then k, v, ...      | `*2n` then k, v, ...          |
//! | `Set` of n      | `~n`                     | `*n`                          |
//! | `Double`        | `,1.5\r\n`               | `$3\r\n1.5\r\n`               |
//! | `Boolean`       | `#t\r\n` / `#f\r\n`      | `:1\r\n` / `:0\r\n`           |
//! | `BigNumber`     | `(123\r\n`               | `$3\r\n123\r\n`               |
//! | `Verbatim`      | `=7\r\ntxt:abc\r\n`      | `$3\r\nabc\r\n`               |
//! | `Push` of n     | `>n`                     | `*n`                          |
//!
//! Simple strings and errors never contain CR or LF on the wire: they are replaced with spaces.

use bytes::{BufMut, Bytes, BytesMut};

use super::frame::Frame;
use super::number::{format_double, Decimal};

/// The reply protocol of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// RESP2, what every connection starts with.
    #[default]
    Resp2,
    /// RESP3, chosen with `HELLO 3`.
    Resp3,
}

/// Appends `frame`, encoded for `protocol`, to `out`.
pub fn encode(frame: &Frame, protocol: Protocol, out: &mut impl BufMut) {
    let resp3 = protocol == Protocol::Resp3;
    match frame {
        Frame::Simple(text) => line(out, b'+', text),
        Frame::Error(text) => line(out, b'-', text),
        Frame::Integer(n) => header(out, b':', *n),
        Frame::Bulk(data) => bulk(out, data),
        Frame::Null if resp3 => out.put_slice(b"_\r\n"),
        Frame::Null => out.put_slice(b"$-1\r\n"),
        Frame::NullArray if resp3 => out.put_slice(b"_\r\n"),
        Frame::NullArray => out.put_slice(b"*-1\r\n"),
        Frame::Array(items) => aggregate(out, b'*', items, protocol),
        Frame::Map(pairs) => {
            if resp3 {
                header(out, b'%', len_i64(pairs.len()));
            } else {
                header(out, b'*', len_i64(pairs.len()).saturating_mul(2));
            }
            for (key, value) in pairs {
                encode(key, protocol, out);
                encode(value, protocol, out);
            }
        }
        Frame::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, protocol),
        Frame::Push(items) => aggregate(out, if resp3 { b'>' } else { b'*' }, items, protocol),
        Frame::Double(d) => {
            let text = format_double(*d);
            if resp3 {
                out.put_u8(b',');
                out.put_slice(&text);
                out.put_slice(b"\r\n");
            } else {
                bulk(out, &text);
            }
        }
        Frame::Boolean(b) if resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Frame::Boolean(b) => out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
        Frame::BigNumber(digits) if resp3 => line(out, b'(', digits),
        Frame::BigNumber(digits) => bulk(out, digits),
        Frame::Verbatim { format, text } if resp3 => {
            header(out, b'=', len_i64(text.len()).saturating_add(4));
            out.put_slice(format);
            out.put_u8(b':');
            out.put_slice(text);
            out.put_slice(b"\r\n");
        }
        Frame::Verbatim { text, .. } => bulk(out, text),
    }
}

/// `frame` encoded for `protocol`, as one buffer.
pub fn to_bytes(frame: &Frame, protocol: Protocol) -> Bytes {
    let mut out = BytesMut::new();
    encode(frame, protocol, &mut out);
    out.freeze()
}

/// Appends a request as a client sends it: a multibulk array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut impl BufMut) {
    header(out, b'*', len_i64(args.len()));
    for arg in args {
        bulk(out, arg.as_ref());
    }
}

fn aggregate(out: &mut impl BufMut, prefix: u8, items: &[Frame], protocol: Protocol) {
    header(out, prefix, len_i64(items.len()));
    for item in items {
        encode(item, protocol, out);
    }
}

/// `<prefix><n>\r\n`.
fn header(out: &mut impl BufMut, prefix: u8, n: i64) {
    out.put_u8(prefix);
    out.put_slice(Decimal::new(n).as_bytes());
    out.put_slice(b"\r\n");
}

/// `$<len>\r\n<data>\r\n`.
fn bulk(out: &mut impl BufMut, data: &[u8]) {
    header(out, b'$', len_i64(data.len()));
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// `<prefix><text>\r\n`, with CR and LF in `text` replaced by spaces.
fn line(out: &mut impl BufMut, prefix: u8, text: &[u8]) {
    out.put_u8(prefix);
    let mut rest = text;
    while let Some(i) = rest.iter().position(|&b| b == b'\r' || b == b'\n') {
        out.put_slice(&rest[..i]);
        out.put_u8(b' ');
        rest = &rest[i + 1..];
    }
    out.put_slice(rest);
    out.put_slice(b"\r\n");
}

fn len_i64(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(frame: &Frame) -> (Vec<u8>, Vec<u8>) {
        (to_bytes(frame, Protocol::Resp2).to_vec(), to_bytes(frame, Protocol::Resp3).to_vec())
    }

    /// `frame` encodes to `resp2` and `resp3`.
    fn check(frame: Frame, resp2: &[u8], resp3: &[u8]) {
        let (two, three) = both(&frame);
        assert_eq!(two.escape_ascii().to_string(), resp2.escape_ascii().to_string(), "RESP2 {frame:?}");
        assert_eq!(three.escape_ascii().to_string(), resp3.escape_ascii().to_string(), "RESP3 {frame:?}");
    }

    #[test]
    fn resp2_types_are_the_same_in_both() {
        check(Frame::ok(), b"+OK\r\n", b"+OK\r\n");
        check(Frame::err("unknown command"), b"-ERR unknown command\r\n", b"-ERR unknown command\r\n");
        check(Frame::Integer(0), b":0\r\n", b":0\r\n");
        check(Frame::Integer(-42), b":-42\r\n", b":-42\r\n");
        check(Frame::Integer(i64::MIN), b":-9223372036854775808\r\n", b":-9223372036854775808\r\n");
        check(Frame::bulk("foo"), b"$3\r\nfoo\r\n", b"$3\r\nfoo\r\n");
        check(Frame::bulk(""), b"$0\r\n\r\n", b"$0\r\n\r\n");
        check(Frame::bulk(&b"a\r\n\0b"[..]), b"$5\r\na\r\n\0b\r\n", b"$5\r\na\r\n\0b\r\n");
        check(Frame::Array(vec![Frame::bulk("a"), Frame::Integer(1)]), b"*2\r\n$1\r\na\r\n:1\r\n", b"*2\r\n$1\r\na\r\n:1\r\n");
        check(Frame::Array(vec![]), b"*0\r\n", b"*0\r\n");
    }

    #[test]
    fn nulls() {
        check(Frame::Null, b"$-1\r\n", b"_\r\n");
        check(Frame::NullArray, b"*-1\r\n", b"_\r\n");
        check(Frame::Array(vec![Frame::bulk("v"), Frame::Null]), b"*2\r\n$1\r\nv\r\n$-1\r\n", b"*2\r\n$1\r\nv\r\n_\r\n");
    }

    #[test]
    fn maps_flatten_in_resp2() {
        check(
            Frame::Map(vec![(Frame::bulk("server"), Frame::bulk("crowndb")), (Frame::bulk("proto"), Frame::Integer(3))]),
            b"*4\r\n$6\r\nserver\r\n$7\r\ncrowndb\r\n$5\r\nproto\r\n:3\r\n",
            b"%2\r\n$6\r\nserver\r\n$7\r\ncrowndb\r\n$5\r\nproto\r\n:3\r\n",
        );
        check(Frame::Map(vec![]), b"*0\r\n", b"%0\r\n");
    }

    #[test]
    fn sets_and_pushes_are_arrays_in_resp2() {
        check(Frame::Set(vec![Frame::bulk("a")]), b"*1\r\n$1\r\na\r\n", b"~1\r\n$1\r\na\r\n");
        check(
            Frame::Push(vec![Frame::bulk("message"), Frame::bulk("ch")]),
            b"*2\r\n$7\r\nmessage\r\n$2\r\nch\r\n",
            b">2\r\n$7\r\nmessage\r\n$2\r\nch\r\n",
        );
    }

    #[test]
    fn doubles() {
        check(Frame::Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n");
        check(Frame::Double(3.0), b"$1\r\n3\r\n", b",3\r\n");
        check(Frame::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n");
        check(Frame::Double(f64::NEG_INFINITY), b"$4\r\n-inf\r\n", b",-inf\r\n");
        check(Frame::Double(f64::NAN), b"$3\r\nnan\r\n", b",nan\r\n");
        check(Frame::Double(1e300), b"$6\r\n1e+300\r\n", b",1e+300\r\n");
    }

    #[test]
    fn booleans_are_integers_in_resp2() {
        check(Frame::Boolean(true), b":1\r\n", b"#t\r\n");
        check(Frame::Boolean(false), b":0\r\n", b"#f\r\n");
    }

    #[test]
    fn big_numbers_are_bulk_strings_in_resp2() {
        check(
            Frame::BigNumber(Bytes::from("3492890328409238509324850943850943825024385")),
            b"$43\r\n3492890328409238509324850943850943825024385\r\n",
            b"(3492890328409238509324850943850943825024385\r\n",
        );
    }

    #[test]
    fn verbatim_strings_lose_their_format_in_resp2() {
        check(Frame::verbatim_text("Some string"), b"$11\r\nSome string\r\n", b"=15\r\ntxt:Some string\r\n");
        check(Frame::Verbatim { format: *b"mkd", text: Bytes::new() }, b"$0\r\n\r\n", b"=4\r\nmkd:\r\n");
    }

    #[test]
    fn nested_aggregates() {
        check(
            Frame::Array(vec![Frame::Map(vec![(Frame::simple("k"), Frame::Boolean(true))]), Frame::Set(vec![Frame::Double(0.5)])]),
            b"*2\r\n*2\r\n+k\r\n:1\r\n*1\r\n$3\r\n0.5\r\n",
            b"*2\r\n%1\r\n+k\r\n#t\r\n~1\r\n,0.5\r\n",
        );
    }

    #[test]
    fn status_and_error_lines_cannot_break_framing() {
        check(Frame::simple("a\r\nb"), b"+a  b\r\n", b"+a  b\r\n");
        check(Frame::error("ERR bad\nthing\r"), b"-ERR bad thing \r\n", b"-ERR bad thing \r\n");
    }

    #[test]
    fn protocol_error_replies_encode_as_redis_sends_them() {
        let reply = crate::resp::ProtocolError::ExpectedDollar(b'f').reply().unwrap();
        assert_eq!(to_bytes(&reply, Protocol::Resp2), &b"-ERR Protocol error: expected '$', got 'f'\r\n"[..]);
    }

    #[test]
    fn encode_command_writes_a_multibulk_request() {
        let mut out = Vec::new();
        encode_command(&["SET", "key", "value"], &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
        let mut out = BytesMut::new();
        encode_command::<&[u8]>(&[], &mut out);
        assert_eq!(&out[..], b"*0\r\n");
    }

    #[test]
    fn default_protocol_is_resp2() {
        assert_eq!(Protocol::default(), Protocol::Resp2);
    }
}
