//! The requests of memcached's text protocol, classic and meta, as the parser produces them and as
//! a client would send them (`Command::encode`).
//!
//! A `Command<'a>` borrows its keys and values from the buffer it was parsed from (see
//! `parse.rs` for why). Numbers are kept as the client sent them: in particular expiration
//! times stay raw `i64`s, and the server turns them into deadlines with [`expiry`].

use std::borrow::Cow;
use std::fmt;

use bytes::{BufMut, BytesMut};

use super::base64;

/// The longest relative expiration time, in seconds (30 days). A larger exptime is a Unix time.
pub const RELATIVE_EXPTIME_MAX: i64 = 60 * 60 * 24 * 30;

/// When an item expires, from an exptime as memcached reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Exptime 0: the item never expires.
    Never,
    /// The item expires at this Unix time (seconds), which is later than `now`.
    At(u64),
    /// The item is expired already: a negative exptime, or a Unix time not after `now`.
    Expired,
}

/// Converts a raw memcached exptime to an [`Expiry`], given the current Unix time in seconds.
///
/// memcached's rules: 0 means never; a negative value means already expired; up to 30 days
/// ([`RELATIVE_EXPTIME_MAX`]) is relative to `now`; anything larger is an absolute Unix time (in
/// the past means expired). The same rules apply to `touch`, `gat`, the meta `T`/`N` flags and the
/// `flush_all` delay (where 0 or negative means "now"). memcached rejects values beyond 32 bits;
/// we accept any `i64`, so Unix times after 2038 work.
pub fn expiry(exptime: i64, now: u64) -> Expiry {
    if exptime == 0 {
        return Expiry::Never;
    }
    if exptime < 0 {
        return Expiry::Expired;
    }
    // exptime > 0 here, so the conversion cannot fail.
    let secs = exptime as u64;
    if exptime <= RELATIVE_EXPTIME_MAX {
        Expiry::At(now.saturating_add(secs))
    } else if secs > now {
        Expiry::At(secs)
    } else {
        Expiry::Expired
    }
}

