//! Encoding of the server's replies, appended to a connection's write buffer.
//!
//! Each function writes one complete reply line (and data block, where there is one), `\r\n`
//! included. Nothing here allocates beyond growing `out`; numbers are written without `format!`.
//! Which reply a command gets, and whether `noreply` (or meta `q`) suppresses it, is the server's
//! business; what `q` hides is documented on [`MetaFlags::quiet`].

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::base64;
use super::command::{put_i64, put_u64, MetaFlags};
use super::error::ProtocolError;

fn line(out: &mut BytesMut, text: &[u8]) {
    out.reserve(text.len() + 2);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

/// `VALUE <key> <flags> <bytes> [<cas unique>]\r\n<data>\r\n`: one item of a `get`, `gets`,
/// `gat` or `gats` reply (with `cas` for `gets` and `gats`). Follow the items with [`end`].
pub fn value(out: &mut BytesMut, key: &[u8], flags: u32, data: &[u8], cas: Option<u64>) {
    out.reserve(key.len() + data.len() + 64);
    out.put_slice(b"VALUE ");
    out.put_slice(key);
    out.put_u8(b' ');
    put_u64(out, u64::from(flags));
    out.put_u8(b' ');
    put_u64(out, data.len() as u64);
    if let Some(cas) = cas {
        out.put_u8(b' ');
        put_u64(out, cas);
    }
    out.put_slice(b"\r\n");
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// Most bytes of values one retrieval reply (`get`, `gets`, `gat`, `gats` with many keys) may
/// hold beyond its first value. A reply is built whole before it is sent, so without a bound
/// one request naming a large key thousands of times would hold gigabytes of server memory.
/// A single value of any size is always sent.
pub const MAX_RETRIEVAL_REPLY: usize = 32 << 20;

/// Whether a retrieval reply that holds `so_far` bytes of values can take `next` more.
pub fn retrieval_fits(so_far: usize, next: usize) -> bool {
    so_far == 0 || so_far.saturating_add(next) <= MAX_RETRIEVAL_REPLY
}

/// The reply to a retrieval over [`MAX_RETRIEVAL_REPLY`], instead of any of its values.
pub fn retrieval_too_large(out: &mut BytesMut) {
    server_error(out, "the values asked for exceed 32 MiB in one reply; get fewer keys at once");
}

/// `END`: closes a retrieval or `stats` reply.
pub fn end(out: &mut BytesMut) {
    line(out, b"END");
}

/// `STORED`.
pub fn stored(out: &mut BytesMut) {
    line(out, b"STORED");
}

/// `NOT_STORED`: the condition of `add`, `replace`, `append`, `prepend` was not met.
pub fn not_stored(out: &mut BytesMut) {
    line(out, b"NOT_STORED");
}

/// `EXISTS`: a `cas` found the item modified since it was fetched.
pub fn exists(out: &mut BytesMut) {
    line(out, b"EXISTS");
}

/// `NOT_FOUND`.
pub fn not_found(out: &mut BytesMut) {
    line(out, b"NOT_FOUND");
}

/// `DELETED`.
pub fn deleted(out: &mut BytesMut) {
    line(out, b"DELETED");
}

/// `TOUCHED`.
pub fn touched(out: &mut BytesMut) {
    line(out, b"TOUCHED");
}

/// `OK`: `flush_all`, `verbosity`.
pub fn ok(out: &mut BytesMut) {
    line(out, b"OK");
}

/// `RESET`: `stats reset`.
pub fn reset(out: &mut BytesMut) {
    line(out, b"RESET");
}

/// `<value>`: the new value after `incr` or `decr`.
pub fn number(out: &mut BytesMut, value: u64) {
    put_u64(out, value);
    out.put_slice(b"\r\n");
}

/// `VERSION <version>`.
pub fn version(out: &mut BytesMut, version: &str) {
    out.put_slice(b"VERSION ");
    line(out, version.as_bytes());
}

/// `STAT <name> <value>`: one line of a `stats` reply. Follow the lines with [`end`].
pub fn stat(out: &mut BytesMut, name: &str, value: &[u8]) {
    out.reserve(name.len() + value.len() + 8);
    out.put_slice(b"STAT ");
    out.put_slice(name.as_bytes());
    out.put_u8(b' ');
    line(out, value);
}

/// `STAT <name> <value>` for a number.
pub fn stat_u64(out: &mut BytesMut, name: &str, value: u64) {
    out.put_slice(b"STAT ");
    out.put_slice(name.as_bytes());
    out.put_u8(b' ');
    number(out, value);
}

/// `ERROR`: an unknown command.
pub fn error(out: &mut BytesMut) {
    line(out, b"ERROR");
}

/// `CLIENT_ERROR <reason>`.
pub fn client_error(out: &mut BytesMut, reason: &str) {
    out.put_slice(b"CLIENT_ERROR ");
    line(out, reason.as_bytes());
}

/// `SERVER_ERROR <reason>`: the request was fine but the server could not carry it out.
pub fn server_error(out: &mut BytesMut, reason: &str) {
    out.put_slice(b"SERVER_ERROR ");
    line(out, reason.as_bytes());
}

/// The reply to a parse error, unless the request asked for `noreply` (memcached is silent
/// then). Returns whether anything was written.
pub fn protocol_error(out: &mut BytesMut, err: &ProtocolError) -> bool {
    if err.noreply {
        return false;
    }
    // Writing into a BytesMut cannot fail.
    let _ = write!(out, "{}\r\n", err.kind);
    true
}

/// The status of a meta reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaStatus<'v> {
    /// `HD`: success, no value (`mg` hit without `v`, stored, deleted, arithmetic done).
    Hd,
    /// `VA <size>` and a data block: `mg` with `v` on a hit, `ma` with `v` (the number).
    Va(&'v [u8]),
    /// `EN`: `mg` miss.
    En,
    /// `NF`: not found (`md`, `ma`, `ms` with `C` on a missing item).
    Nf,
    /// `NS`: not stored (`ms` add/replace/append condition failed, `ma` vivify failed).
    Ns,
    /// `EX`: the `C` cas did not match.
    Ex,
}

/// What the server knows about an item, for a meta reply's return flags. A flag the client asked
/// for whose value is `None` here is left out (memcached returns only `O` and `k` on a miss, and
/// `ms` returns only `c` of the item flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemInfo {
    /// `c`: the item's cas.
    pub cas: Option<u64>,
    /// `f`: the client flags.
    pub client_flags: Option<u32>,
    /// `s`: the value's size in bytes.
    pub size: Option<u64>,
    /// `t`: seconds to live, -1 for never.
    pub ttl: Option<i64>,
    /// `l`: seconds since the last access.
    pub last_access: Option<u64>,
    /// `h`: whether the item had been fetched before this request.
    pub fetched: Option<bool>,
    /// Adds `W`: this client won the right to recache the item (`N`, `R`, or a stale item).
    pub won: bool,
    /// Adds `X`: the item is stale (invalidated by `md I`).
    pub stale: bool,
    /// Adds `Z`: another client already won the recache token.
    pub already_won: bool,
}

/// A meta reply: `<status> <flags>*\r\n`, or `VA <size> <flags>*\r\n<data>\r\n`.
///
/// Return flags are written in the order the client sent them (`flags.order()`): `O` echoes the
/// opaque, `k` the key (`key`, as decoded; base64-encoded and followed by `b` if the client used
/// `b`), `c f s t l h` come from `item`. Then `Z`, `X`, `W` as `item` says.
pub fn meta(out: &mut BytesMut, status: MetaStatus<'_>, flags: &MetaFlags<'_>, key: &[u8], item: &ItemInfo) {
    let data = match status {
        MetaStatus::Va(data) => {
            out.put_slice(b"VA ");
            put_u64(out, data.len() as u64);
            Some(data)
        }
        MetaStatus::Hd => {
            out.put_slice(b"HD");
            None
        }
        MetaStatus::En => {
            out.put_slice(b"EN");
            None
        }
        MetaStatus::Nf => {
            out.put_slice(b"NF");
            None
        }
        MetaStatus::Ns => {
            out.put_slice(b"NS");
            None
        }
        MetaStatus::Ex => {
            out.put_slice(b"EX");
            None
        }
    };
    for &letter in flags.order() {
        match letter {
            b'O' => {
                out.put_slice(b" O");
                out.put_slice(flags.opaque.unwrap_or_default());
            }
            b'k' => {
                out.put_slice(b" k");
                if flags.base64_key {
                    base64::encode(key, out);
                    out.put_slice(b" b");
                } else {
                    out.put_slice(key);
                }
            }
            b'c' => put_flag_u64(out, b'c', item.cas),
            b'f' => put_flag_u64(out, b'f', item.client_flags.map(u64::from)),
            b's' => put_flag_u64(out, b's', item.size),
            b'l' => put_flag_u64(out, b'l', item.last_access),
            b'h' => put_flag_u64(out, b'h', item.fetched.map(u64::from)),
            b't' => {
                if let Some(ttl) = item.ttl {
                    out.put_slice(b" t");
                    put_i64(out, ttl);
                }
            }
            _ => {}
        }
    }
    if item.already_won {
        out.put_slice(b" Z");
    }
    if item.stale {
        out.put_slice(b" X");
    }
    if item.won {
        out.put_slice(b" W");
    }
    out.put_slice(b"\r\n");
    if let Some(data) = data {
        out.reserve(data.len() + 2);
        out.put_slice(data);
        out.put_slice(b"\r\n");
    }
}

fn put_flag_u64(out: &mut BytesMut, letter: u8, value: Option<u64>) {
    if let Some(value) = value {
        out.put_u8(b' ');
        out.put_u8(letter);
        put_u64(out, value);
    }
}

/// `MN`: the reply to `mn`.
pub fn meta_noop(out: &mut BytesMut) {
    line(out, b"MN");
}

/// An item's metadata for `me`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DebugInfo {
    /// Seconds to live, -1 for never.
    pub exp: i64,
    /// Seconds since the last access.
    pub last_access: u64,
    pub cas: u64,
    /// Whether the item was fetched since it was stored.
    pub fetched: bool,
    /// Bytes the item takes.
    pub size: u64,
}

