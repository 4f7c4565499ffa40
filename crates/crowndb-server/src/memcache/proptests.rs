//! Properties of the parser: it never panics and always makes progress, and every command it can
//! produce survives encode → parse unchanged, whole, pipelined, or cut short.

use std::borrow::Cow;

use bytes::BytesMut;
use proptest::prelude::*;

use super::{parse, ArithMode, Command, Get, Limits, MetaFlags, MetaSetMode, Store, StoreVerb, Tokens};

/// Checks what `parse` promises about its result on `buf`.
fn check_contract(buf: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    match parse(buf, limits) {
        Ok(Some((_, used))) => prop_assert!(used > 0 && used <= buf.len()),
        Ok(None) => {}
        Err(err) if err.closes_connection() => {}
        // Progress: an error always skips at least its line, never more than it was given.
        Err(err) => prop_assert!(err.consumed > 0 && err.consumed <= buf.len(), "{err:?}"),
    }
    Ok(())
}

/// Parses everything in `buf` as a connection would, swallowing refused blocks.
fn drain(mut buf: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    let mut swallow = 0;
    while !buf.is_empty() {
        let skip = swallow.min(buf.len());
        buf = &buf[skip..];
        swallow -= skip;
        check_contract(buf, limits)?;
        match parse(buf, limits) {
            Ok(Some((_, used))) => buf = &buf[used..],
            Ok(None) => break,
            Err(err) if err.closes_connection() => break,
            Err(err) => {
                buf = &buf[err.consumed..];
                swallow = err.swallow;
            }
        }
    }
    Ok(())
}

fn small_limits() -> Limits {
    Limits { max_key_len: 8, max_item_size: 16, max_line_len: 40, max_get_line_len: 64 }
}

/// Random input that looks enough like requests to reach deep into the parser.
fn requestish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(&b"get "[..]),
        Just(&b"gats 1 "[..]),
        Just(&b"set k 0 0 "[..]),
        Just(&b"cas k 1 2 3 "[..]),
        Just(&b"ms k "[..]),
        Just(&b"mg k "[..]),
        Just(&b"md Zm9v b "[..]),
        Just(&b"ma k MD "[..]),
        Just(&b"me "[..]),
        Just(&b"delete k "[..]),
        Just(&b"incr k "[..]),
        Just(&b"flush_all "[..]),
        Just(&b"noreply"[..]),
        Just(&b"\r\n"[..]),
        Just(&b"\n"[..]),
        Just(&b" "[..]),
        Just(&b"0"[..]),
        Just(&b"3"[..]),
        Just(&b"-1"[..]),
        Just(&b"99999999999999999999"[..]),
        Just(&b"T1 "[..]),
        Just(&b"O123 "[..]),
        Just(&b"v k c q "[..]),
        Just(&b"abc"[..]),
        Just(&b"\0\xff\x7f"[..]),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// An owned description of a command, from which `build` makes the borrowed `Command`.
#[derive(Debug, Clone)]
struct Spec {
    kind: u8,
    key: Vec<u8>,
    binary_key: Vec<u8>,
    value: Vec<u8>,
    keys: Vec<u8>,
    flags: u32,
    exptime: i64,
    number: u64,
    noreply: bool,
    maybe: Option<i64>,
    meta: Vec<u8>,
    meta_values: (i64, i64, i64, u32, u64, u64, u64, u64),
    opaque: Vec<u8>,
    mode: u8,
}

fn text_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![0x21u8..0x7f, 0x80u8..=0xff], 1..=250)
}

