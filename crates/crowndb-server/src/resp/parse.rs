//! Incremental parsing of client requests, as Redis 7's `processInputBuffer` does it.
//!
//! A request whose first byte is `*` is a multibulk request (`*<count>\r\n` then `count` times
//! `$<len>\r\n<len bytes>\r\n`), what every client library sends; anything else is an inline
//! request, a line split like a shell would (what telnet and `redis-cli` in a pipe send). The
//! checks and their order follow `processMultibulkBuffer` and `processInlineBuffer` in Redis 7's
//! networking.c, including its leniencies, so that a client Redis accepts is accepted here:
//!
//! - A header line is found by its CR; the byte after the CR is skipped without checking that
//!   it is LF, and so are the two bytes after a bulk payload.
//! - Lines are searched with `strchr`, which stops at a NUL byte: a NUL before the line's end
//!   means the line never completes, until the inline limit turns it into `too big ...`. (Redis's
//!   "protocol desync" regression tests depend on this.)
//! - An inline line ends at LF, with an optional CR before it.
//! - `*0`, any negative count, and a blank inline line are empty requests: consumed, and
//!   skipped.
//!
//! Protocol errors are final: the parser keeps returning the same error, and the connection
//! should send `ProtocolError::reply()` and close.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use memchr::memchr2;

use super::error::ProtocolError;
use super::inline::split_args;
use super::limits::{Limits, UNAUTHENTICATED_MAX_BULK_LEN, UNAUTHENTICATED_MAX_MULTIBULK_LEN, UNAUTHENTICATED_MAX_QUERY_BUFFER};
use super::number::string2ll;

/// Which syntax a request was sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// `*<count>\r\n$<len>\r\n...`: binary-safe, what client libraries send.
    Multibulk,
    /// A line of whitespace-separated, optionally quoted words.
    Inline,
}

/// One complete client request.
///
/// Arguments are `Bytes` rather than `Vec<u8>` or borrowed slices: a multibulk argument is a
/// reference-counted slice of the request's bytes as they were read, so parsing copies nothing
/// (a 512 MiB SET value is never duplicated), the request owns its data (no borrow of the
/// connection's buffer, so it can be queued, sent to another task or into the engine), and a
/// clone is a counter increment. The price: any one argument keeps the whole request's bytes
/// alive, so a command that keeps a small argument for long (a key in an index, a client name)
/// should copy it with `Bytes::copy_from_slice`. Inline arguments, which may be unescaped, are
/// owned copies; inline requests are small and rare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The arguments, command name first; never empty.
    pub args: Vec<Bytes>,
    /// The syntax the request came in.
    pub kind: RequestKind,
    /// How many bytes of input the request took.
    pub wire_len: usize,
}

/// Parses requests out of a connection's read buffer, one at a time, remembering how far it got
/// in a request that has not fully arrived.
///
/// REQUIRES: between calls to `decode`, the caller only appends to the buffer (as a socket read
/// into a `BytesMut` does); `decode` alone removes bytes from its front. One parser per
/// connection; it is not shared between threads while in use.
#[derive(Debug, Default)]
pub struct RequestParser {
    limits: Limits,
    auth_required: bool,
    state: State,
    /// Where the search for the end of the current line resumes: every byte before it is known
    /// to be neither the terminator nor a NUL (or it is the NUL that stalls the line). Keeps a
    /// line that arrives a byte at a time from being rescanned from its start each time.
    scan: usize,
    /// The protocol error already returned, returned again on every later call.
    failed: Option<ProtocolError>,
}

#[derive(Debug, Default)]
enum State {
    /// Between requests, or inside an inline line or a `*` count line (whose progress is only
    /// `scan`).
    #[default]
    Idle,
    /// Inside the arguments of a multibulk request.
    Multibulk(Multibulk),
}

#[derive(Debug)]
struct Multibulk {
    /// Arguments still to read.
    remaining: usize,
    /// Where each argument read so far lies in the buffer.
    args: Vec<Range<usize>>,
    /// Offset of the next unread byte.
    pos: usize,
    /// Length of the argument whose `$<len>` line was read but whose payload is incomplete.
    bulk_len: Option<usize>,
}

