//! INCRBYFLOAT's numbers, as Redis 7.0 reads and prints them.
//!
//! Redis reads a float with `strtold` (`string2ld` in `util.c`): decimal or hexadecimal
//! (`0x1.8p3`), `inf`/`infinity`, an optional sign; no leading space, nothing after the number
//! (a NUL byte included), not NaN, not beyond long double's range (`1e5000`, `1e-5000`), and
//! shorter than 5 KiB. It computes in `long double` and prints `%.17Lf` with the trailing zeros
//! (and a trailing `.`) cut, `-0` as `0` (`ld2string`, `LD_STR_HUMAN`).
//!
//! CrownDB computes in `f64` (docs/protocols.md). When both operands and their sum are exact in
//! an `f64`, long double holds the same number, so printing `%.17f` of the `f64` gives exactly
//! Redis's text. Otherwise Redis's result is a closer approximation of the decimal sum than
//! ours: we print the shortest digits that read back to our `f64` (so `10.5 + 0.1` is `10.6`,
//! as in Redis), rounded to 17 decimals when they have more (Redis never prints more); from
//! 2^53 up, where every `f64` is an integer, all its digits.

/// A float operand: its nearest `f64`, and whether that is exactly the number written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Float {
    pub value: f64,
    pub exact: bool,
}

/// The longest text Redis reads as a float (`MAX_LONG_DOUBLE_CHARS`, 5 KiB, less the NUL).
const MAX_LEN: usize = 5 * 1024;

/// Decimal exponents beyond which long double overflows or underflows to zero (`1.19e4932`,
/// `3.6e-4951`): Redis refuses such text (`ERANGE`).
const LD_MAX_EXP10: i64 = 4933;
const LD_MIN_EXP10: i64 = -4950;
/// The same in binary exponents (long double: 2^16384, and 2^-16445 the least subnormal).
const LD_MAX_EXP2: i64 = 16384;
const LD_MIN_EXP2: i64 = -16445;

/// Reads `arg` as Redis's `string2ld` does; `None`: "value is not a valid float".
pub fn parse(arg: &[u8]) -> Option<Float> {
    if arg.is_empty() || arg.len() >= MAX_LEN || matches!(arg[0], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return None;
    }
    let (negative, body) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    let magnitude = if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        Float { value: f64::INFINITY, exact: true }
    } else if body.len() >= 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        hexadecimal(&body[2..])?
    } else {
        decimal(body)?
    };
    Some(Float { value: if negative { -magnitude.value } else { magnitude.value }, ..magnitude })
}

/// A decimal exponent (after `e` or `p`): digits, an optional sign; saturated far beyond any
/// float's range.
fn exponent(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().fold(0i64, |n, d| (n * 10 + i64::from(d - b'0')).min(1 << 40));
    Some(if negative { -value } else { value })
}

/// `digits [. digits] [e [sign] digits]`, at least one digit in the mantissa.
fn decimal(body: &[u8]) -> Option<Float> {
    let (mantissa, exp) = match body.iter().position(|&c| c == b'e' || c == b'E') {
        Some(i) => (&body[..i], exponent(&body[i + 1..])?),
        None => (body, 0),
    };
    let mut digits = Vec::with_capacity(mantissa.len());
    let mut point = None;
    for &c in mantissa {
        match c {
            b'0'..=b'9' => digits.push(c),
            b'.' if point.is_none() => point = Some(digits.len()),
            _ => return None,
        }
    }
    if digits.is_empty() {
        return None;
    }
    // The number is 0.<digits> * 10^exp10, digits without leading or trailing zeros.
    let mut exp10 = point.unwrap_or(digits.len()) as i64 + exp;
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    exp10 -= leading as i64;
    let significant = trim_zeros(&digits[leading..]);
    if significant.is_empty() {
        return Some(Float { value: 0.0, exact: true });
    }
    if !(LD_MIN_EXP10..=LD_MAX_EXP10).contains(&exp10) {
        return None;
    }
    let value: f64 = std::str::from_utf8(body).ok()?.parse().ok()?;
    let exact = value.is_finite() && value != 0.0 && significant.len() <= 800 && exact_digits(value) == (significant.to_vec(), exp10);
    Some(Float { value, exact })
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let end = digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
    &digits[..end]
}