fn spec() -> impl Strategy<Value = Spec> {
    let words = prop::collection::vec(text_key(), 0..6).prop_map(|keys| keys.join(&b' '));
    let letters: Vec<u8> = b"bcfhklstvuqIxOTNRFCEDJM".to_vec();
    let meta = prop::sample::subsequence(letters, 0..=16).prop_shuffle();
    let opaque = prop::collection::vec(0x21u8..0x7f, 0..=31);
    (
        (
            0u8..17,
            text_key(),
            // At most 186 bytes, so that the base64 key fits in 250.
            prop::collection::vec(any::<u8>(), 1..=186),
            prop::collection::vec(any::<u8>(), 0..300),
            words,
        ),
        (any::<u32>(), any::<i64>(), any::<u64>(), any::<bool>(), any::<Option<i64>>()),
        (meta, any::<(i64, i64, i64, u32, u64, u64, u64, u64)>(), opaque, 0u8..5),
    )
        .prop_map(
            |((kind, key, binary_key, value, keys), (flags, exptime, number, noreply, maybe), (meta, meta_values, opaque, mode))| Spec {
                kind,
                key,
                binary_key,
                value,
                keys,
                flags,
                exptime,
                number,
                noreply,
                maybe,
                meta,
                meta_values,
                opaque,
                mode,
            },
        )
}

fn meta_flags<'a>(spec: &'a Spec, mode: Option<u8>) -> MetaFlags<'a> {
    let (ttl, vivify, recache, client_flags, compare_cas, new_cas, delta, initial) = spec.meta_values;
    let mut flags = MetaFlags::default();
    for &letter in &spec.meta {
        match letter {
            b'b' => flags.base64_key = true,
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
            b'O' => flags.opaque = Some(&spec.opaque),
            b'T' => flags.ttl = Some(ttl),
            b'N' => flags.vivify = Some(vivify),
            b'R' => flags.recache = Some(recache),
            b'F' => flags.client_flags = Some(client_flags),
            b'C' => flags.compare_cas = Some(compare_cas),
            b'E' => flags.new_cas = Some(new_cas),
            b'D' => flags.delta = Some(delta),
            b'J' => flags.initial = Some(initial),
            b'M' => flags.mode = mode,
            _ => unreachable!(),
        }
        flags.push_order(letter);
    }
    flags
}

/// The command `spec` describes, exactly as the parser would return it.
fn build(spec: &Spec) -> Command<'_> {
    let key = &spec.key[..];
    let has_mode = spec.meta.contains(&b'M');
    let meta_key = || -> Cow<'_, [u8]> {
        if spec.meta.contains(&b'b') {
            Cow::Borrowed(&spec.binary_key)
        } else {
            Cow::Borrowed(key)
        }
    };
    let verbs = [StoreVerb::Set, StoreVerb::Add, StoreVerb::Replace, StoreVerb::Append, StoreVerb::Prepend, StoreVerb::Cas(spec.number)];
    let arith_mode = if spec.mode & 1 == 0 { ArithMode::Incr } else { ArithMode::Decr };
    match spec.kind {
        0 => Command::Store(Store {
            verb: verbs[usize::from(spec.mode) % verbs.len()],
            key,
            flags: spec.flags,
            exptime: spec.exptime,
            value: &spec.value,
            noreply: spec.noreply,
        }),
        1 => Command::Store(Store {
            verb: StoreVerb::Cas(spec.number),
            key,
            flags: spec.flags,
            exptime: spec.exptime,
            value: &spec.value,
            noreply: spec.noreply,
        }),
        2 => Command::Get(Get {
            with_cas: spec.noreply,
            touch: spec.maybe,
            keys: Tokens::new(if spec.keys.is_empty() && spec.maybe.is_none() { key } else { &spec.keys }),
        }),
        3 => Command::Delete { key, noreply: spec.noreply },
        4 => Command::Arith { mode: arith_mode, key, delta: spec.number, noreply: spec.noreply },
        5 => Command::Touch { key, exptime: spec.exptime, noreply: spec.noreply },
        6 => Command::FlushAll { delay: spec.maybe, noreply: spec.noreply },
        7 => Command::Version,
        8 => Command::Verbosity { level: spec.flags, noreply: spec.noreply },
        9 => Command::Quit,
        10 => Command::Stats { args: Tokens::new(&spec.keys) },
        11 => Command::MetaGet { key: meta_key(), flags: meta_flags(spec, Some(b"SEAPR"[usize::from(spec.mode)])) },
        12 => {
            let modes = [MetaSetMode::Set, MetaSetMode::Add, MetaSetMode::Append, MetaSetMode::Prepend, MetaSetMode::Replace];
            let mode = if has_mode { modes[usize::from(spec.mode)] } else { MetaSetMode::Set };
            Command::MetaSet { key: meta_key(), mode, value: &spec.value, flags: meta_flags(spec, Some(mode.letter())) }
        }
        13 => Command::MetaDelete { key: meta_key(), flags: meta_flags(spec, Some(b'Z')) },
        14 => {
            let mode = if has_mode { arith_mode } else { ArithMode::Incr };
            let letter = match mode {
                ArithMode::Incr => b'I',
                ArithMode::Decr => b'D',
            };
            Command::MetaArith { key: meta_key(), mode, flags: meta_flags(spec, Some(letter)) }
        }
        15 => Command::MetaDebug {
            key: if spec.noreply { Cow::Borrowed(&spec.binary_key) } else { Cow::Borrowed(key) },
            base64: spec.noreply,
        },
        _ => Command::MetaNoop,
    }
}