/// A request of the memcached text protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// `set|add|replace|append|prepend <key> <flags> <exptime> <bytes> [noreply]`,
    /// `cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]`, then the data block.
    Store(Store<'a>),
    /// `get|gets <key>*`, `gat|gats <exptime> <key>*` (and the ancient alias `bget`).
    Get(Get<'a>),
    /// `delete <key> [0] [noreply]` (the `0` is the legacy hold time, accepted and ignored).
    Delete { key: &'a [u8], noreply: bool },
    /// `incr|decr <key> <delta> [noreply]`.
    Arith { mode: ArithMode, key: &'a [u8], delta: u64, noreply: bool },
    /// `touch <key> <exptime> [noreply]`.
    Touch { key: &'a [u8], exptime: i64, noreply: bool },
    /// `flush_all [delay] [noreply]`; a delay of 0 or less means now.
    FlushAll { delay: Option<i64>, noreply: bool },
    /// `version`.
    Version,
    /// `verbosity <level> [noreply]`.
    Verbosity { level: u32, noreply: bool },
    /// `quit`: the server closes the connection without a reply.
    Quit,
    /// `stats [args]`: general stats without arguments, else `stats settings`, `stats items`,
    /// ...; an argument the server does not know gets `ERROR`.
    Stats { args: Tokens<'a> },
    /// `mg <key> <flags>*`.
    MetaGet { key: Cow<'a, [u8]>, flags: MetaFlags<'a> },
    /// `ms <key> <datalen> <flags>*`, then the data block.
    MetaSet { key: Cow<'a, [u8]>, mode: MetaSetMode, value: &'a [u8], flags: MetaFlags<'a> },
    /// `md <key> <flags>*`.
    MetaDelete { key: Cow<'a, [u8]>, flags: MetaFlags<'a> },
    /// `ma <key> <flags>*`.
    MetaArith { key: Cow<'a, [u8]>, mode: ArithMode, flags: MetaFlags<'a> },
    /// `me <key> [b]`: a human-readable dump of an item's metadata.
    MetaDebug { key: Cow<'a, [u8]>, base64: bool },
    /// `mn`: answered with `MN`, marks the end of a pipeline of quiet meta commands.
    MetaNoop,
}

/// A classic storage command with its data block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store<'a> {
    pub verb: StoreVerb,
    pub key: &'a [u8],
    /// Opaque client flags, stored with the item and returned by retrievals.
    pub flags: u32,
    /// Raw exptime; see [`expiry`]. `append`/`prepend` ignore it (and `flags`).
    pub exptime: i64,
    pub value: &'a [u8],
    pub noreply: bool,
}

/// Which classic storage command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreVerb {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    /// `cas` with the client's cas unique: store only if the item's version is still this one.
    Cas(u64),
}

impl StoreVerb {
    /// The command name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            StoreVerb::Set => "set",
            StoreVerb::Add => "add",
            StoreVerb::Replace => "replace",
            StoreVerb::Append => "append",
            StoreVerb::Prepend => "prepend",
            StoreVerb::Cas(_) => "cas",
        }
    }
}

/// A classic retrieval: `get`, `gets` (with cas), `gat`, `gats` (touch, with cas).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Get<'a> {
    /// `gets`/`gats`: the `VALUE` lines carry the cas unique.
    pub with_cas: bool,
    /// `gat`/`gats`: the raw exptime to set on every item found.
    pub touch: Option<i64>,
    /// The keys, each validated; `gat <exptime>` with no key is legal (memcached answers `END`).
    pub keys: Tokens<'a>,
}

impl Get<'_> {
    /// The command name on the wire.
    pub fn name(&self) -> &'static str {
        match (self.touch.is_some(), self.with_cas) {
            (false, false) => "get",
            (false, true) => "gets",
            (true, false) => "gat",
            (true, true) => "gats",
        }
    }
}

/// Increment or decrement (`incr`/`decr`, and the meta `ma` mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArithMode {
    /// Wraps around at 2^64.
    #[default]
    Incr,
    /// Stops at 0.
    Decr,
}

/// The `M` mode of `ms`: which classic storage command it behaves as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetaSetMode {
    /// `MS` (the default).
    #[default]
    Set,
    /// `ME`: store only if the item does not exist.
    Add,
    /// `MR`: store only if the item exists.
    Replace,
    /// `MA`: append to an existing item (or vivify with `N`).
    Append,
    /// `MP`: prepend to an existing item (or vivify with `N`).
    Prepend,
}

impl MetaSetMode {
    /// The mode letter on the wire.
    pub fn letter(self) -> u8 {
        match self {
            MetaSetMode::Set => b'S',
            MetaSetMode::Add => b'E',
            MetaSetMode::Replace => b'R',
            MetaSetMode::Append => b'A',
            MetaSetMode::Prepend => b'P',
        }
    }
}

/// The most flags a meta command can carry: memcached refuses a line of more than 19 tokens.
pub const MAX_META_FLAGS: usize = 20;

