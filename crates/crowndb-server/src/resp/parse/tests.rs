//! Tests of the RESP request parser: multibulk and inline requests, limits, and the errors
//! each kind of bad input gets.

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