/// `ME <key> exp=<s> la=<s> cas=<n> fetch=<yes|no> size=<n>`: the reply to `me` on a hit (a
/// miss gets `EN`, `meta(.., MetaStatus::En, ..)`). The key is base64-encoded if the client sent
/// it so. memcached also reports its slab class (`cls=`), which we do not have.
pub fn meta_debug(out: &mut BytesMut, key: &[u8], base64_key: bool, info: &DebugInfo) {
    out.put_slice(b"ME ");
    if base64_key {
        base64::encode(key, out);
    } else {
        out.put_slice(key);
    }
    out.put_slice(b" exp=");
    put_i64(out, info.exp);
    out.put_slice(b" la=");
    put_u64(out, info.last_access);
    out.put_slice(b" cas=");
    put_u64(out, info.cas);
    out.put_slice(if info.fetched { b" fetch=yes" } else { b" fetch=no" });
    out.put_slice(b" size=");
    put_u64(out, info.size);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memcache::{parse, Command, Limits};

    fn written(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
        let mut out = BytesMut::new();
        f(&mut out);
        out.to_vec()
    }

    /// The flags of a meta request, as the parser makes them.
    fn meta_flags(request: &[u8]) -> (Vec<u8>, MetaFlags<'_>) {
        match parse(request, &Limits::default()) {
            Ok(Some((Command::MetaGet { key, flags }, _))) => (key.into_owned(), flags),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn value_lines() {
        assert_eq!(written(|o| value(o, b"foo", 5, b"a\r\nb", None)), b"VALUE foo 5 4\r\na\r\nb\r\n");
        assert_eq!(written(|o| value(o, b"k", u32::MAX, b"", Some(u64::MAX))), b"VALUE k 4294967295 0 18446744073709551615\r\n\r\n");
    }

    #[test]
    fn status_lines() {
        type Writer = fn(&mut BytesMut);
        let cases: [(Writer, &[u8]); 11] = [
            (end, b"END\r\n"),
            (stored, b"STORED\r\n"),
            (not_stored, b"NOT_STORED\r\n"),
            (exists, b"EXISTS\r\n"),
            (not_found, b"NOT_FOUND\r\n"),
            (deleted, b"DELETED\r\n"),
            (touched, b"TOUCHED\r\n"),
            (ok, b"OK\r\n"),
            (reset, b"RESET\r\n"),
            (error, b"ERROR\r\n"),
            (meta_noop, b"MN\r\n"),
        ];
        for (f, expected) in cases {
            assert_eq!(written(f), expected);
        }
    }

    #[test]
    fn numbers_versions_stats() {
        assert_eq!(written(|o| number(o, 0)), b"0\r\n");
        assert_eq!(written(|o| number(o, u64::MAX)), b"18446744073709551615\r\n");
        assert_eq!(written(|o| version(o, "1.6.21")), b"VERSION 1.6.21\r\n");
        assert_eq!(written(|o| stat(o, "version", b"0.1.0")), b"STAT version 0.1.0\r\n");
        assert_eq!(written(|o| stat_u64(o, "curr_items", 42)), b"STAT curr_items 42\r\n");
    }

    #[test]
    fn error_lines() {
        assert_eq!(written(|o| client_error(o, "bad data chunk")), b"CLIENT_ERROR bad data chunk\r\n");
        assert_eq!(written(|o| server_error(o, "out of memory")), b"SERVER_ERROR out of memory\r\n");
    }

    #[test]
    fn protocol_errors_respect_noreply() {
        let limits = Limits::default();
        let err = parse(b"set k 0 0 1\r\nab\r\n", &limits).unwrap_err();
        assert_eq!(written(|o| assert!(protocol_error(o, &err))), b"CLIENT_ERROR bad data chunk\r\n");
        let err = parse(b"set k 0 0 1 noreply\r\nab\r\n", &limits).unwrap_err();
        assert_eq!(written(|o| assert!(!protocol_error(o, &err))), b"");
        let err = parse(b"bogus\r\n", &limits).unwrap_err();
        assert_eq!(written(|o| assert!(protocol_error(o, &err))), b"ERROR\r\n");
    }

    #[test]
    fn meta_hit_returns_flags_in_request_order() {
        let (key, flags) = meta_flags(b"mg foo s v t c f Oab k l h\r\n");
        let item = ItemInfo {
            cas: Some(9),
            client_flags: Some(3),
            size: Some(2),
            ttl: Some(-1),
            last_access: Some(12),
            fetched: Some(true),
            ..ItemInfo::default()
        };
        assert_eq!(written(|o| meta(o, MetaStatus::Va(b"hi"), &flags, &key, &item)), b"VA 2 s2 t-1 c9 f3 Oab kfoo l12 h1\r\nhi\r\n");
        assert_eq!(written(|o| meta(o, MetaStatus::Hd, &flags, &key, &item)), b"HD s2 t-1 c9 f3 Oab kfoo l12 h1\r\n");
    }

    #[test]
    fn meta_miss_returns_opaque_and_key_only() {
        let (key, flags) = meta_flags(b"mg foo v c k O1\r\n");
        assert_eq!(written(|o| meta(o, MetaStatus::En, &flags, &key, &ItemInfo::default())), b"EN kfoo O1\r\n");
    }

    #[test]
    fn meta_codes() {
        let (key, flags) = meta_flags(b"mg foo\r\n");
        let none = ItemInfo::default();
        for (status, expected) in [
            (MetaStatus::Hd, &b"HD\r\n"[..]),
            (MetaStatus::En, b"EN\r\n"),
            (MetaStatus::Nf, b"NF\r\n"),
            (MetaStatus::Ns, b"NS\r\n"),
            (MetaStatus::Ex, b"EX\r\n"),
            (MetaStatus::Va(b""), b"VA 0\r\n\r\n"),
        ] {
            assert_eq!(written(|o| meta(o, status, &flags, &key, &none)), expected);
        }
    }

    #[test]
    fn meta_base64_key_is_returned_encoded() {
        let (key, flags) = meta_flags(b"mg AP8= b k v\r\n");
        assert_eq!(key, b"\x00\xff");
        assert_eq!(written(|o| meta(o, MetaStatus::Va(b"x"), &flags, &key, &ItemInfo::default())), b"VA 1 kAP8= b\r\nx\r\n");
    }

    #[test]
    fn meta_recache_flags_come_last() {
        let (key, flags) = meta_flags(b"mg foo c N30\r\n");
        let item = ItemInfo { cas: Some(1), won: true, stale: true, already_won: true, ..ItemInfo::default() };
        assert_eq!(written(|o| meta(o, MetaStatus::Hd, &flags, &key, &item)), b"HD c1 Z X W\r\n");
    }

    #[test]
    fn meta_debug_line() {
        let info = DebugInfo { exp: -1, last_access: 3, cas: 7, fetched: false, size: 70 };
        assert_eq!(written(|o| meta_debug(o, b"foo", false, &info)), b"ME foo exp=-1 la=3 cas=7 fetch=no size=70\r\n");
        let info = DebugInfo { fetched: true, ..info };
        assert_eq!(written(|o| meta_debug(o, b"\xff", true, &info)), b"ME /w== exp=-1 la=3 cas=7 fetch=yes size=70\r\n");
    }
}