/// The flags of a meta command (`mg`, `ms`, `md`, `ma`), in the order the client sent them.
///
/// memcached parses every known flag for every meta command and each command uses the ones that
/// apply (an `mg` with a `D` delta is legal and the delta is ignored). Return flags (`O k c f s t
/// l h` and `b` after a key) are answered in request order, which `order` keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaFlags<'a> {
    /// `b`: the key was sent base64-encoded (it is decoded in the command); return it encoded.
    pub base64_key: bool,
    /// `c`: return the item's cas.
    pub return_cas: bool,
    /// `f`: return the client flags.
    pub return_flags: bool,
    /// `h`: return whether the item was fetched before (0/1).
    pub return_hit: bool,
    /// `k`: return the key.
    pub return_key: bool,
    /// `l`: return the seconds since the last access.
    pub return_last_access: bool,
    /// `s`: return the value's size.
    pub return_size: bool,
    /// `t`: return the remaining TTL in seconds (-1 for none).
    pub return_ttl: bool,
    /// `v`: return the value (`VA <size>` and a data block instead of `HD`).
    pub return_value: bool,
    /// `u`: do not bump the item in the LRU (nothing to do for a store without an LRU).
    pub no_bump: bool,
    /// `q`: quiet. The nominal reply is left out: `EN` for `mg`, `HD` for `ms`, `md`, `ma`.
    /// Errors and other codes are always sent.
    pub quiet: bool,
    /// `I`: invalidate. `md` marks the item stale instead of deleting it; `ms` with `C` stores a
    /// stale item if the cas is older.
    pub invalidate: bool,
    /// `x`: `md` removes the value but keeps the item.
    pub remove_value: bool,
    /// `O<token>`: opaque, copied back in the reply (at most 31 bytes after the `O`).
    pub opaque: Option<&'a [u8]>,
    /// `T<token>`: new TTL (raw exptime).
    pub ttl: Option<i64>,
    /// `N<token>`: vivify on miss with this TTL (raw exptime).
    pub vivify: Option<i64>,
    /// `R<token>`: win the recache token if the remaining TTL is below this (raw exptime).
    pub recache: Option<i64>,
    /// `F<token>`: client flags to store (`ms`); 0 if absent.
    pub client_flags: Option<u32>,
    /// `C<token>`: compare cas.
    pub compare_cas: Option<u64>,
    /// `E<token>`: explicit cas to give the item if it is modified.
    pub new_cas: Option<u64>,
    /// `D<token>`: delta for `ma`; 1 if absent.
    pub delta: Option<u64>,
    /// `J<token>`: initial value for `ma` when vivified with `N`; 0 if absent.
    pub initial: Option<u64>,
    /// `M<char>`: the raw mode letter; `ms` and `ma` validate it into their mode.
    pub mode: Option<u8>,
    order: FlagOrder,
}

impl<'a> MetaFlags<'a> {
    /// The flag letters in the order the client sent them.
    pub fn order(&self) -> &[u8] {
        self.order.as_slice()
    }

    /// Records that flag `letter` was sent, after the others. Flags are encoded (by
    /// `Command::encode`) and answered in this order; a field set without its letter pushed is not
    /// encoded. Returns false, and records nothing, once `MAX_META_FLAGS` letters are recorded.
    pub fn push_order(&mut self, letter: u8) -> bool {
        self.order.push(letter)
    }

    /// `D` or its default, 1.
    pub fn delta_or_default(&self) -> u64 {
        self.delta.unwrap_or(1)
    }

    /// `J` or its default, 0.
    pub fn initial_or_default(&self) -> u64 {
        self.initial.unwrap_or(0)
    }
}

/// Flag letters in request order, without allocating.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct FlagOrder {
    letters: [u8; MAX_META_FLAGS],
    len: u8,
}

impl FlagOrder {
    fn as_slice(&self) -> &[u8] {
        &self.letters[..usize::from(self.len)]
    }

    fn push(&mut self, letter: u8) -> bool {
        let len = usize::from(self.len);
        if len >= MAX_META_FLAGS {
            return false;
        }
        self.letters[len] = letter;
        self.len += 1;
        true
    }
}

impl fmt::Debug for FlagOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

/// Space-separated tokens (the keys of a `get`, the arguments of `stats`), borrowed from the
/// request line and split lazily, so a multi-get allocates nothing.
#[derive(Clone, Copy, Default)]
pub struct Tokens<'a> {
    raw: &'a [u8],
}

impl<'a> Tokens<'a> {
    /// Tokens separated by one or more spaces in `raw`.
    pub fn new(raw: &'a [u8]) -> Self {
        Tokens { raw }
    }

