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
mod tests;
