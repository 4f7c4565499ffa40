//! The incremental parser: bytes from a connection's read buffer in, one [`Command`] out.
//!
//! [`parse`] looks at the front of the buffer only and keeps no state between calls: it returns
//! `Ok(None)` until a whole request (line and, for storage commands, data block) is there, then
//! the command and how many bytes it used. Pipelined input is handled by calling it again on the
//! rest of the buffer. It never panics, whatever the input (a property test and a fuzz target
//! hold it to that).
//!
//! Keys and values are slices borrowed from the buffer, not `Bytes` or ranges. Ranges would make
//! every user resolve them against the buffer; `Bytes` would need the buffer frozen and split per
//! request, and buy nothing, since the engine copies a value once anyway when it encodes the
//! record. A borrowed command costs no allocation and no copy; the connection applies it, then
//! drops the consumed bytes. The only allocations are the decoded key of a meta command sent with
//! `b` (base64) and nothing else: multi-get keys and stats arguments are split lazily
//! ([`Tokens`]).
//!
//! What memcached does that we do too:
//! - A line ends at `\n`, with an optional `\r` before it; tokens are separated by spaces.
//! - An unknown command, or a wrong number of tokens, gets `ERROR`; a malformed argument gets
//!   `CLIENT_ERROR <reason>` with memcached's reason; classic commands with `noreply` get no
//!   error either (memcached stays silent), meta commands always do.
//! - A data block must be followed by `\r\n` once `<bytes>` bytes are read: if not, `CLIENT_ERROR
//!   bad data chunk`, and those `<bytes> + 2` bytes are gone.
//! - A value larger than the item size limit gets `SERVER_ERROR object too large for cache` and
//!   its data block is swallowed as it arrives, never buffered.
//! - A line too long for a request gets the connection closed; retrieval lines (many keys) have a
//!   separate, larger limit.
//!
//! Where we differ, on purpose:
//! - Keys with control characters are refused (`CLIENT_ERROR bad command line format`), as the
//!   protocol says; memcached does not check.
//! - When a storage command is refused from its line (a key too long, a bad number), memcached
//!   leaves its data block to be read as commands; we swallow it whenever `<bytes>` could be read,
//!   so a value is never executed as a command.
//! - A request starting with byte 0x80 (the binary protocol's magic) gets `CLIENT_ERROR binary
//!   protocol is not supported ...` and the connection is closed; memcached would switch to
//!   its binary protocol.
//! - The line limit also applies to complete lines, so what happens does not depend on how the
//!   bytes were split into packets.
//! - Numbers are plain decimal digits (and `-` for exptimes): no `+` or leading tabs, which C's
//!   `strtol` would take. Exptimes may exceed 32 bits.

use std::borrow::Cow;

use super::base64;
use super::command::{ArithMode, Command, Get, MetaFlags, MetaSetMode, Store, StoreVerb, Tokens};
use super::error::{ClientError, ErrorKind, ProtocolError};

/// Limits on requests, each configurable in the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest key, in bytes (memcached: 250). For a meta key sent in base64, the encoded length.
    pub max_key_len: usize,
    /// Largest value, in bytes (memcached's `-I`, default 1 MiB).
    pub max_item_size: usize,
    /// Longest request line other than a retrieval, without its `\r\n` (memcached: 2048).
    pub max_line_len: usize,
    /// Longest `get`/`gets`/`gat`/`gats` line (memcached: unlimited). Parsing an incomplete line
    /// rescans it, so a huge limit costs time as well as memory.
    pub max_get_line_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_key_len: 250, max_item_size: 1 << 20, max_line_len: 2048, max_get_line_len: 1 << 20 }
    }
}