    /// The tokens in order.
    pub fn iter(&self) -> TokenIter<'a> {
        TokenIter { rest: self.raw }
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there is no token.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The text the tokens were split from.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
}

impl<'a> IntoIterator for Tokens<'a> {
    type Item = &'a [u8];
    type IntoIter = TokenIter<'a>;

    fn into_iter(self) -> TokenIter<'a> {
        self.iter()
    }
}

/// Two token lists are equal when they hold the same tokens, however spaced.
impl PartialEq for Tokens<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Tokens<'_> {}

impl fmt::Debug for Tokens<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|t| String::from_utf8_lossy(t))).finish()
    }
}

/// Iterator over [`Tokens`].
#[derive(Clone, Debug)]
pub struct TokenIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TokenIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.rest.iter().position(|&b| b != b' ')?;
        let rest = &self.rest[start..];
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        let (token, tail) = rest.split_at(end);
        self.rest = tail;
        Some(token)
    }
}

impl Command<'_> {
    /// The command name on the wire (`"set"`, `"mg"`, ...), for logs and stats.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Store(s) => s.verb.name(),
            Command::Get(g) => g.name(),
            Command::Delete { .. } => "delete",
            Command::Arith { mode: ArithMode::Incr, .. } => "incr",
            Command::Arith { mode: ArithMode::Decr, .. } => "decr",
            Command::Touch { .. } => "touch",
            Command::FlushAll { .. } => "flush_all",
            Command::Version => "version",
            Command::Verbosity { .. } => "verbosity",
            Command::Quit => "quit",
            Command::Stats { .. } => "stats",
            Command::MetaGet { .. } => "mg",
            Command::MetaSet { .. } => "ms",
            Command::MetaDelete { .. } => "md",
            Command::MetaArith { .. } => "ma",
            Command::MetaDebug { .. } => "me",
            Command::MetaNoop => "mn",
        }
    }

    /// Writes the request as a client sends it, data block included. Parsing the output gives
    /// back an equal command (the property the tests check).
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Command::Store(s) => {
                put_words(out, &[s.verb.name().as_bytes(), s.key]);
                put_u64(out.space(), u64::from(s.flags));
                put_i64(out.space(), s.exptime);
                put_u64(out.space(), s.value.len() as u64);
                if let StoreVerb::Cas(unique) = s.verb {
                    put_u64(out.space(), unique);
                }
                put_noreply(out, s.noreply);
                out.put_slice(b"\r\n");
                out.put_slice(s.value);
            }
            Command::Get(g) => {
                out.put_slice(g.name().as_bytes());
                if let Some(exptime) = g.touch {
                    put_i64(out.space(), exptime);
                }
                for key in g.keys.iter() {
                    out.space().put_slice(key);
                }
            }
            Command::Delete { key, noreply } => {
                put_words(out, &[b"delete", key]);
                put_noreply(out, *noreply);
            }
            Command::Arith { mode, key, delta, noreply } => {
                let name: &[u8] = match mode {
                    ArithMode::Incr => b"incr",
                    ArithMode::Decr => b"decr",
                };
                put_words(out, &[name, key]);
                put_u64(out.space(), *delta);
                put_noreply(out, *noreply);
            }
            Command::Touch { key, exptime, noreply } => {
                put_words(out, &[b"touch", key]);
                put_i64(out.space(), *exptime);
                put_noreply(out, *noreply);
            }
            Command::FlushAll { delay, noreply } => {
                out.put_slice(b"flush_all");
                if let Some(delay) = delay {
                    put_i64(out.space(), *delay);
                }
                put_noreply(out, *noreply);
            }
            Command::Version => out.put_slice(b"version"),
            Command::Verbosity { level, noreply } => {
                out.put_slice(b"verbosity");
                put_u64(out.space(), u64::from(*level));
                put_noreply(out, *noreply);
            }
            Command::Quit => out.put_slice(b"quit"),
            Command::Stats { args } => {
                out.put_slice(b"stats");
                for arg in args.iter() {
                    out.space().put_slice(arg);
                }
            }
            Command::MetaGet { key, flags } => {
                out.put_slice(b"mg");
                put_meta_key(out, key, flags);
                put_meta_flags(out, flags, None);
            }
            Command::MetaSet { key, mode, value, flags } => {
                out.put_slice(b"ms");
                put_meta_key(out, key, flags);
                put_u64(out.space(), value.len() as u64);
                put_meta_flags(out, flags, Some(mode.letter()));
                out.put_slice(b"\r\n");
                out.put_slice(value);
            }
            Command::MetaDelete { key, flags } => {
                out.put_slice(b"md");
                put_meta_key(out, key, flags);
                put_meta_flags(out, flags, None);
            }
            Command::MetaArith { key, mode, flags } => {
                out.put_slice(b"ma");
                put_meta_key(out, key, flags);
                let letter = match mode {
                    ArithMode::Incr => b'I',
                    ArithMode::Decr => b'D',
                };
                put_meta_flags(out, flags, Some(letter));
            }
            Command::MetaDebug { key, base64 } => {
                out.put_slice(b"me ");
                if *base64 {
                    base64::encode(key, out);
                    out.put_slice(b" b");
                } else {
                    out.put_slice(key);
                }
            }
            Command::MetaNoop => out.put_slice(b"mn"),
        }
        out.put_slice(b"\r\n");
    }
}