/// What one parsing step found.
enum Step {
    /// The request is not complete yet.
    Incomplete,
    /// A request occupies the first `len` bytes (its arguments may be none: an empty request).
    Complete { len: usize, kind: RequestKind, args: Args },
}

enum Args {
    /// Offsets into the request's bytes.
    Spans(Vec<Range<usize>>),
    /// Owned (unescaped) arguments.
    Owned(Vec<Bytes>),
}

impl RequestParser {
    /// A parser with the given limits, for a connection that needs no authentication.
    pub fn new(limits: Limits) -> RequestParser {
        RequestParser { limits, ..RequestParser::default() }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Changes the limits (CONFIG SET proto-max-bulk-len, client-query-buffer-limit); they apply
    /// from the next line read.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Whether the client must still authenticate.
    pub fn auth_required(&self) -> bool {
        self.auth_required
    }

    /// Sets whether the client must still authenticate (a password is configured and AUTH or
    /// HELLO has not succeeded). While it must, requests are held to Redis's small limits: at
    /// most 10 arguments, bulk arguments of at most 16 KiB, a query buffer of at most 1 MiB.
    pub fn set_auth_required(&mut self, required: bool) {
        self.auth_required = required;
    }

    /// The most unparsed bytes the connection may buffer before it is closed.
    pub fn query_buffer_limit(&self) -> usize {
        if self.auth_required {
            self.limits.max_query_buffer.min(UNAUTHENTICATED_MAX_QUERY_BUFFER)
        } else {
            self.limits.max_query_buffer
        }
    }

    /// Takes the next complete request from the front of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed; the bytes of the incomplete request stay
    /// in `buf` (the parser remembers its progress through them). Returns `Ok(Some(request))`
    /// after removing the request's `request.wire_len` bytes from `buf`. Empty requests (a blank
    /// inline line, `*0`, `*-1`) are removed and skipped, as Redis skips them.
    ///
    /// Nothing is allocated from a declared length: a `$<len>` announcing 512 MiB reserves
    /// nothing, and `buf` grows only as the bytes arrive. A declared `*<count>` reserves room
    /// for at most 1024 argument positions.
    ///
    /// Errors are protocol errors, after which the connection must be closed; every later call
    /// returns the same error.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Request>, ProtocolError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let limit = self.query_buffer_limit();
        if buf.len() > limit {
            return Err(self.fail(ProtocolError::QueryBufferLimit { len: buf.len(), limit }));
        }
        loop {
            let step = match self.step(buf) {
                Ok(step) => step,
                Err(err) => return Err(self.fail(err)),
            };
            let Step::Complete { len, kind, args } = step else {
                return Ok(None);
            };
            self.state = State::Idle;
            self.scan = 0;
            let bytes = buf.split_to(len).freeze();
            let args: Vec<Bytes> = match args {
                Args::Spans(spans) => spans.into_iter().map(|span| bytes.slice(span)).collect(),
                Args::Owned(args) => args,
            };
            if !args.is_empty() {
                return Ok(Some(Request { args, kind, wire_len: len }));
            }
        }
    }

    fn fail(&mut self, err: ProtocolError) -> ProtocolError {
        self.state = State::Idle;
        self.failed = Some(err.clone());
        err
    }

    /// Advances through `buf` as far as it goes.
    fn step(&mut self, buf: &[u8]) -> Result<Step, ProtocolError> {
        match std::mem::take(&mut self.state) {
            State::Multibulk(multibulk) if multibulk.pos <= buf.len() => self.read_arguments(buf, multibulk),
            State::Multibulk(_) => {
                // The buffer shrank under us, breaking the REQUIRES above; start over rather
                // than index past its end.
                self.scan = 0;
                self.step(buf)
            }
            State::Idle => match buf.first() {
                None => Ok(Step::Incomplete),
                Some(b'*') => self.read_count(buf),
                Some(_) => self.read_inline(buf),
            },
        }
    }

