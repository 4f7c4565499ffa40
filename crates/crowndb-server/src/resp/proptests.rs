//! Properties of the frame layer, checked on generated input:
//!
//! - no input, however it is cut into reads, makes the parser panic;
//! - a command encoded as a client sends it (multibulk, or an inline line quoted with `\xHH`
//!   escapes) parses back to the same arguments, taking exactly its bytes;
//! - where the input is cut into reads makes no difference to what is parsed, as long as no
//!   size limit is crossed (those, as in Redis, depend on what has arrived so far).

use bytes::BytesMut;
use proptest::prelude::*;

use super::{encode_command, Limits, ProtocolError, RequestKind, RequestParser};

/// Everything a parser made of some input.
#[derive(Debug, PartialEq)]
struct Outcome {
    requests: Vec<(Vec<Vec<u8>>, RequestKind, usize)>,
    error: Option<ProtocolError>,
    rest: Vec<u8>,
}

/// Feeds `chunks` to a fresh parser one after another, as successive socket reads, decoding
/// everything available after each.
fn run(mut parser: RequestParser, chunks: &[&[u8]]) -> Outcome {
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        buf.extend_from_slice(chunk);
        loop {
            match parser.decode(&mut buf) {
                Ok(Some(request)) => {
                    assert!(!request.args.is_empty());
                    requests.push((request.args.iter().map(|a| a.to_vec()).collect(), request.kind, request.wire_len));
                }
                Ok(None) => break,
                Err(err) => {
                    // The bytes never looked at are as unconsumed as those left in the buffer.
                    let mut rest = buf.to_vec();
                    rest.extend(chunks[i + 1..].concat());
                    return Outcome { requests, error: Some(err), rest };
                }
            }
        }
    }
    Outcome { requests, error: None, rest: buf.to_vec() }
}

/// Small limits, so that generated input reaches every limit check.
fn small_limits() -> Limits {
    Limits { max_bulk_len: 8, max_inline_len: 16, max_multibulk_len: 4, max_query_buffer: 64 }
}

/// Limits no input shorter than `len` can reach.
fn unreachable_limits(len: usize) -> Limits {
    Limits { max_inline_len: len.max(1), ..Limits::default() }
}

fn parser(limits: Limits, auth_required: bool) -> RequestParser {
    let mut parser = RequestParser::new(limits);
    parser.set_auth_required(auth_required);
    parser
}

/// Bytes made mostly of the pieces the protocol is made of, so that generated input gets deep
/// into the parser rather than failing at the first byte.
fn protocolish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\0".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"\\x".to_vec()),
        Just(b"-".to_vec()),
        (0u32..24).prop_map(|n| n.to_string().into_bytes()),
        Just(b"PING".to_vec()),
    ];
    prop::collection::vec(piece, 0..120).prop_map(|pieces| pieces.concat())
}

fn argument() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..24), "[a-zA-Z0-9]{1,8}".prop_map(String::into_bytes),]
}

fn command() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(argument(), 1..6)
}

/// `args` as an inline line: bare words where they are plain, otherwise double-quoted with
/// every byte written as `\xHH`.
fn inline_line(args: &[Vec<u8>]) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        if !arg.is_empty() && arg.iter().all(u8::is_ascii_alphanumeric) {
            line.extend_from_slice(arg);
        } else {
            line.push(b'"');
            for byte in arg {
                line.extend_from_slice(format!("\\x{byte:02x}").as_bytes());
            }
            line.push(b'"');
        }
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// A pipeline of well-formed requests, multibulk and inline, with the arguments each holds.
fn pipeline() -> impl Strategy<Value = (Vec<u8>, Vec<Vec<Vec<u8>>>)> {
    prop::collection::vec((command(), any::<bool>()), 0..6).prop_map(|commands| {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for (args, inline) in commands {
            if inline {
                wire.extend_from_slice(&inline_line(&args));
            } else {
                encode_command(&args, &mut wire);
            }
            expected.push(args);
        }
        (wire, expected)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(
        input in prop_oneof![protocolish(), prop::collection::vec(any::<u8>(), 0..512)],
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        small in any::<bool>(),
        auth_required in any::<bool>(),
    ) {
        let limits = if small { small_limits() } else { Limits::default() };
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for point in points {
            chunks.push(&input[start..point]);
            start = point;
        }
        chunks.push(&input[start..]);
        let outcome = run(parser(limits, auth_required), &chunks);
        // Whatever was parsed accounts for exactly the bytes consumed.
        let consumed = input.len() - outcome.rest.len();
        let parsed: usize = outcome.requests.iter().map(|r| r.2).sum();
        prop_assert!(parsed <= consumed);
        prop_assert_eq!(&input[consumed..], &outcome.rest[..]);
    }

    #[test]
    fn multibulk_round_trips(args in command()) {
        let mut wire = Vec::new();
        encode_command(&args, &mut wire);
        let outcome = run(RequestParser::default(), &[&wire]);
        prop_assert_eq!(outcome.error, None);
        prop_assert_eq!(outcome.requests, vec![(args, RequestKind::Multibulk, wire.len())]);
        prop_assert!(outcome.rest.is_empty());
    }

    #[test]
    fn inline_quoting_round_trips(args in command()) {
        let wire = inline_line(&args);
        let outcome = run(RequestParser::default(), &[&wire]);
        prop_assert_eq!(outcome.error, None);
        prop_assert_eq!(outcome.requests, vec![(args, RequestKind::Inline, wire.len())]);
        prop_assert!(outcome.rest.is_empty());
    }

    #[test]
    fn pipelines_parse_to_their_commands((wire, expected) in pipeline()) {
        let outcome = run(RequestParser::default(), &[&wire]);
        prop_assert_eq!(outcome.error, None);
        let parsed: Vec<Vec<Vec<u8>>> = outcome.requests.into_iter().map(|r| r.0).collect();
        prop_assert_eq!(parsed, expected);
        prop_assert!(outcome.rest.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_cut_parses_the_same(
        (wire, _) in pipeline(),
        tail in protocolish(),
        auth_required in any::<bool>(),
    ) {
        let input = [wire, tail].concat();
        let limits = unreachable_limits(input.len());
        let whole = run(parser(limits, auth_required), &[&input]);
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            let split = run(parser(limits, auth_required), &[a, b]);
            prop_assert_eq!(&split, &whole, "cut at {}", cut);
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let trickled = run(parser(limits, auth_required), &bytes);
        prop_assert_eq!(&trickled, &whole, "one byte at a time");
    }
}
