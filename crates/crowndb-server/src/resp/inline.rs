//! Splitting an inline request line into arguments, as Redis's `sdssplitargs` (sds.c) does.
//!
//! The rules, all from Redis:
//! - Arguments are separated by runs of whitespace (C `isspace`: space, `\t`, `\n`, `\v`, `\f`,
//!   `\r`). Inside an unquoted argument only space, `\t`, `\n`, `\r` end it, so `a\vb` is one
//!   argument.
//! - `"..."` may hold the escapes `\n \r \t \b \a`, `\xHH` (two hex digits) and `\<any>` for
//!   that byte; `'...'` only `\'`. A quote may open in the middle of an argument (`a"b c"` is
//!   `ab c`), and the closing quote must be followed by whitespace or the end of the line,
//!   otherwise the request is refused, as is a quote never closed.
//! - `""` is an empty argument (Redis 7 keeps empty arguments).
//! - Redis works on a NUL-terminated copy of the line, so a NUL byte ends the line: outside
//!   quotes the rest is ignored, inside quotes it is an unclosed quote. (The request parser
//!   never hands us a line with a NUL, since Redis never completes one; see `parse.rs`.)

use bytes::Bytes;

/// The arguments of `line` (without its line ending), or `None` for unbalanced quotes.
pub(crate) fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    // The byte at `i`, or the NUL terminator past the end (and at any embedded NUL).
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while at(p) != 0 && is_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        let mut done = false;
        while !done {
            let c = at(p);
            if in_double {
                if c == b'\\' && at(p + 1) == b'x' && is_hex(at(p + 2)) && is_hex(at(p + 3)) {
                    current.push(hex_value(at(p + 2)) * 16 + hex_value(at(p + 3)));
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => current.push(c),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        args.push(Bytes::from(current));
    }
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
        split_args(line).map(|args| args.into_iter().map(|a| a.to_vec()).collect())
    }

    fn ok(line: &[u8], expected: &[&[u8]]) {
        let expected: Vec<Vec<u8>> = expected.iter().map(|a| a.to_vec()).collect();
        assert_eq!(split(line), Some(expected), "{}", line.escape_ascii());
    }

    fn unbalanced(line: &[u8]) {
        assert_eq!(split(line), None, "{}", line.escape_ascii());
    }

    #[test]
    fn splits_on_whitespace_runs() {
        ok(b"PING", &[b"PING"]);
        ok(b"SET key value", &[b"SET", b"key", b"value"]);
        ok(b"  SET \t key   value  ", &[b"SET", b"key", b"value"]);
        ok(b"a\rb", &[b"a", b"b"]);
        ok(b"a\nb", &[b"a", b"b"]);
        ok(b"", &[]);
        ok(b"   \t ", &[]);
        ok(b"\x0b\x0ca", &[b"a"]);
    }

    #[test]
    fn vertical_tab_and_form_feed_do_not_end_an_unquoted_argument() {
        ok(b"a\x0bb c\x0cd", &[b"a\x0bb", b"c\x0cd"]);
    }

    #[test]
    fn double_quotes_group_and_unescape() {
        ok(br#"SET "foo bar" baz"#, &[b"SET", b"foo bar", b"baz"]);
        ok(br#""a\nb\rc\td\be\af""#, &[b"a\nb\rc\td\x08e\x07f"]);
        ok(br#""quote\" backslash\\ other\q""#, &[b"quote\" backslash\\ otherq"]);
        ok(br#""\x41\x7a\x00\xFf""#, &[b"Az\x00\xff"]);
        // Not two hex digits: a plain escape of 'x'.
        ok(br#""\xZZ" "\x4""#, &[b"xZZ", b"x4"]);
        ok(br#""""#, &[b""]);
        ok(br#"SET k """#, &[b"SET", b"k", b""]);
    }

    #[test]
    fn single_quotes_only_unescape_the_quote() {
        ok(br"'it\'s'", &[b"it's"]);
        ok(br"'a\nb \x41'", &[br"a\nb \x41"]);
        ok(b"''", &[b""]);
    }

    #[test]
    fn quotes_can_open_inside_an_argument() {
        ok(br#"foo"bar baz" x"#, &[b"foobar baz", b"x"]);
        ok(br"a'b c'", &[b"ab c"]);
    }

    #[test]
    fn closing_quote_must_be_followed_by_whitespace_or_the_end() {
        ok(b"\"a\"\tb", &[b"a", b"b"]);
        ok(b"\"a\"\x0bb", &[b"a", b"b"]);
        ok(b"'a' b", &[b"a", b"b"]);
        unbalanced(br#""a"b"#);
        unbalanced(br"'a'b");
        // Redis's own test: set """test-key""" test-value
        unbalanced(br#"set """test-key""" test-value"#);
    }

    #[test]
    fn unclosed_quotes_are_refused() {
        unbalanced(br#""abc"#);
        unbalanced(br"'abc");
        unbalanced(br#"SET "foo bar"#);
        unbalanced(br#""abc\"#);
        unbalanced(b"\"ab\0c\"");
    }

    #[test]
    fn nul_ends_the_line_outside_quotes() {
        ok(b"a\0b c", &[b"a"]);
        ok(b"\0abc", &[]);
    }

    #[test]
    fn binary_bytes_pass_through() {
        ok(b"\xff\xfe \x80", &[b"\xff\xfe", b"\x80"]);
    }
}