/// Parses the request at the front of `buf`.
///
/// - `Ok(Some((command, n)))`: a whole request; it used the first `n` bytes of `buf`.
/// - `Ok(None)`: the request is not complete; read more and call again with the same front.
/// - `Err(e)`: bad input; see [`ProtocolError`] for what to reply and what to skip.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Option<(Command<'a>, usize)>, ProtocolError> {
    // A binary-protocol client would otherwise wait forever for a reply to a "line" that may
    // hold no newline at all.
    if buf.first() == Some(&BINARY_REQUEST_MAGIC) {
        return Err(ProtocolError::new(ErrorKind::BinaryProtocol, 0));
    }
    let Some(newline) = memchr::memchr(b'\n', buf) else {
        if buf.len() > line_limit(buf, limits) {
            return Err(ProtocolError::line_too_long());
        }
        return Ok(None);
    };
    let text = &buf[..newline];
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.len() > line_limit(text, limits) {
        return Err(ProtocolError::line_too_long());
    }
    let line = Line::split(text);
    Parser { buf, line: &line, consumed: newline + 1, limits }.command()
}

/// The first byte of every request of memcached's binary protocol, which we do not speak.
const BINARY_REQUEST_MAGIC: u8 = 0x80;

/// The limit for a line that starts like `line`.
pub(super) fn line_limit(line: &[u8], limits: &Limits) -> usize {
    // Like memcached, allow up to 100 leading spaces before recognising a retrieval.
    let start = line.iter().take(101).position(|&b| b != b' ');
    let Some(start) = start else {
        return limits.max_line_len;
    };
    let line = &line[start..];
    let retrieval = [&b"get "[..], b"gets ", b"gat ", b"gats ", b"bget "].iter().any(|prefix| line.starts_with(prefix));
    if retrieval {
        limits.max_get_line_len.max(limits.max_line_len)
    } else {
        limits.max_line_len
    }
}

/// More tokens than any command takes (meta commands allow 19); past this we stop splitting.
const MAX_TOKENS: usize = 24;

/// A request line split into space-separated tokens, without allocating.
struct Line<'a> {
    text: &'a [u8],
    tokens: [&'a [u8]; MAX_TOKENS],
    starts: [usize; MAX_TOKENS],
    /// Number of tokens, or `MAX_TOKENS + 1` if there are more than `MAX_TOKENS`.
    len: usize,
}

impl<'a> Line<'a> {
    fn split(text: &'a [u8]) -> Self {
        let mut line = Line { text, tokens: [&[]; MAX_TOKENS], starts: [0; MAX_TOKENS], len: 0 };
        let mut i = 0;
        while i < text.len() && line.len <= MAX_TOKENS {
            if text[i] == b' ' {
                i += 1;
                continue;
            }
            let start = i;
            while i < text.len() && text[i] != b' ' {
                i += 1;
            }
            if line.len < MAX_TOKENS {
                line.tokens[line.len] = &text[start..i];
                line.starts[line.len] = start;
            }
            line.len += 1;
        }
        line
    }

    /// Token `i`, or empty if there is none.
    fn token(&self, i: usize) -> &'a [u8] {
        if i < self.len.min(MAX_TOKENS) {
            self.tokens[i]
        } else {
            &[]
        }
    }

    /// The text from token `i` to the end of the line, or empty if there is no token `i`.
    fn rest(&self, i: usize) -> &'a [u8] {
        if i < self.len.min(MAX_TOKENS) {
            &self.text[self.starts[i]..]
        } else {
            &[]
        }
    }

    /// Whether the last token is `noreply` (memcached looks there, whatever the command).
    fn noreply(&self) -> bool {
        self.len > 0 && self.token(self.len - 1) == b"noreply"
    }
}

/// One request being parsed: the line is split, the data block (if any) is still in `buf`.
struct Parser<'a, 'l> {
    buf: &'a [u8],
    line: &'l Line<'a>,
    /// Bytes of the line, terminator included.
    consumed: usize,
    limits: &'l Limits,
}

type Parsed<'a> = Result<Option<(Command<'a>, usize)>, ProtocolError>;