fn encoded(command: &Command<'_>) -> Vec<u8> {
    let mut out = BytesMut::new();
    command.encode(&mut out);
    out.to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(buf in prop::collection::vec(any::<u8>(), 0..600)) {
        check_contract(&buf, &Limits::default())?;
        check_contract(&buf, &small_limits())?;
        drain(&buf, &Limits::default())?;
        drain(&buf, &small_limits())?;
    }

    #[test]
    fn request_like_bytes_never_panic(buf in requestish()) {
        drain(&buf, &Limits::default())?;
        drain(&buf, &small_limits())?;
    }

    #[test]
    fn encode_then_parse_round_trips(spec in spec()) {
        let command = build(&spec);
        let wire = encoded(&command);
        prop_assert_eq!(parse(&wire, &Limits::default()), Ok(Some((command, wire.len()))));
    }

    #[test]
    fn every_strict_prefix_is_incomplete(spec in spec()) {
        let wire = encoded(&build(&spec));
        for end in 0..wire.len() {
            prop_assert_eq!(parse(&wire[..end], &Limits::default()), Ok(None), "{}", end);
        }
    }

    #[test]
    fn pipelines_parse_in_order(specs in prop::collection::vec(spec(), 1..8)) {
        let commands: Vec<Command<'_>> = specs.iter().map(build).collect();
        let wire: Vec<u8> = commands.iter().flat_map(encoded).collect();
        let mut rest = &wire[..];
        for command in &commands {
            let (parsed, used) = parse(rest, &Limits::default())
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .ok_or_else(|| TestCaseError::fail("incomplete"))?;
            prop_assert_eq!(&parsed, command);
            rest = &rest[used..];
        }
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn storage_values_of_any_bytes_round_trip(
        value in prop::collection::vec(any::<u8>(), 0..2048),
        verb in 0usize..6,
        noreply in any::<bool>(),
    ) {
        let verbs = [
            StoreVerb::Set,
            StoreVerb::Add,
            StoreVerb::Replace,
            StoreVerb::Append,
            StoreVerb::Prepend,
            StoreVerb::Cas(42),
        ];
        let command = Command::Store(Store {
            verb: verbs[verb],
            key: b"key",
            flags: 0,
            exptime: 0,
            value: &value,
            noreply,
        });
        let mut wire = encoded(&command);
        let whole = wire.len();
        wire.extend_from_slice(b"get key\r\n");
        prop_assert_eq!(parse(&wire, &Limits::default()), Ok(Some((command, whole))));
    }
}
