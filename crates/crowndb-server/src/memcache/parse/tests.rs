//! Long (over 600 lines) on purpose: a table of every request form and every bad input, one
//! case each; splitting it would split the specification.
//!
//! The parser's specification: what each request becomes, and what each kind of bad input gets.

use std::borrow::Cow;

use super::*;
use crate::memcache::command::MetaFlags;
use crate::memcache::error::ErrorKind;

fn limits() -> Limits {
    Limits::default()
}

/// Parses a whole request, which must use all of `input`.
#[track_caller]
fn command(input: &[u8]) -> Command<'_> {
    match parse(input, &limits()) {
        Ok(Some((command, used))) => {
            assert_eq!(used, input.len(), "bytes used");
            command
        }
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

#[track_caller]
fn incomplete(input: &[u8]) {
    assert_eq!(parse(input, &limits()), Ok(None), "{:?}", String::from_utf8_lossy(input));
}

#[track_caller]
fn error(input: &[u8]) -> ProtocolError {
    error_with(input, &limits())
}

#[track_caller]
fn error_with(input: &[u8], limits: &Limits) -> ProtocolError {
    match parse(input, limits) {
        Err(err) => err,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

/// The reply line, the bytes used, the bytes to swallow, and `noreply`.
#[track_caller]
fn refused(input: &[u8]) -> (String, usize, usize, bool) {
    let err = error(input);
    assert!(!err.closes_connection());
    (err.to_string(), err.consumed, err.swallow, err.noreply)
}

/// An error answered with `reply` that skips the whole (single-line) input and nothing more.
#[track_caller]
fn line_error(input: &[u8], reply: &str) {
    assert_eq!(refused(input), (reply.to_string(), input.len(), 0, false), "{:?}", String::from_utf8_lossy(input));
}

const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";

fn store<'a>(verb: StoreVerb, key: &'a [u8], flags: u32, exptime: i64, value: &'a [u8]) -> Command<'a> {
    Command::Store(Store { verb, key, flags, exptime, value, noreply: false })
}

fn get(raw_keys: &[u8]) -> Command<'_> {
    Command::Get(Get { with_cas: false, touch: None, keys: Tokens::new(raw_keys) })
}

fn meta_get(input: &[u8]) -> (Cow<'_, [u8]>, MetaFlags<'_>) {
    match command(input) {
        Command::MetaGet { key, flags } => (key, flags),
        other => panic!("{other:?}"),
    }
}

// ---- storage commands ----

#[test]
fn set_with_all_fields() {
    assert_eq!(command(b"set foo 5 100 3\r\nbar\r\n"), store(StoreVerb::Set, b"foo", 5, 100, b"bar"));
}

#[test]
fn every_storage_verb() {
    for (name, verb) in [
        ("set", StoreVerb::Set),
        ("add", StoreVerb::Add),
        ("replace", StoreVerb::Replace),
        ("append", StoreVerb::Append),
        ("prepend", StoreVerb::Prepend),
    ] {
        let input = format!("{name} k 1 2 1\r\nv\r\n");
        assert_eq!(command(input.as_bytes()), store(verb, b"k", 1, 2, b"v"));
    }
}

#[test]
fn cas_carries_its_unique() {
    assert_eq!(command(b"cas k 0 0 1 18446744073709551615\r\nv\r\n"), store(StoreVerb::Cas(u64::MAX), b"k", 0, 0, b"v"));
}

#[test]
fn storage_noreply() {
    let Command::Store(s) = command(b"set k 0 0 1 noreply\r\nv\r\n") else { panic!() };
    assert!(s.noreply);
    let Command::Store(s) = command(b"cas k 0 0 1 7 noreply\r\nv\r\n") else { panic!() };
    assert!(s.noreply);
    assert_eq!(s.verb, StoreVerb::Cas(7));
}

#[test]
fn storage_ignores_a_last_token_other_than_noreply() {
    // memcached only looks for "noreply"; anything else in that place is ignored.
    assert_eq!(command(b"set k 0 0 1 whatever\r\nv\r\n"), store(StoreVerb::Set, b"k", 0, 0, b"v"));
}

#[test]
fn values_are_binary_and_may_hold_line_ends() {
    assert_eq!(command(b"set k 0 0 6\r\n\r\n\0\xff\n\r\r\n"), store(StoreVerb::Set, b"k", 0, 0, b"\r\n\0\xff\n\r"));
}

#[test]
fn empty_value() {
    assert_eq!(command(b"set k 0 0 0\r\n\r\n"), store(StoreVerb::Set, b"k", 0, 0, b""));
}

#[test]
fn line_may_end_with_a_bare_newline() {
    assert_eq!(command(b"set k 0 0 1\nv\r\n"), store(StoreVerb::Set, b"k", 0, 0, b"v"));
}

#[test]
fn extra_spaces_between_tokens() {
    assert_eq!(command(b"  set   k  0 0   1  \r\nv\r\n"), store(StoreVerb::Set, b"k", 0, 0, b"v"));
}

#[test]
fn storage_numbers_at_their_limits() {
    assert_eq!(command(b"set k 4294967295 -1 1\r\nv\r\n"), store(StoreVerb::Set, b"k", u32::MAX, -1, b"v"));
    assert_eq!(command(b"set k 007 9223372036854775807 1\r\nv\r\n"), store(StoreVerb::Set, b"k", 7, i64::MAX, b"v"));
}

#[test]
fn storage_waits_for_its_data_block() {
    incomplete(b"set k 0 0 3");
    incomplete(b"set k 0 0 3\r");
    incomplete(b"set k 0 0 3\r\n");
    incomplete(b"set k 0 0 3\r\nab");
    incomplete(b"set k 0 0 3\r\nabc");
    incomplete(b"set k 0 0 3\r\nabc\r");
    incomplete(b"ms k 3\r\nabc\r");
}

#[test]
fn storage_with_the_wrong_number_of_tokens_is_unknown() {
    for input in [
        &b"set k 0 0\r\n"[..],
        b"set\r\n",
        b"set k 0 0 1 noreply extra\r\n",
        b"add k 0\r\n",
        b"cas k 0 0 1\r\n",
        b"cas k 0 0 1 2 noreply extra\r\n",
    ] {
        line_error(input, "ERROR");
    }
}

#[test]
fn bad_data_chunk_uses_the_announced_length() {
    // memcached reads <bytes> + 2 bytes, finds no \r\n at their end, and goes on after them: here
    // the leftover "\n" is an empty line, which gets ERROR.
    let input = b"set k 0 0 1\r\nab\r\n";
    let (reply, used, swallow, noreply) = refused(input);
    assert_eq!(reply, "CLIENT_ERROR bad data chunk");
    assert_eq!((used, swallow, noreply), (b"set k 0 0 1\r\nab\r".len(), 0, false));
    line_error(&input[used..], "ERROR");
}

#[test]
fn bad_data_chunk_when_the_block_is_short() {
    let input = b"set k 0 0 5\r\nab\r\nget k\r\n";
    let (reply, used, _, _) = refused(input);
    assert_eq!(reply, "CLIENT_ERROR bad data chunk");
    assert_eq!(used, 13 + 7);
}

#[test]
fn bad_data_chunk_is_silent_with_noreply() {
    let (reply, _, _, noreply) = refused(b"set k 0 0 1 noreply\r\nab\r\n");
    assert_eq!(reply, "CLIENT_ERROR bad data chunk");
    assert!(noreply);
}

#[test]
fn storage_key_limits() {
    let ok = format!("set {} 0 0 1\r\nv\r\n", "k".repeat(250));
    assert!(matches!(command(ok.as_bytes()), Command::Store(_)));
    let line = format!("set {} 0 0 1\r\n", "k".repeat(251));
    assert_eq!(refused(format!("{line}v\r\n").as_bytes()), (BAD_FORMAT.to_string(), line.len(), 3, false));
}

#[test]
fn storage_key_with_control_characters() {
    for key in [&b"a\tb"[..], b"a\x01", b"\x7f", b"a\rb"] {
        let mut input = b"set ".to_vec();
        input.extend_from_slice(key);
        input.extend_from_slice(b" 0 0 1\r\n");
        let line_len = input.len();
        input.extend_from_slice(b"v\r\n");
        assert_eq!(refused(&input), (BAD_FORMAT.to_string(), line_len, 3, false));
    }
}

#[test]
fn storage_keys_may_be_utf8() {
    assert!(matches!(command("set clé 0 0 1\r\nv\r\n".as_bytes()), Command::Store(_)));
}

#[test]
fn storage_with_bad_numbers_swallows_a_known_block() {
    for line in [
        &b"set k x 0 1\r\n"[..],
        b"set k -1 0 1\r\n",
        b"set k 4294967296 0 1\r\n",
        b"set k 0 x 1\r\n",
        b"set k 0 1.5 1\r\n",
        b"set k 0 +1 1\r\n",
        b"set k 0 99999999999999999999 1\r\n",
        b"cas k 0 0 1 x\r\n",
        b"cas k 0 0 1 -1\r\n",
    ] {
        let mut input = line.to_vec();
        input.extend_from_slice(b"v\r\n");
        assert_eq!(refused(&input), (BAD_FORMAT.to_string(), line.len(), 3, false), "{:?}", String::from_utf8_lossy(line));
    }
}

#[test]
fn storage_with_an_unreadable_length_swallows_nothing() {
    for line in [&b"set k 0 0 x\r\n"[..], b"set k 0 0 -1\r\n", b"set k 0 0 2147483646\r\n", b"set k 0 0 \x00\r\n"] {
        line_error(line, BAD_FORMAT);
    }
}

#[test]
fn storage_errors_are_silent_with_noreply() {
    let (reply, _, swallow, noreply) = refused(b"set k x 0 1 noreply\r\n");
    assert_eq!((reply.as_str(), swallow, noreply), (BAD_FORMAT, 3, true));
    // memcached looks for noreply in the last place, even where <bytes> belongs.
    let (reply, _, swallow, noreply) = refused(b"set k 0 0 noreply\r\n");
    assert_eq!((reply.as_str(), swallow, noreply), (BAD_FORMAT, 0, true));
}

#[test]
fn value_too_large_is_swallowed_without_waiting_for_it() {
    let limits = Limits { max_item_size: 10, ..Limits::default() };
    let ok = parse(b"set k 0 0 10\r\n0123456789\r\n", &limits);
    assert!(matches!(ok, Ok(Some((Command::Store(_), 26)))));
    // Only the line is here: the answer comes at once, and says to swallow the block.
    let err = error_with(b"set k 0 0 11\r\n", &limits);
    assert_eq!(err.kind, ErrorKind::TooLarge);
    assert_eq!(err.to_string(), "SERVER_ERROR object too large for cache");
    assert_eq!((err.consumed, err.swallow, err.noreply), (14, 13, false));
    let err = error_with(b"set k 0 0 2000000000 noreply\r\n", &limits);
    assert_eq!((err.kind, err.swallow, err.noreply), (ErrorKind::TooLarge, 2_000_000_002, true));
    let err = error_with(b"ms k 11 T0\r\n01234", &limits);
    assert_eq!((err.kind, err.consumed, err.swallow, err.noreply), (ErrorKind::TooLarge, 12, 13, false));
}

// ---- retrieval commands ----

#[test]
fn get_one_and_many_keys() {
    assert_eq!(command(b"get foo\r\n"), get(b"foo"));
    let Command::Get(g) = command(b"get a  bb ccc \r\n") else { panic!() };
    assert_eq!(g.keys.iter().collect::<Vec<_>>(), [&b"a"[..], b"bb", b"ccc"]);
    assert!(!g.with_cas && g.touch.is_none());
}

#[test]
fn get_with_more_keys_than_a_line_has_tokens() {
    let keys: Vec<String> = (0..1000).map(|i| format!("key{i}")).collect();
    let input = format!("get {}\r\n", keys.join(" "));
    let Command::Get(g) = command(input.as_bytes()) else { panic!() };
    assert_eq!(g.keys.len(), 1000);
    assert!(g.keys.iter().eq(keys.iter().map(|k| k.as_bytes())));
}

#[test]
fn gets_gat_gats_bget() {
    assert_eq!(command(b"gets a b\r\n"), Command::Get(Get { with_cas: true, touch: None, keys: Tokens::new(b"a b") }));
    assert_eq!(command(b"gat 100 a\r\n"), Command::Get(Get { with_cas: false, touch: Some(100), keys: Tokens::new(b"a") }));
    assert_eq!(command(b"gats -1 a b\r\n"), Command::Get(Get { with_cas: true, touch: Some(-1), keys: Tokens::new(b"a b") }));
    assert_eq!(command(b"bget a\r\n"), get(b"a"));
}

#[test]
fn gat_without_keys_is_legal() {
    // memcached answers END.
    let Command::Get(g) = command(b"gat 10\r\n") else { panic!() };
    assert!(g.keys.is_empty());
}

#[test]
fn retrieval_without_keys_is_unknown() {
    for input in [&b"get\r\n"[..], b"gets \r\n", b"gat\r\n", b"gats\r\n"] {
        line_error(input, "ERROR");
    }
}

#[test]
fn gat_with_a_bad_exptime() {
    line_error(b"gat x a\r\n", "CLIENT_ERROR invalid exptime argument");
    line_error(b"gats 1x a\r\n", "CLIENT_ERROR invalid exptime argument");
}

#[test]
fn get_with_a_bad_key() {
    let input = format!("get a {} b\r\n", "k".repeat(251));
    line_error(input.as_bytes(), BAD_FORMAT);
    line_error(b"get a b\x01c\r\n", BAD_FORMAT);
    line_error(b"gets a\tb\r\n", BAD_FORMAT);
}

// ---- delete, incr, decr, touch ----

#[test]
fn delete_forms() {
    assert_eq!(command(b"delete k\r\n"), Command::Delete { key: b"k", noreply: false });
    assert_eq!(command(b"delete k noreply\r\n"), Command::Delete { key: b"k", noreply: true });
    // The legacy hold time, which must be 0.
    assert_eq!(command(b"delete k 0\r\n"), Command::Delete { key: b"k", noreply: false });
    assert_eq!(command(b"delete k 0 noreply\r\n"), Command::Delete { key: b"k", noreply: true });
}

#[test]
fn delete_errors() {
    const USAGE: &str = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
    line_error(b"delete\r\n", "ERROR");
    line_error(b"delete a b c d\r\n", "ERROR");
    line_error(b"delete k 10\r\n", USAGE);
    line_error(b"delete k noreply 0\r\n", USAGE);
    line_error(b"delete k 0 0\r\n", USAGE);
    // memcached takes the noreply even from a line it refuses, and stays silent.
    assert!(refused(b"delete k 1 noreply\r\n").3);
    line_error(format!("delete {}\r\n", "k".repeat(251)).as_bytes(), BAD_FORMAT);
}

#[test]
fn incr_decr() {
    assert_eq!(command(b"incr k 5\r\n"), Command::Arith { mode: ArithMode::Incr, key: b"k", delta: 5, noreply: false });
    assert_eq!(
        command(b"decr k 18446744073709551615 noreply\r\n"),
        Command::Arith { mode: ArithMode::Decr, key: b"k", delta: u64::MAX, noreply: true }
    );
}

#[test]
fn incr_decr_errors() {
    const DELTA: &str = "CLIENT_ERROR invalid numeric delta argument";
    line_error(b"incr k\r\n", "ERROR");
    line_error(b"decr k 1 noreply x\r\n", "ERROR");
    line_error(b"incr k -1\r\n", DELTA);
    line_error(b"incr k x\r\n", DELTA);
    line_error(b"decr k 18446744073709551616\r\n", DELTA);
    line_error(format!("incr {} 1\r\n", "k".repeat(251)).as_bytes(), BAD_FORMAT);
    assert!(refused(b"incr k x noreply\r\n").3);
}

#[test]
fn touch() {
    assert_eq!(command(b"touch k 10\r\n"), Command::Touch { key: b"k", exptime: 10, noreply: false });
    assert_eq!(command(b"touch k -1 noreply\r\n"), Command::Touch { key: b"k", exptime: -1, noreply: true });
    line_error(b"touch k\r\n", "ERROR");
    line_error(b"touch k x\r\n", "CLIENT_ERROR invalid exptime argument");
    line_error(format!("touch {} 1\r\n", "k".repeat(251)).as_bytes(), BAD_FORMAT);
}

// ---- other classic commands ----

#[test]
fn flush_all_forms() {
    let flush = |delay, noreply| Command::FlushAll { delay, noreply };
    assert_eq!(command(b"flush_all\r\n"), flush(None, false));
    assert_eq!(command(b"flush_all 10\r\n"), flush(Some(10), false));
    assert_eq!(command(b"flush_all noreply\r\n"), flush(None, true));
    assert_eq!(command(b"flush_all 10 noreply\r\n"), flush(Some(10), true));
    assert_eq!(command(b"flush_all -5\r\n"), flush(Some(-5), false));
    // memcached ignores a last token that is not noreply.
    assert_eq!(command(b"flush_all 10 foo\r\n"), flush(Some(10), false));
}

#[test]
fn flush_all_errors() {
    line_error(b"flush_all x\r\n", "CLIENT_ERROR invalid exptime argument");
    line_error(b"flush_all noreply 10\r\n", "CLIENT_ERROR invalid exptime argument");
    line_error(b"flush_all 1 2 3\r\n", "ERROR");
    assert!(refused(b"flush_all x noreply\r\n").3);
}

#[test]
fn version_quit_verbosity() {
    assert_eq!(command(b"version\r\n"), Command::Version);
    assert_eq!(command(b"version extra\r\n"), Command::Version);
    assert_eq!(command(b"quit\r\n"), Command::Quit);
    assert_eq!(command(b"verbosity 1\r\n"), Command::Verbosity { level: 1, noreply: false });
    assert_eq!(command(b"verbosity 0 noreply\r\n"), Command::Verbosity { level: 0, noreply: true });
    line_error(b"verbosity\r\n", "ERROR");
    line_error(b"verbosity 1 2 3\r\n", "ERROR");
    line_error(b"verbosity x\r\n", BAD_FORMAT);
}

#[test]
fn stats_with_and_without_arguments() {
    assert_eq!(command(b"stats\r\n"), Command::Stats { args: Tokens::new(b"") });
    assert_eq!(command(b"stats settings\r\n"), Command::Stats { args: Tokens::new(b"settings") });
    let Command::Stats { args } = command(b"stats detail  on\r\n") else { panic!() };
    assert_eq!(args.iter().collect::<Vec<_>>(), [&b"detail"[..], b"on"]);
}

#[test]
fn unknown_commands() {
    for input in [
        &b"bogus\r\n"[..],
        b"\r\n",
        b"\n",
        b"   \r\n",
        b"GET k\r\n",
        b"Set k 0 0 1\r\n",
        b"g\r\n",
        b"m\r\n",
        b"mz k\r\n",
        b"mg\r\n",
        b"ms\r\n",
        b"md\r\n",
        b"ma\r\n",
        b"meta k\r\n",
        b"shutdown\r\n",
        b"get\tk\r\n",
        b"\0\r\n",
    ] {
        line_error(input, "ERROR");
    }
}

// ---- meta get ----

#[test]
fn mg_without_flags() {
    let (key, flags) = meta_get(b"mg foo\r\n");
    assert_eq!(&*key, b"foo");
    assert_eq!(flags, MetaFlags::default());
}

#[test]
fn mg_return_flags_keep_their_order() {
    let (key, flags) = meta_get(b"mg foo v k c f t s l h u q Oabc\r\n");
    assert_eq!(&*key, b"foo");
    assert!(matches!(key, Cow::Borrowed(_)));
    assert_eq!(flags.order(), b"vkcftslhuqO");
    assert!(flags.return_value && flags.return_key && flags.return_cas && flags.return_flags);
    assert!(flags.return_ttl && flags.return_size && flags.return_last_access);
    assert!(flags.return_hit && flags.no_bump && flags.quiet);
    assert_eq!(flags.opaque, Some(&b"abc"[..]));
    assert!(!flags.base64_key && !flags.invalidate);
}

#[test]
fn mg_token_flags() {
    let (_, flags) = meta_get(b"mg foo T30 N-1 R15 E99\r\n");
    assert_eq!(flags.ttl, Some(30));
    assert_eq!(flags.vivify, Some(-1));
    assert_eq!(flags.recache, Some(15));
    assert_eq!(flags.new_cas, Some(99));
    assert_eq!(flags.order(), b"TNRE");
}

#[test]
fn mg_accepts_flags_meant_for_other_commands() {
    // memcached parses every known flag for every meta command.
    let (_, flags) = meta_get(b"mg foo D5 J1 MZ F3 C2 I x Pproxy L1\r\n");
    assert_eq!(flags.delta, Some(5));
    assert_eq!(flags.mode, Some(b'Z'));
    assert_eq!(flags.client_flags, Some(3));
}

#[test]
fn mg_base64_key() {
    let (key, flags) = meta_get(b"mg Zm9v b v\r\n");
    assert_eq!(&*key, b"foo");
    assert!(flags.base64_key);
    let (key, _) = meta_get(b"mg AP8A b\r\n");
    assert_eq!(&*key, b"\x00\xff\x00");
    line_error(b"mg !!! b\r\n", "CLIENT_ERROR error decoding key");
    line_error(b"mg Zm9vY b\r\n", "CLIENT_ERROR error decoding key");
}

#[test]
fn mg_key_errors() {
    line_error(format!("mg {} v\r\n", "k".repeat(251)).as_bytes(), BAD_FORMAT);
    line_error(b"mg a\x02b v\r\n", BAD_FORMAT);
    assert!(matches!(command(format!("mg {} v\r\n", "k".repeat(250)).as_bytes()), Command::MetaGet { .. }));
}

#[test]
fn meta_token_limit() {
    // 19 tokens are fine; 20 are too many.
    let flags17 = "v k c f t s l h u q O1 T1 N1 R1 E1 D1 J1";
    assert!(matches!(command(format!("mg foo {flags17}\r\n").as_bytes()), Command::MetaGet { .. }));
    line_error(format!("mg foo {flags17} I\r\n").as_bytes(), "CLIENT_ERROR options flags are too long");
    line_error(format!("md foo {flags17} I\r\n").as_bytes(), "CLIENT_ERROR options flags too long");
    line_error(format!("ma foo {flags17} I\r\n").as_bytes(), "CLIENT_ERROR options flags too long");
}

#[test]
fn mg_flag_errors() {
    line_error(b"mg foo v v\r\n", "CLIENT_ERROR duplicate flag");
    line_error(b"mg foo T1 T2\r\n", "CLIENT_ERROR duplicate flag");
    line_error(b"mg foo \xc3\xa9\r\n", "CLIENT_ERROR duplicate flag");
    line_error(b"mg foo z\r\n", "CLIENT_ERROR invalid flag");
    line_error(b"mg foo Tx\r\n", "CLIENT_ERROR bad token in command line format");
    line_error(b"mg foo T\r\n", "CLIENT_ERROR bad token in command line format");
    line_error(b"mg foo N1.5\r\n", "CLIENT_ERROR bad token in command line format");
    line_error(b"mg foo R-\r\n", "CLIENT_ERROR bad token in command line format");
    line_error(b"mg foo C-1\r\n", "CLIENT_ERROR bad token in command line format");
    line_error(b"mg foo Ex\r\n", "CLIENT_ERROR bad token in command line format");
    line_error(b"mg foo M\r\n", "CLIENT_ERROR incorrect length for M token");
    line_error(b"mg foo MSS\r\n", "CLIENT_ERROR incorrect length for M token");
    line_error(b"mg foo Jx\r\n", "CLIENT_ERROR invalid numeric initial value");
    line_error(b"mg foo D-1\r\n", "CLIENT_ERROR invalid numeric delta value");
    line_error(b"mg foo Fx\r\n", BAD_FORMAT);
}

#[test]
fn meta_flag_errors_the_way_memcached_orders_them() {
    // A bad token is remembered and parsing goes on; the last reason wins.
    line_error(b"mg foo Tx Jx\r\n", "CLIENT_ERROR invalid numeric initial value");
    // F has no reason of its own and keeps the one before it.
    line_error(b"mg foo Tx Fx\r\n", "CLIENT_ERROR bad token in command line format");
    line_error(b"mg foo Fx Tx\r\n", "CLIENT_ERROR bad token in command line format");
    // An unknown or repeated flag stops parsing at once.
    line_error(b"mg foo Tx z\r\n", "CLIENT_ERROR invalid flag");
    line_error(b"mg foo Tx Tx\r\n", "CLIENT_ERROR duplicate flag");
}

#[test]
fn mg_opaque_limit() {
    let input = format!("mg foo O{}\r\n", "o".repeat(31));
    let (_, flags) = meta_get(input.as_bytes());
    assert_eq!(flags.opaque.map(<[u8]>::len), Some(31));
    let (_, flags) = meta_get(b"mg foo O\r\n");
    assert_eq!(flags.opaque, Some(&b""[..]));
    line_error(format!("mg foo O{}\r\n", "o".repeat(32)).as_bytes(), "CLIENT_ERROR opaque token too long");
}

// ---- meta set ----

#[test]
fn ms_with_flags() {
    let Command::MetaSet { key, mode, value, flags } = command(b"ms foo 2 T10 F5 c k I C7 q Oxx\r\nhi\r\n") else { panic!() };
    assert_eq!((&*key, mode, value), (&b"foo"[..], MetaSetMode::Set, &b"hi"[..]));
    assert_eq!((flags.ttl, flags.client_flags, flags.compare_cas), (Some(10), Some(5), Some(7)));
    assert!(flags.return_cas && flags.return_key && flags.invalidate && flags.quiet);
    assert_eq!(flags.order(), b"TFckICqO");
}

#[test]
fn ms_modes() {
    for (letter, expected) in [
        ('S', MetaSetMode::Set),
        ('E', MetaSetMode::Add),
        ('A', MetaSetMode::Append),
        ('P', MetaSetMode::Prepend),
        ('R', MetaSetMode::Replace),
    ] {
        let input = format!("ms k 1 M{letter} N30\r\nv\r\n");
        let Command::MetaSet { mode, flags, .. } = command(input.as_bytes()) else { panic!() };
        assert_eq!(mode, expected);
        assert_eq!(flags.vivify, Some(30));
    }
    let Command::MetaSet { mode, .. } = command(b"ms k 0\r\n\r\n") else { panic!() };
    assert_eq!(mode, MetaSetMode::Set);
}

#[test]
fn ms_base64_key() {
    let Command::MetaSet { key, value, .. } = command(b"ms Zm9v 1 b\r\nv\r\n") else { panic!() };
    assert_eq!((&*key, value), (&b"foo"[..], &b"v"[..]));
}

#[test]
fn ms_errors_swallow_the_block_when_its_length_is_known() {
    let cases: [(&[u8], &str); 7] = [
        (b"ms k 2 MX\r\n", "CLIENT_ERROR invalid mode for ms M token"),
        (b"ms k 2 z\r\n", "CLIENT_ERROR invalid flag"),
        (b"ms k 2 v v\r\n", "CLIENT_ERROR duplicate flag"),
        (b"ms k 2 Tx\r\n", "CLIENT_ERROR bad token in command line format"),
        (b"ms k 2 Fx\r\n", BAD_FORMAT),
        (b"ms !!! 2 b\r\n", "CLIENT_ERROR error decoding key"),
        (b"ms k 2 O12345678901234567890123456789012\r\n", "CLIENT_ERROR opaque token too long"),
    ];
    for (line, reply) in cases {
        let mut input = line.to_vec();
        input.extend_from_slice(b"hi\r\n");
        assert_eq!(refused(&input), (reply.to_string(), line.len(), 4, false), "{:?}", String::from_utf8_lossy(line));
    }
    // A key too long, when the length is readable.
    let line = format!("ms {} 2\r\n", "k".repeat(251));
    assert_eq!(refused(line.as_bytes()), (BAD_FORMAT.to_string(), line.len(), 4, false));
    // Too many tokens.
    let line = "ms k 2 v k c f t s l h u q O1 T1 N1 R1 E1 D1 J1\r\n";
    assert_eq!(refused(line.as_bytes()), ("CLIENT_ERROR options flags too long".to_string(), line.len(), 4, false));
}

#[test]
fn ms_mode_error_comes_before_opaque_error() {
    let input = format!("ms k 1 MX O{}\r\n", "o".repeat(40));
    assert_eq!(refused(input.as_bytes()).0, "CLIENT_ERROR invalid mode for ms M token");
}

#[test]
fn ms_with_an_unreadable_length() {
    line_error(b"ms k\r\n", BAD_FORMAT);
    line_error(b"ms k x\r\n", BAD_FORMAT);
    line_error(b"ms k -1\r\n", BAD_FORMAT);
    line_error(b"ms k T10\r\n", BAD_FORMAT);
}

#[test]
fn ms_bad_data_chunk_is_never_quiet() {
    let (reply, used, swallow, noreply) = refused(b"ms k 1 q\r\nab\r\n");
    assert_eq!((reply.as_str(), used, swallow, noreply), ("CLIENT_ERROR bad data chunk", 13, 0, false));
}

// ---- meta delete, arithmetic, debug, noop ----

#[test]
fn md_with_flags() {
    let Command::MetaDelete { key, flags } = command(b"md Zm9v q I T30 x C4 k O1 b\r\n") else { panic!() };
    assert_eq!(&*key, b"foo");
    assert!(flags.quiet && flags.invalidate && flags.remove_value && flags.return_key);
    assert_eq!((flags.ttl, flags.compare_cas), (Some(30), Some(4)));
    assert_eq!(flags.order(), b"qITxCkOb");
}

#[test]
fn md_and_ma_report_every_flag_error_alike() {
    for cmd in ["md", "ma"] {
        for flags in ["z", "q q", "Tx", "Fx", "M"] {
            let input = format!("{cmd} foo {flags}\r\n");
            line_error(input.as_bytes(), "CLIENT_ERROR invalid or duplicate flag");
        }
        let input = format!("{cmd} foo O{}\r\n", "o".repeat(32));
        line_error(input.as_bytes(), "CLIENT_ERROR opaque token too long");
        let input = format!("{cmd} {} q\r\n", "k".repeat(251));
        line_error(input.as_bytes(), BAD_FORMAT);
    }
}

#[test]
fn ma_modes_and_numbers() {
    let arith = |input: &'static [u8]| match command(input) {
        Command::MetaArith { key, mode, flags } => (key, mode, flags),
        other => panic!("{other:?}"),
    };
    let (key, mode, flags) = arith(b"ma foo\r\n");
    assert_eq!((&*key, mode), (&b"foo"[..], ArithMode::Incr));
    assert_eq!((flags.delta_or_default(), flags.initial_or_default()), (1, 0));
    let (_, mode, flags) = arith(b"ma foo MD D5 J10 N0 v t c\r\n");
    assert_eq!(mode, ArithMode::Decr);
    assert_eq!((flags.delta, flags.initial, flags.vivify), (Some(5), Some(10), Some(0)));
    assert_eq!(arith(b"ma foo M+\r\n").1, ArithMode::Incr);
    assert_eq!(arith(b"ma foo MI\r\n").1, ArithMode::Incr);
    assert_eq!(arith(b"ma foo M-\r\n").1, ArithMode::Decr);
    line_error(b"ma foo MX\r\n", "CLIENT_ERROR invalid mode for ma M token");
    line_error(b"ma foo ME\r\n", "CLIENT_ERROR invalid mode for ma M token");
}

#[test]
fn me_forms() {
    assert_eq!(command(b"me foo\r\n"), Command::MetaDebug { key: Cow::Borrowed(b"foo"), base64: false });
    assert_eq!(command(b"me Zm9v b\r\n"), Command::MetaDebug { key: Cow::Owned(b"foo".to_vec()), base64: true });
    // Only a "b" right after the key counts; anything else is ignored.
    assert_eq!(command(b"me foo v b\r\n"), Command::MetaDebug { key: Cow::Borrowed(b"foo"), base64: false });
    line_error(b"me\r\n", BAD_FORMAT);
    line_error(b"me !!! b\r\n", BAD_FORMAT);
    line_error(format!("me {}\r\n", "k".repeat(251)).as_bytes(), BAD_FORMAT);
}

#[test]
fn mn() {
    assert_eq!(command(b"mn\r\n"), Command::MetaNoop);
    assert_eq!(command(b"mn extra\r\n"), Command::MetaNoop);
}

// ---- pipelining and incremental input ----

#[test]
fn pipelined_requests_parse_one_after_another() {
    let input: &[u8] = b"set a 0 0 5\r\nx\r\nyz\r\nget a b\r\nbogus\r\nms b 2 T0\r\nhi\r\nmg b v\r\nincr n 1\r\nmn\r\n";
    let mut rest = input;
    let mut names = Vec::new();
    while !rest.is_empty() {
        match parse(rest, &limits()) {
            Ok(Some((command, used))) => {
                names.push(command.name());
                rest = &rest[used..];
            }
            Err(err) => {
                names.push("ERROR");
                rest = &rest[err.consumed..];
            }
            Ok(None) => panic!("incomplete: {rest:?}"),
        }
    }
    assert_eq!(names, ["set", "get", "ERROR", "ms", "mg", "incr", "mn"]);
}

#[test]
fn byte_by_byte_input_waits_then_parses() {
    let input = b"cas key 1 2 4 99 noreply\r\nab\r\n\r\n";
    for end in 0..input.len() {
        incomplete(&input[..end]);
    }
    assert_eq!(
        command(input),
        Command::Store(Store { verb: StoreVerb::Cas(99), key: b"key", flags: 1, exptime: 2, value: b"ab\r\n", noreply: true })
    );
}

#[test]
fn only_the_first_request_is_parsed() {
    let input = b"get a\r\nget b\r\n";
    assert_eq!(parse(input, &limits()), Ok(Some((get(b"a"), 7))));
}

// ---- limits ----

#[test]
fn a_long_partial_line_closes_the_connection() {
    let limits = limits();
    let partial = vec![b'x'; limits.max_line_len];
    incomplete(&partial);
    let partial = vec![b'x'; limits.max_line_len + 1];
    let err = error(&partial);
    assert_eq!(err.kind, ErrorKind::LineTooLong);
    assert!(err.closes_connection());
    assert_eq!(err.to_string(), "CLIENT_ERROR line too long");
}

#[test]
fn a_binary_protocol_request_closes_the_connection() {
    // A binary GET of "foo": magic 0x80, opcode 0, key length 3, total body 3.
    let mut input = vec![0x80, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    input.extend_from_slice(b"foo");
    for len in 1..=input.len() {
        let err = error(&input[..len]);
        assert_eq!(err.kind, ErrorKind::BinaryProtocol);
        assert!(err.closes_connection());
    }
    assert_eq!(error(b"\x80\r\n").to_string(), "CLIENT_ERROR binary protocol is not supported: use the text or meta commands");
    // Elsewhere in a line it is just a byte.
    assert_eq!(error(b"x\x80\r\n").kind, ErrorKind::UnknownCommand);
}

#[test]
fn a_long_complete_line_closes_the_connection() {
    let mut input = b"set ".to_vec();
    input.resize(3000, b'k');
    input.extend_from_slice(b" 0 0 1\r\nv\r\n");
    assert!(error(&input).closes_connection());
}

#[test]
fn retrieval_lines_have_their_own_limit() {
    let limits = Limits { max_get_line_len: 10_000, ..Limits::default() };
    for verb in ["get", "gets", "gat 0", "gats 0", "  get"] {
        let mut line = format!("{verb} ").into_bytes();
        while line.len() < 9_990 {
            line.extend_from_slice(b"somekey ");
        }
        assert_eq!(parse(&line, &limits), Ok(None), "{verb}");
        line.extend_from_slice(b"k\r\n");
        assert!(matches!(parse(&line, &limits), Ok(Some((Command::Get(_), _)))));
        line.truncate(line.len() - 2);
        line.resize(10_001, b'k');
        assert!(error_with(&line, &limits).closes_connection(), "{verb}");
    }
}

#[test]
fn key_length_is_configurable() {
    let limits = Limits { max_key_len: 3, ..Limits::default() };
    assert!(matches!(parse(b"get abc\r\n", &limits), Ok(Some(_))));
    assert_eq!(error_with(b"get abcd\r\n", &limits).to_string(), BAD_FORMAT);
    assert_eq!(error_with(b"mg abcd\r\n", &limits).to_string(), BAD_FORMAT);
}

#[test]
fn numbers() {
    assert_eq!(parse_u64(b"0"), Some(0));
    assert_eq!(parse_u64(b"00018446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_u64(b"18446744073709551616"), None);
    assert_eq!(parse_u64(b""), None);
    assert_eq!(parse_u64(b"+1"), None);
    assert_eq!(parse_u64(b"1 "), None);
    assert_eq!(parse_i64(b"-0"), Some(0));
    assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    assert_eq!(parse_i64(b"-9223372036854775809"), None);
    assert_eq!(parse_i64(b"9223372036854775808"), None);
    assert_eq!(parse_i64(b"-"), None);
    assert_eq!(parse_i64(b"--1"), None);
    assert_eq!(parse_u32(b"4294967296"), None);
    assert_eq!(parse_len(b"2147483645"), Some(2_147_483_645));
    assert_eq!(parse_len(b"2147483646"), None);
}