impl<'a> Parser<'a, '_> {
    fn unknown(&self) -> ProtocolError {
        ProtocolError::new(ErrorKind::UnknownCommand, self.consumed)
    }

    fn client(&self, reason: ClientError) -> ProtocolError {
        ProtocolError::new(ErrorKind::Client(reason), self.consumed)
    }

    fn done(&self, command: Command<'a>) -> Parsed<'a> {
        Ok(Some((command, self.consumed)))
    }

    /// Checks a key's length and characters; the error is memcached's for a key too long.
    fn check_key(&self, key: &[u8]) -> Result<(), ClientError> {
        if key.len() > self.limits.max_key_len || key.iter().any(|&b| b < 0x20 || b == 0x7f) {
            Err(ClientError::BadCommandLineFormat)
        } else {
            Ok(())
        }
    }

    fn command(&self) -> Parsed<'a> {
        let line = self.line;
        let name = line.token(0);
        let n = line.len;
        match name {
            b"get" | b"bget" => self.retrieval(false, false),
            b"gets" => self.retrieval(true, false),
            b"gat" => self.retrieval(false, true),
            b"gats" => self.retrieval(true, true),
            b"set" => self.store(StoreVerb::Set),
            b"add" => self.store(StoreVerb::Add),
            b"replace" => self.store(StoreVerb::Replace),
            b"append" => self.store(StoreVerb::Append),
            b"prepend" => self.store(StoreVerb::Prepend),
            b"cas" => self.store(StoreVerb::Cas(0)),
            b"delete" => self.delete(),
            b"incr" => self.arith(ArithMode::Incr),
            b"decr" => self.arith(ArithMode::Decr),
            b"touch" => self.touch(),
            b"flush_all" => self.flush_all(),
            b"version" => self.done(Command::Version),
            b"quit" => self.done(Command::Quit),
            b"verbosity" => self.verbosity(),
            b"stats" => self.done(Command::Stats { args: Tokens::new(line.rest(1)) }),
            b"mn" => self.done(Command::MetaNoop),
            b"me" => self.meta_debug(),
            b"mg" | b"ms" | b"md" | b"ma" if n >= 2 => self.meta(name[1]),
            _ => Err(self.unknown()),
        }
    }

    /// `get|gets <key>*`, `gat|gats <exptime> <key>*`.
    fn retrieval(&self, with_cas: bool, touch: bool) -> Parsed<'a> {
        let line = self.line;
        if line.len < 2 {
            return Err(self.unknown());
        }
        let (touch, keys) = if touch {
            let exptime = parse_i64(line.token(1)).ok_or_else(|| self.client(ClientError::InvalidExptime))?;
            (Some(exptime), line.rest(2))
        } else {
            (None, line.rest(1))
        };
        let keys = Tokens::new(keys);
        for key in keys.iter() {
            self.check_key(key).map_err(|e| self.client(e))?;
        }
        self.done(Command::Get(Get { with_cas, touch, keys }))
    }

    /// `set|add|replace|append|prepend <key> <flags> <exptime> <bytes> [noreply]` and
    /// `cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]`, then the data block.
    fn store(&self, verb: StoreVerb) -> Parsed<'a> {
        let line = self.line;
        let is_cas = matches!(verb, StoreVerb::Cas(_));
        let tokens = if is_cas { 6 } else { 5 };
        if line.len != tokens && line.len != tokens + 1 {
            return Err(self.unknown());
        }
        let noreply = line.noreply();
        let len = parse_len(line.token(4));
        let refuse = |reason| self.client(reason).swallowing(len.map(|len| len + 2)).with_noreply(noreply);
        let bad = || refuse(ClientError::BadCommandLineFormat);
        let key = line.token(1);
        self.check_key(key).map_err(refuse)?;
        let flags = parse_u32(line.token(2)).ok_or_else(bad)?;
        let exptime = parse_i64(line.token(3)).ok_or_else(bad)?;
        let len = len.ok_or_else(bad)?;
        let verb = if is_cas { StoreVerb::Cas(parse_u64(line.token(5)).ok_or_else(bad)?) } else { verb };
        if len > self.limits.max_item_size {
            return Err(ProtocolError::new(ErrorKind::TooLarge, self.consumed).swallowing(Some(len + 2)).with_noreply(noreply));
        }
        let Some((value, consumed)) = self.data_block(len, noreply)? else {
            return Ok(None);
        };
        let store = Store { verb, key, flags, exptime, value, noreply };
        Ok(Some((Command::Store(store), consumed)))
    }

    /// The `len` bytes after the line and the total bytes used, or `None` if they are not all
    /// here yet. `noreply` silences a bad data chunk.
    fn data_block(&self, len: usize, noreply: bool) -> Result<Option<(&'a [u8], usize)>, ProtocolError> {
        // Cannot overflow on 64-bit targets (len < 2^31); if it did, wait: never panic.
        let Some(end) = self.consumed.checked_add(len) else {
            return Ok(None);
        };
        let Some(terminator) = end.checked_add(2).and_then(|to| self.buf.get(end..to)) else {
            return Ok(None);
        };
        if terminator != b"\r\n" {
            let chunk = ProtocolError::new(ErrorKind::Client(ClientError::BadDataChunk), end + 2);
            return Err(chunk.with_noreply(noreply));
        }
        Ok(Some((&self.buf[self.consumed..end], end + 2)))
    }

    /// `delete <key> [0] [noreply]`.
    fn delete(&self) -> Parsed<'a> {
        let line = self.line;
        if !(2..=4).contains(&line.len) {
            return Err(self.unknown());
        }
        let noreply = line.len > 2 && line.noreply();
        if line.len > 2 {
            let hold_is_zero = line.token(2) == b"0";
            let valid = (line.len == 3 && (hold_is_zero || noreply)) || (line.len == 4 && hold_is_zero && noreply);
            if !valid {
                return Err(self.client(ClientError::DeleteUsage).with_noreply(noreply));
            }
        }
        let key = line.token(1);
        self.check_key(key).map_err(|e| self.client(e).with_noreply(noreply))?;
        self.done(Command::Delete { key, noreply })
    }

    /// `incr|decr <key> <delta> [noreply]`.
    fn arith(&self, mode: ArithMode) -> Parsed<'a> {
        let line = self.line;
        if line.len != 3 && line.len != 4 {
            return Err(self.unknown());
        }
        let noreply = line.noreply();
        let key = line.token(1);
        self.check_key(key).map_err(|e| self.client(e).with_noreply(noreply))?;
        let delta = parse_u64(line.token(2)).ok_or_else(|| self.client(ClientError::InvalidDeltaArgument).with_noreply(noreply))?;
        self.done(Command::Arith { mode, key, delta, noreply })
    }

    /// `touch <key> <exptime> [noreply]`.
    fn touch(&self) -> Parsed<'a> {
        let line = self.line;
        if line.len != 3 && line.len != 4 {
            return Err(self.unknown());
        }
        let noreply = line.noreply();
        let key = line.token(1);
        self.check_key(key).map_err(|e| self.client(e).with_noreply(noreply))?;
        let exptime = parse_i64(line.token(2)).ok_or_else(|| self.client(ClientError::InvalidExptime).with_noreply(noreply))?;
        self.done(Command::Touch { key, exptime, noreply })
    }

    /// `flush_all [delay] [noreply]`.
    fn flush_all(&self) -> Parsed<'a> {
        let line = self.line;
        if !(1..=3).contains(&line.len) {
            return Err(self.unknown());
        }
        let noreply = line.noreply();
        let delay = if line.len != if noreply { 2 } else { 1 } {
            let delay = parse_i64(line.token(1)).ok_or_else(|| self.client(ClientError::InvalidExptime).with_noreply(noreply))?;
            Some(delay)
        } else {
            None
        };
        self.done(Command::FlushAll { delay, noreply })
    }

    /// `verbosity <level> [noreply]`.
    fn verbosity(&self) -> Parsed<'a> {
        let line = self.line;
        if line.len != 2 && line.len != 3 {
            return Err(self.unknown());
        }
        let noreply = line.noreply();
        let level = parse_u32(line.token(1)).ok_or_else(|| self.client(ClientError::BadCommandLineFormat).with_noreply(noreply))?;
        self.done(Command::Verbosity { level, noreply })
    }

    /// `me <key> [b]`.
    fn meta_debug(&self) -> Parsed<'a> {
        let line = self.line;
        let bad = || self.client(ClientError::BadCommandLineFormat);
        let raw = line.token(1);
        if line.len < 2 {
            return Err(bad());
        }
        self.check_key(raw).map_err(|_| bad())?;
        let base64 = line.token(2) == b"b";
        let key = if base64 { Cow::Owned(base64::decode(raw).ok_or_else(bad)?) } else { Cow::Borrowed(raw) };
        self.done(Command::MetaDebug { key, base64 })
    }

    /// `mg|md|ma <key> <flags>*` and `ms <key> <datalen> <flags>*` (`which` is the second letter).
    fn meta(&self, which: u8) -> Parsed<'a> {
        let line = self.line;
        let is_set = which == b's';
        // For ms, whether the data block's length is known decides what an error swallows.
        let len = if is_set { parse_len(line.token(2)) } else { None };
        let refuse = |reason| self.client(reason).swallowing(len.map(|len| len + 2));
        let raw_key = line.token(1);
        self.check_key(raw_key).map_err(refuse)?;
        if is_set && line.len == 2 {
            return Err(refuse(ClientError::BadCommandLineFormat));
        }
        if line.len > 19 {
            return Err(refuse(if which == b'g' { ClientError::MgFlagsTooLong } else { ClientError::FlagsTooLong }));
        }
        let len = if is_set { Some(len.ok_or_else(|| refuse(ClientError::BadCommandLineFormat))?) } else { None };
        let first_flag = if is_set { 3 } else { 2 };
        let (key, flags) = match meta_flags(line, first_flag, raw_key) {
            Ok(parsed) => parsed,
            Err(_) if matches!(which, b'd' | b'a') => return Err(refuse(ClientError::InvalidOrDuplicateFlag)),
            Err(reason) => return Err(refuse(reason)),
        };
        let set_mode = match flags.mode {
            None | Some(b'S') => MetaSetMode::Set,
            Some(b'E') => MetaSetMode::Add,
            Some(b'A') => MetaSetMode::Append,
            Some(b'P') => MetaSetMode::Prepend,
            Some(b'R') => MetaSetMode::Replace,
            Some(_) if is_set => return Err(refuse(ClientError::InvalidSetMode)),
            Some(_) => MetaSetMode::Set,
        };
        let arith_mode = match flags.mode {
            None | Some(b'I' | b'+') => ArithMode::Incr,
            Some(b'D' | b'-') => ArithMode::Decr,
            Some(_) if which == b'a' => return Err(refuse(ClientError::InvalidArithMode)),
            Some(_) => ArithMode::Incr,
        };
        // memcached counts the O in the 32 bytes an opaque token may take.
        if flags.opaque.is_some_and(|o| o.len() + 1 > 32) {
            return Err(refuse(ClientError::OpaqueTooLong));
        }
        match (which, len) {
            (b'g', _) => self.done(Command::MetaGet { key, flags }),
            (b'd', _) => self.done(Command::MetaDelete { key, flags }),
            (b'a', _) => self.done(Command::MetaArith { key, mode: arith_mode, flags }),
            (_, Some(len)) => {
                if len > self.limits.max_item_size {
                    return Err(ProtocolError::new(ErrorKind::TooLarge, self.consumed).swallowing(Some(len + 2)));
                }
                let Some((value, consumed)) = self.data_block(len, false)? else {
                    return Ok(None);
                };
                let set = Command::MetaSet { key, mode: set_mode, value, flags };
                Ok(Some((set, consumed)))
            }
            _ => Err(self.unknown()), // not reached: `meta` is only called for g, s, d, a
        }
    }
}

