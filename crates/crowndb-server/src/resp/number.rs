//! Numbers as Redis reads and writes them on the wire.
//!
//! - `string2ll`: the strict integer syntax of Redis's `util.c` `string2ll`, used for the
//!   `*<count>` and `$<len>` header lines (and so deciding which lines are protocol errors).
//! - `format_double`: Redis 7.2's `d2string`, the text of a double reply in RESP2 and RESP3.

/// Parses a decimal `i64` exactly as Redis's `string2ll`: an optional `-`, then `0` alone or a
/// digit `1`-`9` followed by digits; no `+`, no spaces, no leading zeros, no `-0`, at most 20
/// bytes, and no overflow. Anything else is `None`.
pub(crate) fn string2ll(s: &[u8]) -> Option<i64> {
    // Redis refuses a length of LONG_STR_SIZE (21) or more before looking at the bytes.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        // Reaches i64::MIN, whose magnitude has no positive i64.
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}

/// The decimal text of an `i64`, formatted on the stack.
pub(crate) struct Decimal {
    text: [u8; 20],
    start: usize,
}

impl Decimal {
    pub(crate) fn new(n: i64) -> Decimal {
        // "-9223372036854775808" is the longest: 20 bytes.
        let mut text = [0u8; 20];
        let mut start = text.len();
        let mut magnitude = n.unsigned_abs();
        loop {
            start -= 1;
            text[start] = b'0' + (magnitude % 10) as u8;
            magnitude /= 10;
            if magnitude == 0 {
                break;
            }
        }
        if n < 0 {
            start -= 1;
            text[start] = b'-';
        }
        Decimal { text, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.text[self.start..]
    }
}

/// The text Redis 7.2 sends for a double (`d2string` in `util.c`): `nan`, `inf`, `-inf`, `0`,
/// `-0`; an integral value within ±(2^63-1)/2 as a plain integer; anything else as the
/// shortest digits that read back to the same double, laid out by fpconv's `emit_digits`
/// (plain, `0.000123`, or `1.5e+300`).
///
/// Redis gets the digits from Grisu2, which on rare inputs returns a correct but not shortest
/// string; we use Rust's exact shortest digits, so those rare cases may differ in the last
/// digits while still reading back to the same double.
pub(crate) fn format_double(d: f64) -> Vec<u8> {
    if d.is_nan() {
        return b"nan".to_vec();
    }
    if d.is_infinite() {
        return if d < 0.0 { b"-inf".to_vec() } else { b"inf".to_vec() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() { b"-0".to_vec() } else { b"0".to_vec() };
    }
    // Redis's double2ll: the range where a cast to long long is exact and safe.
    let safe = (i64::MAX / 2) as f64;
    if (-safe..=safe).contains(&d) && d.fract() == 0.0 {
        return Decimal::new(d as i64).as_bytes().to_vec();
    }
    // Shortest round-trip digits and the decimal exponent of the first one, from `{:e}`
    // ("1.2345e-7", "5e-324").
    let sci = format!("{:e}", d.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let ndigits = digits.len() as i32;
    // fpconv's K: the value is digits × 10^K.
    let k = exponent - (ndigits - 1);
    let mut out = Vec::with_capacity(32);
    if d < 0.0 {
        out.push(b'-');
    }
    emit_digits(&digits, k, d < 0.0, &mut out);
    out
}

/// fpconv's `emit_digits`: lays out `digits × 10^k`.
fn emit_digits(digits: &[u8], k: i32, negative: bool, out: &mut Vec<u8>) {
    let ndigits = digits.len() as i32;
    let mut exp = (k + ndigits - 1).abs();

    // A plain integer: the digits then k zeros.
    if k >= 0 && exp < ndigits + 7 {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', k as usize));
        return;
    }

    // A decimal without exponent.
    if k < 0 && (k > -7 || exp < 4) {
        let offset = ndigits - k.abs();
        if offset <= 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-offset) as usize));
            out.extend_from_slice(digits);
        } else {
            let (int_part, frac_part) = digits.split_at(offset as usize);
            out.extend_from_slice(int_part);
            out.push(b'.');
            out.extend_from_slice(frac_part);
        }
        return;
    }

    // Scientific notation: d.ddde±x, the exponent without padding.
    let ndigits = ndigits.min(18 - i32::from(negative)) as usize;
    out.push(digits[0]);
    if ndigits > 1 {
        out.push(b'.');
        out.extend_from_slice(&digits[1..ndigits]);
    }
    out.push(b'e');
    out.push(if k + ndigits as i32 - 1 < 0 { b'-' } else { b'+' });
    let mut cent = 0;
    if exp > 99 {
        cent = exp / 100;
        out.push(b'0' + cent as u8);
        exp -= cent * 100;
    }
    if exp > 9 {
        let dec = exp / 10;
        out.push(b'0' + dec as u8);
        exp -= dec * 10;
    } else if cent != 0 {
        out.push(b'0');
    }
    out.push(b'0' + (exp % 10) as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_accepts_what_redis_accepts() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"1"), Some(1));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"512"), Some(512));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn string2ll_refuses_what_redis_refuses() {
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b" 1",
            b"1 ",
            b"01",
            b"-0",
            b"00",
            b"1.0",
            b"abc",
            b"12a",
            b"0x10",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
            b"000000000000000000001",
            b"1\0",
        ] {
            assert_eq!(string2ll(bad), None, "{:?}", bad.escape_ascii().to_string());
        }
    }

    #[test]
    fn decimal_writes_i64() {
        for n in [0, 1, -1, 9, 10, 42, -42, i64::MAX, i64::MIN, 1_000_000] {
            assert_eq!(Decimal::new(n).as_bytes(), n.to_string().as_bytes());
        }
    }

    fn fmt(d: f64) -> String {
        String::from_utf8(format_double(d)).unwrap()
    }

    #[test]
    fn format_double_special_values() {
        assert_eq!(fmt(f64::NAN), "nan");
        assert_eq!(fmt(f64::INFINITY), "inf");
        assert_eq!(fmt(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt(0.0), "0");
        assert_eq!(fmt(-0.0), "-0");
    }

    #[test]
    fn format_double_integers_print_as_integers() {
        assert_eq!(fmt(1.0), "1");
        assert_eq!(fmt(-3.0), "-3");
        assert_eq!(fmt(150000000000000000.0), "150000000000000000");
        assert_eq!(fmt(4611686018427387904.0), "4611686018427387904");
        assert_eq!(fmt(-4611686018427387904.0), "-4611686018427387904");
    }

    #[test]
    fn format_double_shortest_decimals() {
        assert_eq!(fmt(1.5), "1.5");
        assert_eq!(fmt(1.1), "1.1");
        assert_eq!(fmt(2.75), "2.75");
        assert_eq!(fmt(-2.5), "-2.5");
        assert_eq!(fmt(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(fmt(123456.789), "123456.789");
        assert_eq!(fmt(0.0001), "0.0001");
        assert_eq!(fmt(0.000001), "0.000001");
        assert_eq!(fmt(0.5), "0.5");
    }

    #[test]
    fn format_double_scientific_like_fpconv() {
        assert_eq!(fmt(1e-7), "1e-7");
        assert_eq!(fmt(1.5e-7), "1.5e-7");
        assert_eq!(fmt(1e19), "1e+19");
        assert_eq!(fmt(1e20), "1e+20");
        assert_eq!(fmt(1e300), "1e+300");
        assert_eq!(fmt(-1e300), "-1e+300");
        assert_eq!(fmt(1.2e105), "1.2e+105");
        assert_eq!(fmt(5e-324), "5e-324");
        assert_eq!(fmt(f64::MAX), "1.7976931348623157e+308");
        // Beyond 2^62 but few digits: fpconv still writes it out as an integer.
        assert_eq!(fmt(9223372036854775808.0), "9223372036854776000");
    }

    #[test]
    fn format_double_reads_back_to_the_same_value() {
        for d in [1.1, -7.25e-9, 6.02214076e23, 2.2250738585072014e-308, 123.456e200, 1.0 / 3.0] {
            let text = fmt(d);
            assert_eq!(text.parse::<f64>().unwrap(), d, "{text}");
        }
    }
}