/// Appends a space and hands the buffer back, so a token can follow.
trait Space {
    fn space(&mut self) -> &mut Self;
}

impl Space for BytesMut {
    fn space(&mut self) -> &mut Self {
        self.put_u8(b' ');
        self
    }
}

fn put_words(out: &mut BytesMut, words: &[&[u8]]) {
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.put_u8(b' ');
        }
        out.put_slice(word);
    }
}

fn put_noreply(out: &mut BytesMut, noreply: bool) {
    if noreply {
        out.put_slice(b" noreply");
    }
}

fn put_meta_key(out: &mut BytesMut, key: &[u8], flags: &MetaFlags<'_>) {
    out.put_u8(b' ');
    if flags.base64_key {
        base64::encode(key, out);
    } else {
        out.put_slice(key);
    }
}

/// Writes the flags in their recorded order. `mode` is the letter to write for `M`, which `ms` and
/// `ma` hold in their command rather than in the flags.
fn put_meta_flags(out: &mut BytesMut, flags: &MetaFlags<'_>, mode: Option<u8>) {
    for &letter in flags.order() {
        out.put_u8(b' ');
        out.put_u8(letter);
        match letter {
            b'O' => out.put_slice(flags.opaque.unwrap_or_default()),
            b'T' => put_i64(out, flags.ttl.unwrap_or_default()),
            b'N' => put_i64(out, flags.vivify.unwrap_or_default()),
            b'R' => put_i64(out, flags.recache.unwrap_or_default()),
            b'F' => put_u64(out, u64::from(flags.client_flags.unwrap_or_default())),
            b'C' => put_u64(out, flags.compare_cas.unwrap_or_default()),
            b'E' => put_u64(out, flags.new_cas.unwrap_or_default()),
            b'D' => put_u64(out, flags.delta.unwrap_or(1)),
            b'J' => put_u64(out, flags.initial.unwrap_or_default()),
            b'M' => out.put_u8(mode.or(flags.mode).unwrap_or(b'S')),
            _ => {}
        }
    }
}

/// Writes `n` in decimal without allocating.
pub(crate) fn put_u64(out: &mut BytesMut, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

/// Writes `n` in decimal without allocating.
pub(crate) fn put_i64(out: &mut BytesMut, n: i64) {
    if n < 0 {
        out.put_u8(b'-');
    }
    put_u64(out, n.unsigned_abs());
}

#[cfg(test)]
mod tests;