/// Parses the flags of a meta command, tokens `first..` of `line`, the way memcached does: an
/// unknown or repeated flag stops at once; a bad token is remembered and the rest still parsed;
/// the last reason wins. Returns the key (decoded if `b` was given) and the flags.
fn meta_flags<'a>(line: &Line<'a>, first: usize, raw_key: &'a [u8]) -> Result<(Cow<'a, [u8]>, MetaFlags<'a>), ClientError> {
    let mut flags = MetaFlags::default();
    let mut key = Cow::Borrowed(raw_key);
    let mut seen = [false; 128];
    let mut failed: Option<ClientError> = None;
    for i in first..line.len.min(MAX_TOKENS) {
        let token = line.token(i);
        let Some((&letter, arg)) = token.split_first() else {
            continue; // tokens are never empty
        };
        let slot = seen.get_mut(usize::from(letter)).filter(|_| letter < 127);
        match slot {
            Some(seen) if !*seen => *seen = true,
            _ => return Err(ClientError::DuplicateFlag),
        }
        match letter {
            b'b' => {
                flags.base64_key = true;
                match base64::decode(raw_key) {
                    Some(decoded) => key = Cow::Owned(decoded),
                    None => failed = Some(ClientError::KeyDecode),
                }
            }
            b'c' => flags.return_cas = true,
            b'f' => flags.return_flags = true,
            b'h' => flags.return_hit = true,
            b'k' => flags.return_key = true,
            b'l' => flags.return_last_access = true,
            b's' => flags.return_size = true,
            b't' => flags.return_ttl = true,
            b'v' => flags.return_value = true,
            b'u' => flags.no_bump = true,
            b'q' => flags.quiet = true,
            b'I' => flags.invalidate = true,
            b'x' => flags.remove_value = true,
            b'O' => flags.opaque = Some(arg),
            // Proxy routing hints: memcached accepts and ignores them.
            b'P' | b'L' => {}
            b'N' => match parse_i64(arg) {
                Some(ttl) => flags.vivify = Some(ttl),
                None => failed = Some(ClientError::BadToken),
            },
            b'T' => match parse_i64(arg) {
                Some(ttl) => flags.ttl = Some(ttl),
                None => failed = Some(ClientError::BadToken),
            },
            b'R' => match parse_i64(arg) {
                Some(ttl) => flags.recache = Some(ttl),
                None => failed = Some(ClientError::BadToken),
            },
            b'F' => match parse_u32(arg) {
                Some(client_flags) => flags.client_flags = Some(client_flags),
                // memcached gives no reason of its own here: an earlier one, or the default.
                None => failed = Some(failed.unwrap_or(ClientError::BadCommandLineFormat)),
            },
            b'C' => match parse_u64(arg) {
                Some(cas) => flags.compare_cas = Some(cas),
                None => failed = Some(ClientError::BadToken),
            },
            b'E' => match parse_u64(arg) {
                Some(cas) => flags.new_cas = Some(cas),
                None => failed = Some(ClientError::BadToken),
            },
            b'M' => match arg {
                [mode] => flags.mode = Some(*mode),
                _ => failed = Some(ClientError::ModeTokenLength),
            },
            b'J' => match parse_u64(arg) {
                Some(initial) => flags.initial = Some(initial),
                None => failed = Some(ClientError::InvalidInitial),
            },
            b'D' => match parse_u64(arg) {
                Some(delta) => flags.delta = Some(delta),
                None => failed = Some(ClientError::InvalidDelta),
            },
            _ => return Err(ClientError::InvalidFlag),
        }
        // At most 17 flags get here (19 tokens), well within the order's room.
        flags.push_order(letter);
    }
    match failed {
        Some(reason) => Err(reason),
        None => Ok((key, flags)),
    }
}

/// A data block length as memcached accepts it: 0 to `i32::MAX - 2`.
fn parse_len(token: &[u8]) -> Option<usize> {
    let len = parse_i64(token)?;
    if (0..=i64::from(i32::MAX) - 2).contains(&len) {
        usize::try_from(len).ok()
    } else {
        None
    }
}

/// Decimal digits, at least one, no sign.
fn parse_u64(token: &[u8]) -> Option<u64> {
    if token.is_empty() {
        return None;
    }
    token.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn parse_u32(token: &[u8]) -> Option<u32> {
    u32::try_from(parse_u64(token)?).ok()
}

/// Decimal digits with an optional `-`.
fn parse_i64(token: &[u8]) -> Option<i64> {
    match token.strip_prefix(b"-") {
        Some(digits) => 0i64.checked_sub_unsigned(parse_u64(digits)?),
        None => i64::try_from(parse_u64(token)?).ok(),
    }
}

#[cfg(test)]
mod tests;