    /// `*<count>\r\n`, then the arguments.
    fn read_count(&mut self, buf: &[u8]) -> Result<Step, ProtocolError> {
        let Some(cr) = self.find_line_end(buf, 0, b'\r') else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigMbulkCountString);
            }
            return Ok(Step::Incomplete);
        };
        if cr + 1 >= buf.len() {
            return Ok(Step::Incomplete);
        }
        let max = i64::try_from(self.limits.max_multibulk_len).unwrap_or(i64::MAX);
        let count = match buf.get(1..cr).and_then(string2ll) {
            Some(count) if count <= max => count,
            _ => return Err(ProtocolError::InvalidMultibulkLength),
        };
        if self.auth_required && count > UNAUTHENTICATED_MAX_MULTIBULK_LEN as i64 {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        let pos = cr + 2;
        self.scan = 0;
        let Ok(remaining) = usize::try_from(count) else {
            // Zero or negative: an empty request.
            return Ok(Step::Complete { len: pos, kind: RequestKind::Multibulk, args: Args::Spans(Vec::new()) });
        };
        if remaining == 0 {
            return Ok(Step::Complete { len: pos, kind: RequestKind::Multibulk, args: Args::Spans(Vec::new()) });
        }
        let multibulk = Multibulk { remaining, args: Vec::with_capacity(remaining.min(1024)), pos, bulk_len: None };
        self.read_arguments(buf, multibulk)
    }

    /// `$<len>\r\n<payload>\r\n` as many times as remain.
    fn read_arguments(&mut self, buf: &[u8], mut multibulk: Multibulk) -> Result<Step, ProtocolError> {
        while multibulk.remaining > 0 {
            let len = match multibulk.bulk_len {
                Some(len) => len,
                None => match self.read_bulk_len(buf, multibulk.pos)? {
                    Some((len, payload_start)) => {
                        multibulk.pos = payload_start;
                        multibulk.bulk_len = Some(len);
                        len
                    }
                    None => {
                        self.state = State::Multibulk(multibulk);
                        return Ok(Step::Incomplete);
                    }
                },
            };
            // The payload and the two bytes after it, which Redis skips unchecked.
            let start = multibulk.pos;
            match start.checked_add(len).and_then(|end| end.checked_add(2)) {
                Some(next) if next <= buf.len() => {
                    multibulk.args.push(start..start + len);
                    multibulk.pos = next;
                    multibulk.bulk_len = None;
                    multibulk.remaining -= 1;
                }
                _ => {
                    self.state = State::Multibulk(multibulk);
                    return Ok(Step::Incomplete);
                }
            }
        }
        Ok(Step::Complete { len: multibulk.pos, kind: RequestKind::Multibulk, args: Args::Spans(multibulk.args) })
    }

    /// The `$<len>` line starting at `start`: the declared length and where the payload starts,
    /// or `None` if the line is incomplete.
    fn read_bulk_len(&mut self, buf: &[u8], start: usize) -> Result<Option<(usize, usize)>, ProtocolError> {
        let Some(cr) = self.find_line_end(buf, start, b'\r') else {
            if buf.len() - start > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigBulkCountString);
            }
            return Ok(None);
        };
        if cr + 1 >= buf.len() {
            return Ok(None);
        }
        let first = buf.get(start).copied().unwrap_or(b'\r');
        if first != b'$' {
            return Err(ProtocolError::ExpectedDollar(first));
        }
        let len = buf
            .get(start + 1..cr)
            .and_then(string2ll)
            .and_then(|len| u64::try_from(len).ok())
            .filter(|&len| len <= self.limits.max_bulk_len as u64)
            .and_then(|len| usize::try_from(len).ok())
            .ok_or(ProtocolError::InvalidBulkLength)?;
        if self.auth_required && len > UNAUTHENTICATED_MAX_BULK_LEN {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        self.scan = 0;
        Ok(Some((len, cr + 2)))
    }

    /// An inline request: one line, split into arguments.
    fn read_inline(&mut self, buf: &[u8]) -> Result<Step, ProtocolError> {
        let Some(newline) = self.find_line_end(buf, 0, b'\n') else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            return Ok(Step::Incomplete);
        };
        let end = if newline > 0 && buf[newline - 1] == b'\r' { newline - 1 } else { newline };
        let args = split_args(&buf[..end]).ok_or(ProtocolError::UnbalancedQuotes)?;
        Ok(Step::Complete { len: newline + 1, kind: RequestKind::Inline, args: Args::Owned(args) })
    }

    /// The offset of the first `terminator` at or after `start`, as C's `strchr` finds it: a NUL
    /// byte before it hides it, and the line stays incomplete.
    fn find_line_end(&mut self, buf: &[u8], start: usize, terminator: u8) -> Option<usize> {
        let from = if (start..=buf.len()).contains(&self.scan) { self.scan } else { start };
        let haystack = buf.get(from..)?;
        match memchr2(terminator, 0, haystack) {
            Some(i) => {
                self.scan = from + i;
                (haystack[i] == terminator).then_some(from + i)
            }
            None => {
                self.scan = buf.len();
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request `input` holds, then the error that ended parsing, if any, and the bytes
    /// left unparsed.
    struct Parsed {
        requests: Vec<Vec<Vec<u8>>>,
        error: Option<ProtocolError>,
        rest: Vec<u8>,
    }

    fn parse_with(parser: &mut RequestParser, input: &[u8]) -> Parsed {
        let mut buf = BytesMut::from(input);
        let mut requests = Vec::new();
        loop {
            match parser.decode(&mut buf) {
                Ok(Some(request)) => requests.push(request.args.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => return Parsed { requests, error: None, rest: buf.to_vec() },
                Err(err) => return Parsed { requests, error: Some(err), rest: buf.to_vec() },
            }
        }
    }

    fn parse(input: &[u8]) -> Parsed {
        parse_with(&mut RequestParser::default(), input)
    }

    fn args(list: &[&[u8]]) -> Vec<Vec<u8>> {
        list.iter().map(|a| a.to_vec()).collect()
    }

    /// `input` parses to exactly these requests, all of it consumed.
    fn assert_requests(input: &[u8], expected: &[&[&[u8]]]) {
        let parsed = parse(input);
        let expected: Vec<_> = expected.iter().map(|r| args(r)).collect();
        assert_eq!(parsed.error, None, "{}", input.escape_ascii());
        assert_eq!(parsed.requests, expected, "{}", input.escape_ascii());
        assert_eq!(parsed.rest, b"", "{}", input.escape_ascii());
    }

    /// `input` ends in `error` (after whatever requests come before it).
    fn assert_error(input: &[u8], error: ProtocolError) {
        let parsed = parse(input);
        assert_eq!(parsed.error, Some(error), "{}", input.escape_ascii());
    }

    /// `input` is an incomplete request: nothing parsed, nothing consumed, no error.
    fn assert_incomplete(input: &[u8]) {
        let parsed = parse(input);
        assert_eq!(parsed.error, None, "{}", input.escape_ascii());
        assert!(parsed.requests.is_empty(), "{}", input.escape_ascii());
        assert_eq!(parsed.rest, input, "{}", input.escape_ascii());
    }

    // ----- multibulk -----

    #[test]
    fn multibulk_request() {
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n"[..]);
        let request = parser.decode(&mut buf).unwrap().unwrap();
        assert_eq!(request.args, vec![Bytes::from("PING")]);
        assert_eq!(request.kind, RequestKind::Multibulk);
        assert_eq!(request.wire_len, 14);
        assert!(buf.is_empty());
        assert_eq!(parser.decode(&mut buf), Ok(None));
    }

    #[test]
    fn multibulk_pipeline() {
        assert_requests(
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
            &[&[b"SET", b"k", b"hello"], &[b"GET", b"k"]],
        );
    }

    #[test]
    fn multibulk_arguments_are_binary_safe() {
        assert_requests(b"*2\r\n$3\r\nSET\r\n$8\r\n\r\n\0\xff*$\r\n\r\n", &[&[b"SET", b"\r\n\0\xff*$\r\n"]]);
    }

    #[test]
    fn empty_bulk_argument() {
        assert_requests(b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", &[&[b"ECHO", b""]]);
    }

    #[test]
    fn wire_len_counts_each_request() {
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n"[..]);
        let lens: Vec<usize> = std::iter::from_fn(|| parser.decode(&mut buf).unwrap()).map(|r| r.wire_len).collect();
        assert_eq!(lens, vec![14, 6, 22]);
    }

    #[test]
    fn arguments_are_slices_of_the_read_buffer() {
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"[..]);
        let request = parser.decode(&mut buf).unwrap().unwrap();
        // "GET" at offset 8 and "key" at offset 17 of one allocation: no copy was made.
        let base = request.args[0].as_ptr() as usize;
        assert_eq!(request.args[1].as_ptr() as usize, base + 9);
    }

    #[test]
    fn every_prefix_of_a_request_is_incomplete() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        for end in 0..input.len() {
            assert_incomplete(&input[..end]);
        }
    }

    #[test]
    fn progress_is_kept_across_calls() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::new();
        for (i, &byte) in input.iter().enumerate() {
            buf.extend_from_slice(&[byte]);
            let result = parser.decode(&mut buf).unwrap();
            if i + 1 < input.len() {
                assert_eq!(result, None);
            } else {
                let request = result.unwrap();
                assert_eq!(request.args, vec![Bytes::from("SET"), Bytes::from("k"), Bytes::from("hello")]);
                assert_eq!(request.wire_len, input.len());
            }
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn empty_and_negative_counts_are_skipped() {
        // Redis's protocol tests: "*-10\r\n" then PING gets PONG.
        assert_requests(b"*-10\r\n*1\r\n$4\r\nPING\r\n", &[&[b"PING"]]);
        assert_requests(b"*0\r\n*-1\r\nPING\r\n", &[&[b"PING"]]);
        assert_requests(b"*0\r\n", &[]);
    }

    #[test]
    fn bytes_after_cr_and_after_payload_are_not_checked() {
        // Redis finds lines by their CR and skips the next byte, whatever it is, and skips the
        // two bytes after a payload the same way.
        assert_requests(b"*1\rX$4\rYPINGzz", &[&[b"PING"]]);
    }

    #[test]
    fn invalid_multibulk_length() {
        for input in [
            &b"*abc\r\n"[..],
            b"*\r\n",
            b"*+1\r\n",
            b"*01\r\n",
            b"* 1\r\n",
            b"*1 \r\n",
            b"*-0\r\n",
            b"*3000000000\r\n",
            b"*2147483648\r\n",
            b"*99999999999999999999\r\n",
        ] {
            assert_error(input, ProtocolError::InvalidMultibulkLength);
        }
    }

    #[test]
    fn large_but_valid_count_waits_without_allocating_for_it() {
        // Redis 7 accepts up to INT_MAX arguments (its tests moved "*20000000" to "*3000000000").
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::from(&b"*2147483647\r\n$4\r\nPING\r\n"[..]);
        assert_eq!(parser.decode(&mut buf), Ok(None));
        match &parser.state {
            State::Multibulk(multibulk) => {
                assert_eq!(multibulk.remaining, 2147483646);
                assert!(multibulk.args.capacity() <= 1024);
            }
            State::Idle => panic!("expected a multibulk in progress"),
        }
    }

    #[test]
    fn configured_multibulk_limit() {
        let limits = Limits { max_multibulk_len: 2, ..Limits::default() };
        let mut parser = RequestParser::new(limits);
        let parsed = parse_with(&mut parser, b"*2\r\n$1\r\na\r\n$1\r\nb\r\n*3\r\n");
        assert_eq!(parsed.requests, vec![args(&[b"a", b"b"])]);
        assert_eq!(parsed.error, Some(ProtocolError::InvalidMultibulkLength));
    }

    #[test]
    fn invalid_bulk_length() {
        let prefix = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n";
        for header in [
            &b"$-10\r\n"[..],
            b"$-1\r\n",
            b"$2000000000\r\n",
            b"$536870913\r\n",
            b"$blabla\r\n",
            b"$\r\n",
            b"$+3\r\n",
            b"$03\r\n",
            b"$3 \r\n",
            b"$9223372036854775808\r\n",
        ] {
            let input = [&prefix[..], header].concat();
            assert_error(&input, ProtocolError::InvalidBulkLength);
        }
    }

    #[test]
    fn bulk_of_exactly_the_limit_is_accepted() {
        let limits = Limits { max_bulk_len: 5, ..Limits::default() };
        let mut parser = RequestParser::new(limits);
        let parsed = parse_with(&mut parser, b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n*2\r\n$4\r\nECHO\r\n$6\r\n");
        assert_eq!(parsed.requests, vec![args(&[b"ECHO", b"hello"])]);
        assert_eq!(parsed.error, Some(ProtocolError::InvalidBulkLength));
    }

    #[test]
    fn huge_allowed_bulk_reserves_nothing() {
        // 512 MiB announced, 3 bytes sent: the parser waits, and the buffer is not grown.
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nabc");
        let capacity = buf.capacity();
        assert_eq!(parser.decode(&mut buf), Ok(None));
        assert_eq!(buf.capacity(), capacity);
    }

    #[test]
    fn expected_dollar() {
        // Redis's protocol tests.
        assert_error(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", ProtocolError::ExpectedDollar(b'f'));
        assert_error(b"*1\r\nfoo\r\n", ProtocolError::ExpectedDollar(b'f'));
        assert_error(b"*1\r\n\r\n", ProtocolError::ExpectedDollar(b'\r'));
        assert_error(b"*1\r\n:1\r\n", ProtocolError::ExpectedDollar(b':'));
        assert_error(b"*1\r\n*1\r\n", ProtocolError::ExpectedDollar(b'*'));
    }

    #[test]
    fn header_needs_the_byte_after_cr_before_it_is_judged() {
        assert_incomplete(b"*1\r\nfoo\r");
        assert_incomplete(b"*1\r");
        assert_incomplete(b"*1\r\n$3\r");
    }

    #[test]
    fn too_big_mbulk_count_string() {
        let limit = Limits::default().max_inline_len;
        let mut input = vec![b'*'];
        input.resize(limit, b'1');
        assert_incomplete(&input);
        input.push(b'1');
        assert_error(&input, ProtocolError::TooBigMbulkCountString);
    }

    #[test]
    fn too_big_bulk_count_string() {
        let limit = Limits::default().max_inline_len;
        let mut input = b"*2\r\n$4\r\nECHO\r\n".to_vec();
        let header_start = input.len();
        input.push(b'$');
        input.resize(header_start + limit, b'1');
        assert_incomplete(&input);
        input.push(b'1');
        assert_error(&input, ProtocolError::TooBigBulkCountString);
        // Checked before the '$' is: any byte will do.
        let mut input = b"*1\r\n".to_vec();
        input.resize(4 + limit + 1, b'X');
        assert_error(&input, ProtocolError::TooBigBulkCountString);
    }

    // ----- inline -----

    #[test]
    fn inline_requests() {
        assert_requests(b"PING\r\n", &[&[b"PING"]]);
        assert_requests(b"PING\n", &[&[b"PING"]]);
        assert_requests(b"SET key value\r\n", &[&[b"SET", b"key", b"value"]]);
        assert_requests(b"set \"a b\" 'c d'\r\nGET x\n", &[&[b"set", b"a b", b"c d"], &[b"GET", b"x"]]);
        assert_requests(b"ECHO \"\\x00\\xff\"\r\n", &[&[b"ECHO", b"\x00\xff"]]);
        assert_requests(b"SET k \"\"\r\n", &[&[b"SET", b"k", b""]]);
    }

    #[test]
    fn inline_request_kind_and_length() {
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::from(&b"GET k\r\n"[..]);
        let request = parser.decode(&mut buf).unwrap().unwrap();
        assert_eq!(request.kind, RequestKind::Inline);
        assert_eq!(request.wire_len, 7);
    }

    #[test]
    fn blank_inline_lines_are_skipped() {
        // Redis's protocol tests: "Handle an empty query".
        assert_requests(b"\r\n", &[]);
        assert_requests(b"\n\n  \t \r\nPING\r\n", &[&[b"PING"]]);
    }

    #[test]
    fn only_the_cr_just_before_lf_is_part_of_the_line_end() {
        assert_requests(b"a\rb\r\r\n", &[&[b"a", b"b"]]);
        assert_requests(b"\"a\r\"\n", &[&[b"a\r"]]);
    }

    #[test]
    fn inline_requests_that_start_like_resp_types() {
        // Only '*' starts a multibulk; '$' or ':' start an inline line.
        assert_requests(b"$3\r\n", &[&[b"$3"]]);
        assert_requests(b":1 +2\r\n", &[&[b":1", b"+2"]]);
    }

    #[test]
    fn unbalanced_quotes() {
        // Redis's protocol tests: set """test-key""" test-value
        assert_error(b"set \"\"\"test-key\"\"\" test-value\r\n", ProtocolError::UnbalancedQuotes);
        assert_error(b"GET \"abc\r\n", ProtocolError::UnbalancedQuotes);
        assert_error(b"GET 'abc'd\r\n", ProtocolError::UnbalancedQuotes);
        // The requests before it are still delivered.
        let parsed = parse(b"PING\r\nGET \"x\r\nPING\r\n");
        assert_eq!(parsed.requests, vec![args(&[b"PING"])]);
        assert_eq!(parsed.error, Some(ProtocolError::UnbalancedQuotes));
    }

    #[test]
    fn too_big_inline_request() {
        let limit = Limits::default().max_inline_len;
        let mut input = vec![b'A'; limit];
        assert_incomplete(&input);
        input.push(b'A');
        assert_error(&input, ProtocolError::TooBigInlineRequest);
        // A complete line may be longer than the limit, as in Redis.
        let mut line = b"ECHO ".to_vec();
        line.resize(limit * 2, b'x');
        line.extend_from_slice(b"\r\n");
        let parsed = parse(&line);
        assert_eq!(parsed.error, None);
        assert_eq!(parsed.requests.len(), 1);
        assert_eq!(parsed.requests[0][1].len(), limit * 2 - 5);
    }

    #[test]
    fn nul_stalls_the_line_until_the_limit() {
        // Redis's "Protocol desync regression test": after "\x00", "*\x00" or "$\x00", lines
        // of 'A's never complete a request, and the connection ends with a protocol error.
        let limit = Limits::default().max_inline_len;
        for (seq, error) in [
            (&b"\x00"[..], ProtocolError::TooBigInlineRequest),
            (b"*\x00", ProtocolError::TooBigMbulkCountString),
            (b"$\x00", ProtocolError::TooBigInlineRequest),
        ] {
            let mut parser = RequestParser::default();
            let mut buf = BytesMut::from(seq);
            let mut payload = vec![b'A'; 1024];
            payload.push(b'\n');
            let mut outcome = Ok(None);
            while buf.len() <= limit + 2048 {
                buf.extend_from_slice(&payload);
                outcome = parser.decode(&mut buf);
                if outcome != Ok(None) {
                    break;
                }
            }
            assert_eq!(outcome, Err(error), "{}", seq.escape_ascii());
        }
    }

    #[test]
    fn nul_in_a_bulk_header_stalls_it() {
        let limit = Limits::default().max_inline_len;
        let mut input = b"*1\r\n$\x001\r\n".to_vec();
        assert_incomplete(&input);
        input.resize(4 + limit + 1, b'\r');
        assert_error(&input, ProtocolError::TooBigBulkCountString);
    }

    #[test]
    fn configured_inline_limit() {
        let limits = Limits { max_inline_len: 8, ..Limits::default() };
        let mut parser = RequestParser::new(limits);
        assert_eq!(parse_with(&mut parser, b"PINGPING").error, None);
        let mut parser = RequestParser::new(limits);
        assert_eq!(parse_with(&mut parser, b"PINGPINGX").error, Some(ProtocolError::TooBigInlineRequest));
    }

    // ----- authentication and the query buffer -----

    #[test]
    fn unauthenticated_limits() {
        let mut parser = RequestParser::default();
        parser.set_auth_required(true);
        let mut ten = b"*10\r\n".to_vec();
        for _ in 0..10 {
            ten.extend_from_slice(b"$1\r\na\r\n");
        }
        assert_eq!(parse_with(&mut parser, &ten).requests.len(), 1);
        assert_eq!(parse_with(&mut parser, b"*11\r\n").error, Some(ProtocolError::UnauthenticatedMultibulkLength));

        let mut parser = RequestParser::default();
        parser.set_auth_required(true);
        let mut input = b"*2\r\n$4\r\nAUTH\r\n$16384\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'p', 16384));
        input.extend_from_slice(b"\r\n");
        assert_eq!(parse_with(&mut parser, &input).requests.len(), 1);
        assert_eq!(parse_with(&mut parser, b"*1\r\n$16385\r\n").error, Some(ProtocolError::UnauthenticatedBulkLength));

        // Redis's auth test: "*1\r\n$100000000\r\n" is refused before authentication.
        let mut parser = RequestParser::default();
        parser.set_auth_required(true);
        assert_eq!(parse_with(&mut parser, b"*1\r\n$100000000\r\n").error, Some(ProtocolError::UnauthenticatedBulkLength));
        // An invalid length is still reported as invalid.
        let mut parser = RequestParser::default();
        parser.set_auth_required(true);
        assert_eq!(parse_with(&mut parser, b"*1\r\n$-1\r\n").error, Some(ProtocolError::InvalidBulkLength));
    }

    #[test]
    fn authentication_lifts_the_limits() {
        let mut parser = RequestParser::default();
        parser.set_auth_required(true);
        assert!(parser.auth_required());
        assert_eq!(parser.query_buffer_limit(), 1024 * 1024);
        parser.set_auth_required(false);
        assert_eq!(parser.query_buffer_limit(), 1024 * 1024 * 1024);
        assert_eq!(parse_with(&mut parser, b"*11\r\n").error, None);
    }

    #[test]
    fn query_buffer_limit() {
        let limits = Limits { max_query_buffer: 16, ..Limits::default() };
        let mut parser = RequestParser::new(limits);
        let mut buf = BytesMut::from(&b"*1\r\n$20\r\n0123456"[..]);
        assert_eq!(parser.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"789");
        assert_eq!(parser.decode(&mut buf), Err(ProtocolError::QueryBufferLimit { len: 19, limit: 16 }));
    }

    #[test]
    fn unauthenticated_query_buffer_limit() {
        let mut parser = RequestParser::default();
        parser.set_auth_required(true);
        let mut buf = BytesMut::from(&vec![b'A'; 1024 * 1024 + 1][..]);
        assert_eq!(parser.decode(&mut buf), Err(ProtocolError::QueryBufferLimit { len: 1024 * 1024 + 1, limit: 1024 * 1024 }));
    }

    // ----- the parser's own state -----

    #[test]
    fn errors_are_sticky() {
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::from(&b"*x\r\n"[..]);
        assert_eq!(parser.decode(&mut buf), Err(ProtocolError::InvalidMultibulkLength));
        let mut fresh = BytesMut::from(&b"PING\r\n"[..]);
        assert_eq!(parser.decode(&mut fresh), Err(ProtocolError::InvalidMultibulkLength));
    }

    #[test]
    fn limits_can_change_between_requests() {
        let mut parser = RequestParser::default();
        assert_eq!(parser.limits(), &Limits::default());
        let limits = Limits { max_bulk_len: 1, ..Limits::default() };
        parser.set_limits(limits);
        assert_eq!(parse_with(&mut parser, b"*1\r\n$2\r\n").error, Some(ProtocolError::InvalidBulkLength));
    }

    #[test]
    fn a_shrunken_buffer_does_not_panic() {
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nk"[..]);
        assert_eq!(parser.decode(&mut buf), Ok(None));
        // Breaks the contract: the caller drops what it had appended.
        let mut other = BytesMut::from(&b"PI"[..]);
        assert_eq!(parser.decode(&mut other), Ok(None));
        other.extend_from_slice(b"NG\r\n");
        let request = parser.decode(&mut other).unwrap().unwrap();
        assert_eq!(request.args, vec![Bytes::from("PING")]);
    }
}
