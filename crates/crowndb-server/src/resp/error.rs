//! Protocol errors: the request bytes cannot be framed, so the connection must end.

use bytes::Bytes;
use thiserror::Error;

use super::frame::Frame;

/// A request that cannot be framed.
///
/// Every variant is fatal to the connection: after one, Redis stops reading the client's input,
/// sends the reply (`reply()`, `-ERR Protocol error: ...`) if there is one, and closes the
/// connection (`CLIENT_CLOSE_AFTER_REPLY`). The server must do the same: the bytes that follow
/// cannot be trusted to start a request. Errors that leave the connection open (wrong number of
/// arguments, unknown command, wrong type) are not protocol errors; they belong to the command
/// layer.
///
/// `Display` gives the text for logs, with a non-printable byte escaped; `reply()` gives the
/// exact bytes Redis 7 sends.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// `*<count>` is not an integer, or is above the multibulk limit (INT_MAX in Redis).
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// An unauthenticated client sent `*<count>` with more than 10 arguments.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// `$<len>` is not an integer, is negative, or is above the bulk limit (proto-max-bulk-len).
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An unauthenticated client sent a bulk argument longer than 16384 bytes.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    /// An argument of a multibulk request does not start with `$`; holds the byte found.
    #[error("Protocol error: expected '$', got '{}'", .0.escape_ascii())]
    ExpectedDollar(u8),
    /// No line end after `*` within the inline limit (64 KiB in Redis).
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCountString,
    /// No line end after an argument's `$` within the inline limit.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCountString,
    /// An inline request has no newline within the inline limit.
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// An inline request has an unclosed quote, or a closing quote followed by something other
    /// than a space.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// The unparsed input outgrew the query buffer limit (client-query-buffer-limit, 1 GiB;
    /// 1 MiB before authentication). Redis closes such a client without a reply.
    #[error("query buffer of {len} bytes exceeds the limit of {limit} bytes")]
    QueryBufferLimit {
        /// Bytes buffered.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
}

impl ProtocolError {
    /// The error reply Redis sends before closing the connection, or `None` when it closes
    /// without one (the query buffer limit).
    pub fn reply(&self) -> Option<Frame> {
        let text: &'static [u8] = match self {
            ProtocolError::QueryBufferLimit { .. } => return None,
            ProtocolError::ExpectedDollar(byte) => {
                // Redis formats the raw byte with %c, then (addReplyErrorFormat) turns CR and LF
                // into spaces so the reply stays one line.
                let shown = match byte {
                    b'\r' | b'\n' => b' ',
                    other => *other,
                };
                let mut line = b"ERR Protocol error: expected '$', got '".to_vec();
                line.push(shown);
                line.push(b'\'');
                return Some(Frame::Error(Bytes::from(line)));
            }
            ProtocolError::InvalidMultibulkLength => b"invalid multibulk length",
            ProtocolError::UnauthenticatedMultibulkLength => b"unauthenticated multibulk length",
            ProtocolError::InvalidBulkLength => b"invalid bulk length",
            ProtocolError::UnauthenticatedBulkLength => b"unauthenticated bulk length",
            ProtocolError::TooBigMbulkCountString => b"too big mbulk count string",
            ProtocolError::TooBigBulkCountString => b"too big bulk count string",
            ProtocolError::TooBigInlineRequest => b"too big inline request",
            ProtocolError::UnbalancedQuotes => b"unbalanced quotes in request",
        };
        let mut line = b"ERR Protocol error: ".to_vec();
        line.extend_from_slice(text);
        Some(Frame::Error(Bytes::from(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_text(err: &ProtocolError) -> Vec<u8> {
        match err.reply() {
            Some(Frame::Error(line)) => line.to_vec(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn replies_are_redis_strings() {
        let cases: [(ProtocolError, &[u8]); 10] = [
            (ProtocolError::InvalidMultibulkLength, b"ERR Protocol error: invalid multibulk length"),
            (ProtocolError::UnauthenticatedMultibulkLength, b"ERR Protocol error: unauthenticated multibulk length"),
            (ProtocolError::InvalidBulkLength, b"ERR Protocol error: invalid bulk length"),
            (ProtocolError::UnauthenticatedBulkLength, b"ERR Protocol error: unauthenticated bulk length"),
            (ProtocolError::ExpectedDollar(b'f'), b"ERR Protocol error: expected '$', got 'f'"),
            (ProtocolError::ExpectedDollar(b'\r'), b"ERR Protocol error: expected '$', got ' '"),
            (ProtocolError::TooBigMbulkCountString, b"ERR Protocol error: too big mbulk count string"),
            (ProtocolError::TooBigBulkCountString, b"ERR Protocol error: too big bulk count string"),
            (ProtocolError::TooBigInlineRequest, b"ERR Protocol error: too big inline request"),
            (ProtocolError::UnbalancedQuotes, b"ERR Protocol error: unbalanced quotes in request"),
        ];
        for (err, expected) in cases {
            assert_eq!(reply_text(&err), expected, "{err}");
            // Display is the same text without the code, for logs.
            assert!(expected.ends_with(err.to_string().as_bytes()) || matches!(err, ProtocolError::ExpectedDollar(b'\r')));
        }
    }

    #[test]
    fn expected_dollar_sends_a_raw_byte_and_logs_it_escaped() {
        let err = ProtocolError::ExpectedDollar(0xff);
        assert_eq!(reply_text(&err), b"ERR Protocol error: expected '$', got '\xff'");
        assert_eq!(err.to_string(), "Protocol error: expected '$', got '\\xff'");
        assert_eq!(ProtocolError::ExpectedDollar(b'\r').to_string(), "Protocol error: expected '$', got '\\r'");
    }

    #[test]
    fn query_buffer_limit_closes_silently() {
        let err = ProtocolError::QueryBufferLimit { len: 10, limit: 5 };
        assert_eq!(err.reply(), None);
        assert_eq!(err.to_string(), "query buffer of 10 bytes exceeds the limit of 5 bytes");
    }
}
