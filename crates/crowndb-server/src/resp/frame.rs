//! The values a Redis reply is made of: the RESP2 types and the RESP3 ones.
//!
//! A `Frame` says *what* to send; how it looks on the wire depends on the protocol the client
//! chose with HELLO, and is decided once, in `encode.rs`. Commands build frames without knowing
//! whether the client speaks RESP2 or RESP3, exactly as Redis's `addReplyMap`, `addReplyDouble`,
//! `addReplyNull` ... hide the difference from command code.

use bytes::Bytes;

/// One reply value.
///
/// Strings are `Bytes` so that a value read from the store, or an argument of the request, is
/// sent without a copy.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// A status line such as `+OK`: short text, never binary. Encoding replaces any CR or LF with
    /// a space, so a status can never break the framing.
    Simple(Bytes),
    /// An error line, without the leading `-`: the code then the message, e.g.
    /// `ERR syntax error`, `WRONGTYPE ...`, `NOAUTH Authentication required.` CR and LF are
    /// replaced with spaces on encoding, as Redis's `addReplyErrorFormat` does.
    Error(Bytes),
    /// `:123`.
    Integer(i64),
    /// A binary-safe string: `$3\r\nfoo\r\n`.
    Bulk(Bytes),
    /// The absent value (a GET of a missing key): `$-1` in RESP2, `_` in RESP3.
    Null,
    /// The absent aggregate (a timed-out blocking pop, an aborted EXEC): `*-1` in RESP2, `_` in
    /// RESP3.
    NullArray,
    /// An ordered list of frames.
    Array(Vec<Frame>),
    /// Key-value pairs (HELLO, CONFIG GET): `%n` in RESP3; in RESP2 a flat array of `2n` frames,
    /// key, value, key, value.
    Map(Vec<(Frame, Frame)>),
    /// An unordered collection: `~n` in RESP3, an array in RESP2.
    Set(Vec<Frame>),
    /// A floating point number: `,1.5` in RESP3, a bulk string `"1.5"` in RESP2; both formatted
    /// as Redis 7.2's `d2string` does (see `number.rs`).
    Double(f64),
    /// `#t` / `#f` in RESP3; the integers `1` / `0` in RESP2.
    Boolean(bool),
    /// An integer too large for `Integer`, as its decimal digits: `(123...` in RESP3, a bulk
    /// string in RESP2.
    BigNumber(Bytes),
    /// Text with a three-byte format tag (`txt`, `mkd`), as INFO and CLIENT LIST reply in RESP3:
    /// `=len\r\ntxt:text`. RESP2 sends the text alone as a bulk string.
    Verbatim {
        /// The format tag, e.g. `*b"txt"`.
        format: [u8; 3],
        /// The text, without the tag.
        text: Bytes,
    },
    /// An out-of-band message (pub/sub, client tracking): `>n` in RESP3, an array in RESP2.
    Push(Vec<Frame>),
}

impl Frame {
    /// `+OK`.
    pub fn ok() -> Frame {
        Frame::Simple(Bytes::from_static(b"OK"))
    }

    /// A status line.
    pub fn simple(text: impl Into<Bytes>) -> Frame {
        Frame::Simple(text.into())
    }

    /// An error line whose text already starts with its code: `Frame::error("WRONGTYPE ...")`.
    pub fn error(line: impl Into<Bytes>) -> Frame {
        Frame::Error(line.into())
    }

    /// A generic error, `-ERR <message>`, as Redis's `addReplyError` sends one.
    pub fn err(message: impl AsRef<[u8]>) -> Frame {
        let message = message.as_ref();
        let mut line = Vec::with_capacity(4 + message.len());
        line.extend_from_slice(b"ERR ");
        line.extend_from_slice(message);
        Frame::Error(line.into())
    }

    /// A bulk string.
    pub fn bulk(data: impl Into<Bytes>) -> Frame {
        Frame::Bulk(data.into())
    }

    /// Plain text tagged `txt`, as Redis's `addReplyVerbatim(..., "txt")`.
    pub fn verbatim_text(text: impl Into<Bytes>) -> Frame {
        Frame::Verbatim { format: *b"txt", text: text.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_build_the_expected_variants() {
        assert_eq!(Frame::ok(), Frame::Simple(Bytes::from_static(b"OK")));
        assert_eq!(Frame::simple("PONG"), Frame::Simple(Bytes::from("PONG")));
        assert_eq!(Frame::err("syntax error"), Frame::Error(Bytes::from("ERR syntax error")));
        assert_eq!(
            Frame::error("WRONGTYPE Operation against a key holding the wrong kind of value"),
            Frame::Error(Bytes::from("WRONGTYPE Operation against a key holding the wrong kind of value"))
        );
        assert_eq!(Frame::bulk(vec![0u8, 255]), Frame::Bulk(Bytes::from(vec![0u8, 255])));
        assert_eq!(Frame::verbatim_text("# Server"), Frame::Verbatim { format: *b"txt", text: Bytes::from("# Server") });
    }
}