/// The exact decimal digits of a finite, non-zero `f64` (every one has a finite expansion) as
/// `0.<digits> * 10^exp10`, digits without leading or trailing zeros.
fn exact_digits(value: f64) -> (Vec<u8>, i64) {
    let text = format!("{:.1074}", value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let all: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let leading = all.iter().take_while(|&&d| d == b'0').count();
    (trim_zeros(&all[leading..]).to_vec(), int.len() as i64 - leading as i64)
}

/// `hexdigits [. hexdigits] [p [sign] digits]` (after `0x`), at least one hex digit.
fn hexadecimal(body: &[u8]) -> Option<Float> {
    let (mantissa, exp) = match body.iter().position(|&c| c == b'p' || c == b'P') {
        Some(i) => (&body[..i], exponent(&body[i + 1..])?),
        None => (body, 0),
    };
    // The number is (m + sticky) * 2^exp2: m keeps the first 124 bits, sticky any bit after.
    let mut m: u128 = 0;
    let mut exp2 = exp;
    let mut sticky = false;
    let mut any = false;
    let mut point = false;
    for &c in mantissa {
        if c == b'.' && !point {
            point = true;
            continue;
        }
        let d = char::from(c).to_digit(16)?;
        any = true;
        if m >> 120 == 0 {
            m = m << 4 | u128::from(d);
            if point {
                exp2 -= 4;
            }
        } else {
            sticky |= d != 0;
            if !point {
                exp2 += 4;
            }
        }
    }
    if !any {
        return None;
    }
    if m == 0 {
        return Some(Float { value: 0.0, exact: true });
    }
    let bits = i64::from(128 - m.leading_zeros());
    if !(LD_MIN_EXP2..=LD_MAX_EXP2).contains(&(bits + exp2)) {
        return None;
    }
    // Down to 64 bits, any lost bit folded into the lowest one: `as f64` then rounds right.
    if bits > 64 {
        let shift = bits - 64;
        sticky |= m & ((1u128 << shift) - 1) != 0;
        m >>= shift;
        exp2 += shift;
    }
    let top = m as u64 | u64::from(sticky);
    let significant_bits = 64 - top.leading_zeros() - top.trailing_zeros();
    let value = scale(top as f64, exp2);
    // Exact: no bit lost, at most 53 significant bits, and a normal f64.
    let exact = !sticky && significant_bits <= 53 && value.is_finite() && value.abs() >= f64::MIN_POSITIVE;
    Some(Float { value, exact })
}

/// `x * 2^exp`, in steps that stay within f64's exponents.
fn scale(mut x: f64, mut exp: i64) -> f64 {
    while exp != 0 && x != 0.0 && x.is_finite() {
        let step = exp.clamp(-1000, 1000);
        x *= f64::from_bits(((step + 1023) as u64) << 52);
        exp -= step;
    }
    x
}

/// `a + b`, and whether the sum is exactly `a + b` (Knuth's TwoSum: its rounding error is 0).
pub fn add(a: Float, b: Float) -> Float {
    let sum = a.value + b.value;
    let bv = sum - a.value;
    let error = (a.value - (sum - bv)) + (b.value - bv);
    Float { value: sum, exact: a.exact && b.exact && sum.is_finite() && error == 0.0 }
}

/// The text Redis gives (and stores) for a finite result: see the module's comment.
pub fn format(result: Float) -> Vec<u8> {
    let value = result.value;
    // From 2^53 up an f64 is an integer, and its shortest digits end in zeros Redis would not
    // print (9223372036854775807 + 1: Redis 9223372036854775808): all its digits are closer.
    let text = if result.exact || value.abs() >= 9007199254740992.0 {
        fixed17(value)
    } else {
        let shortest = format!("{value}");
        match shortest.split_once('.') {
            Some((_, frac)) if frac.len() > 17 => fixed17(value),
            _ => shortest,
        }
    };
    if text == "-0" {
        return b"0".to_vec();
    }
    text.into_bytes()
}

/// `%.17f` with the trailing zeros and `.` cut.
fn fixed17(value: f64) -> String {
    let mut text = format!("{value:.17}");
    let cut = text.trim_end_matches('0').trim_end_matches('.').len();
    text.truncate(cut);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<(f64, bool)> {
        parse(text.as_bytes()).map(|f| (f.value, f.exact))
    }

    fn show(a: &str, b: &str) -> String {
        let sum = add(parse(a.as_bytes()).unwrap(), parse(b.as_bytes()).unwrap());
        String::from_utf8(format(sum)).unwrap()
    }

    #[test]
    fn reads_what_strtold_reads() {
        assert_eq!(read("1.5"), Some((1.5, true)));
        assert_eq!(read("-.5"), Some((-0.5, true)));
        assert_eq!(read("+5."), Some((5.0, true)));
        assert_eq!(read("5e3"), Some((5000.0, true)));
        assert_eq!(read("0.1"), Some((0.1, false)));
        assert_eq!(read("0x10"), Some((16.0, true)));
        assert_eq!(read("-0X1.8p1"), Some((-3.0, true)));
        assert_eq!(read("0x.8"), Some((0.5, true)));
        assert_eq!(read("0x1p-2"), Some((0.25, true)));
        assert_eq!(read("0x1FFFFFFFFFFFFF"), Some((9007199254740991.0, true)));
        assert_eq!(read("0x20000000000001"), Some((9007199254740992.0, false)));
        assert_eq!(read("Infinity"), Some((f64::INFINITY, true)));
        assert_eq!(read("-inf"), Some((f64::NEG_INFINITY, true)));
        assert_eq!(read("0e99999"), Some((0.0, true)));
        assert_eq!(read("1e-400"), Some((0.0, false)), "a long double, not an f64");
        for bad in [
            "",
            " 1",
            "1 ",
            "1\0",
            "nan",
            "-nan",
            "infin",
            "0x",
            "0x1p",
            "0xg",
            "1e",
            "1e+",
            ".",
            "e5",
            "1..2",
            "--1",
            "1e-5000",
            "1e5000",
            "0x1p-20000",
            "0x1p20000",
        ] {
            assert_eq!(read(bad), None, "{bad:?}");
        }
        assert_eq!(read(&"1".repeat(5120)), None, "5 KiB or more");
    }

    #[test]
    fn prints_as_redis() {
        assert_eq!(show("0", "3"), "3");
        assert_eq!(show("10.5", "0.1"), "10.6");
        assert_eq!(show("-0", "-0"), "0");
        assert_eq!(show("0", "1e20"), "100000000000000000000");
        assert_eq!(show("0", "0.0001"), "0.0001");
        assert_eq!(show("0", "-9223372036854775808"), "-9223372036854775808");
        assert_eq!(show("1000000000000032", "0.25"), "1000000000000032.25");
        assert_eq!(show("0", "0.000003814697265625"), "0.00000381469726562");
        assert_eq!(show("0", "-0x1p-60"), "0");
        assert_eq!(show("0", "1e-20"), "0");
        assert_eq!(show("0.1", "0.2"), "0.30000000000000004", "f64, not long double");
        assert_eq!(show("9223372036854775807", "1"), "9223372036854775808");
    }
}
