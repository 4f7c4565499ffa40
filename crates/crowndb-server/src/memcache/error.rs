//! What the parser reports about bad input, and what the connection must do about it.
//!
//! Every error carries the reply memcached gives (its `Display` is the reply line, without
//! `\r\n`), how many bytes of input it used up, how many more bytes of an unread data block the
//! connection must discard as they arrive, whether memcached would stay silent (`noreply`), and
//! whether the connection must close.

use thiserror::Error;

/// Bad input on a memcached connection.
///
/// How a connection handles one: unless `noreply`, write the reply (`reply::protocol_error`);
/// if [`closes_connection`](Self::closes_connection), close; else drop `consumed` bytes from the
/// read buffer, then discard the next `swallow` bytes (some may be in the buffer already, the rest
/// arrive later), and go on parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{kind}")]
pub struct ProtocolError {
    /// What went wrong; its `Display` is the reply line.
    pub kind: ErrorKind,
    /// Bytes of input this error used up: the request line, and the data block if it was read.
    pub consumed: usize,
    /// Bytes after `consumed` to discard without parsing: the data block of a storage command that
    /// was refused from its line, value too large included. memcached's "swallow" state.
    pub swallow: usize,
    /// The request asked for `noreply`, and memcached sends no error for it then.
    pub noreply: bool,
}

impl ProtocolError {
    pub(crate) fn new(kind: ErrorKind, consumed: usize) -> Self {
        ProtocolError { kind, consumed, swallow: 0, noreply: false }
    }

    /// A request line longer than the limit: the connection must close.
    pub(crate) fn line_too_long() -> Self {
        ProtocolError::new(ErrorKind::LineTooLong, 0)
    }

    pub(crate) fn swallowing(mut self, swallow: Option<usize>) -> Self {
        self.swallow = swallow.unwrap_or(0);
        self
    }

    pub(crate) fn with_noreply(mut self, noreply: bool) -> Self {
        self.noreply = noreply;
        self
    }

    /// Whether the connection must be closed (after writing the reply, if it likes).
    pub fn closes_connection(&self) -> bool {
        matches!(self.kind, ErrorKind::LineTooLong | ErrorKind::BinaryProtocol)
    }
}

/// The kinds of bad input, each with memcached's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ErrorKind {
    /// An unknown command, or a known one with the wrong number of arguments.
    #[error("ERROR")]
    UnknownCommand,
    /// Input that does not follow the protocol.
    #[error("CLIENT_ERROR {0}")]
    Client(ClientError),
    /// A data block larger than the item size limit; it is swallowed, never buffered.
    #[error("SERVER_ERROR object too large for cache")]
    TooLarge,
    /// A request line longer than the limit. memcached closes such a connection without a word;
    /// we may send this line first.
    #[error("CLIENT_ERROR line too long")]
    LineTooLong,
    /// A request starting with the binary protocol's magic byte (0x80). memcached would answer
    /// in binary; we only speak text, so we say so and close.
    #[error("CLIENT_ERROR binary protocol is not supported: use the text or meta commands")]
    BinaryProtocol,
}

/// The reasons of a `CLIENT_ERROR`, with memcached's exact wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ClientError {
    /// A malformed line: bad number, key too long or with control characters, bad token count
    /// for a meta command.
    #[error("bad command line format")]
    BadCommandLineFormat,
    /// A data block not followed by `\r\n` (its length did not match `<bytes>`).
    #[error("bad data chunk")]
    BadDataChunk,
    /// `delete` with arguments other than `0` and `noreply`.
    #[error("bad command line format.  Usage: delete <key> [noreply]")]
    DeleteUsage,
    /// `touch`, `gat`, `gats`, `flush_all` with an exptime that is not a number.
    #[error("invalid exptime argument")]
    InvalidExptime,
    /// `incr`/`decr` with a delta that is not an unsigned 64-bit number.
    #[error("invalid numeric delta argument")]
    InvalidDeltaArgument,
    /// `mg` with more than 19 tokens.
    #[error("options flags are too long")]
    MgFlagsTooLong,
    /// `ms`, `md`, `ma` with more than 19 tokens.
    #[error("options flags too long")]
    FlagsTooLong,
    /// A meta flag sent twice (or a flag byte outside ASCII, which memcached reports the same way).
    #[error("duplicate flag")]
    DuplicateFlag,
    /// An unknown meta flag.
    #[error("invalid flag")]
    InvalidFlag,
    /// `md` and `ma` report every flag error with this one message.
    #[error("invalid or duplicate flag")]
    InvalidOrDuplicateFlag,
    /// A meta flag token (`N`, `T`, `R`, `C`, `E`) that is not a number.
    #[error("bad token in command line format")]
    BadToken,
    /// A `b` key that is not base64.
    #[error("error decoding key")]
    KeyDecode,
    /// An `M` flag not followed by exactly one character.
    #[error("incorrect length for M token")]
    ModeTokenLength,
    /// An `ms` mode other than `E A P R S`.
    #[error("invalid mode for ms M token")]
    InvalidSetMode,
    /// An `ma` mode other than `I + D -`.
    #[error("invalid mode for ma M token")]
    InvalidArithMode,
    /// A `J` token that is not an unsigned 64-bit number.
    #[error("invalid numeric initial value")]
    InvalidInitial,
    /// A `D` token that is not an unsigned 64-bit number.
    #[error("invalid numeric delta value")]
    InvalidDelta,
    /// An `O` token longer than 32 bytes (with its `O`).
    #[error("opaque token too long")]
    OpaqueTooLong,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_reply_line() {
        let e = ProtocolError::new(ErrorKind::Client(ClientError::BadDataChunk), 5);
        assert_eq!(e.to_string(), "CLIENT_ERROR bad data chunk");
        assert_eq!(ErrorKind::UnknownCommand.to_string(), "ERROR");
        assert_eq!(ErrorKind::TooLarge.to_string(), "SERVER_ERROR object too large for cache");
        assert_eq!(
            ErrorKind::Client(ClientError::DeleteUsage).to_string(),
            "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
        );
    }

    #[test]
    fn only_a_long_line_closes() {
        assert!(ProtocolError::line_too_long().closes_connection());
        assert!(ProtocolError::new(ErrorKind::BinaryProtocol, 0).closes_connection());
        assert!(!ProtocolError::new(ErrorKind::TooLarge, 1).closes_connection());
        assert!(!ProtocolError::new(ErrorKind::UnknownCommand, 1).closes_connection());
    }
}
