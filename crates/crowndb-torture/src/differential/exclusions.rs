//! Commands the harness does not send, each for a stated reason: (a) a CrownDB bug listed in
//! docs/differential.md (`D<n>`), to be removed once fixed; or (b) an intended difference,
//! listed in docs/protocols.md. Entries are as narrow as the difference: a command shape (and,
//! where it matters, the value the key holds on Redis), not a whole command, unless the
//! command is not implemented at all.
//!
//! `crowndb-torture differential --no-exclusions` sends everything, to see which still differ.
//! An edge-case line can also name the exclusion it is a case of (`[id] COMMAND ...`).

use super::resp::{Conn, Kind};

/// Why a case is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A CrownDB bug, listed in docs/differential.md.
    Bug,
    /// An intended difference, listed in docs/protocols.md.
    Intended,
    /// Not a difference: a reply the harness cannot compare deterministically.
    Harness,
}

pub struct Exclusion {
    /// A short name, reported with the number of commands it skipped.
    pub id: &'static str,
    pub class: Class,
    /// Where the difference is written down.
    pub docs: &'static str,
    /// Whether the command is one to skip.
    pub applies: fn(&[Vec<u8>], &mut Peek) -> bool,
}

/// A look at the current state on Redis, through a connection of its own.
pub struct Peek<'a> {
    pub conn: &'a mut Conn,
    /// Inside MULTI, the commands queued before this one: they have not run yet, so a key
    /// one of them names (or any key, after a FLUSH) has a value not known yet.
    pub queued: &'a [Vec<Vec<u8>>],
    /// Whether the connections are inside MULTI (the command is to be queued).
    pub in_multi: bool,
}

impl Peek<'_> {
    /// The string at `key` on Redis: `Some(None)` if there is none, `None` if unknown.
    pub fn value(&mut self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let pending = self.queued.iter().any(|q| name_is(q, &["FLUSHALL", "FLUSHDB"]) || q.iter().skip(1).any(|a| a == key));
        if pending {
            return None;
        }
        self.read(&[b"GET".to_vec(), key.to_vec()])
    }

    /// The value of `field` in the hash at `key` on Redis, as [`Peek::value`].
    pub fn field(&mut self, key: &[u8], field: &[u8]) -> Option<Option<Vec<u8>>> {
        let pending = self.queued.iter().any(|q| name_is(q, &["FLUSHALL", "FLUSHDB"]) || q.iter().skip(1).any(|a| a == key));
        if pending {
            return None;
        }
        self.read(&[b"HGET".to_vec(), key.to_vec(), field.to_vec()])
    }

    /// The type of `key` on Redis (`none` if missing), `None` if unknown.
    pub fn key_type(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let pending = self.queued.iter().any(|q| name_is(q, &["FLUSHALL", "FLUSHDB"]) || q.iter().skip(1).any(|a| a == key));
        if pending {
            return None;
        }
        match self.conn.call(&[b"TYPE".to_vec(), key.to_vec()]).ok()?.kind {
            Kind::Simple(t) => Some(t),
            _ => None,
        }
    }

    /// Whether Redis holds a hash or a set now (or, inside MULTI, may hold one by EXEC).
    pub fn has_collections(&mut self) -> bool {
        if !self.queued.is_empty() {
            return true;
        }
        ["hash", "set"].iter().any(|t| {
            let scan = [b"SCAN".to_vec(), b"0".to_vec(), b"COUNT".to_vec(), b"10000".to_vec(), b"TYPE".to_vec(), t.as_bytes().to_vec()];
            // One call: the key space is a few dozen keys, so COUNT 10000 covers it.
            !matches!(self.conn.call(&scan).map(|r| r.kind), Ok(Kind::Array(Some(p))) if matches!(p.get(1).map(|x| &x.kind), Some(Kind::Array(Some(keys))) if keys.is_empty()))
        })
    }

    /// A GET or HGET: the value, `Some(None)` for none, or for a key of another type (both
    /// servers refuse it alike, WRONGTYPE).
    fn read(&mut self, command: &[Vec<u8>]) -> Option<Option<Vec<u8>>> {
        let reply = self.conn.call(command).ok()?;
        match reply.kind {
            Kind::Bulk(Some(v)) => Some(Some(v)),
            Kind::Bulk(None) | Kind::Null => Some(None),
            Kind::Error(e) if e.starts_with(b"WRONGTYPE") => Some(None),
            _ => None,
        }
    }
}

fn name_is(args: &[Vec<u8>], names: &[&str]) -> bool {
    args.first().is_some_and(|n| names.iter().any(|x| n.eq_ignore_ascii_case(x.as_bytes())))
}

/// A hexadecimal float as `strtold` reads it (`0x10`, `-0x1.8p3`): its value and whether an
/// f64 holds it exactly. `None`: not one.
fn hex_float(text: &[u8]) -> Option<(f64, bool)> {
    let t = std::str::from_utf8(text).ok()?;
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
    let (mantissa, exp) = match t.find(['p', 'P']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let m = u128::from_str_radix(&digits, 16).ok()?;
    let exp = exp.checked_sub(4 * frac.len() as i32)?;
    let exact = m == 0 || (m >> m.trailing_zeros() < 1 << 53 && (-1000..=900).contains(&exp));
    let value = m as f64 * 2f64.powi(exp);
    Some((if negative { -value } else { value }, exact))
}

/// A number as Rust reads it (`None`: not one, and both servers refuse it alike).
fn float(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Whether the decimal `text` is exactly an f64 (so long double and f64 read the same number):
/// `m * 10^e` is `n * 2^k` with an integer `n` (odd) below 2^53.
fn exact_in_f64(text: &[u8]) -> bool {
    let Ok(t) = std::str::from_utf8(text) else { return false };
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => match t[i + 1..].parse::<i32>() {
            Ok(e) => (&t[..i], e),
            Err(_) => return false,
        },
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return false;
    }
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let exp = exp - frac.len() as i32;
    if digits.len() > 36 || !(-30..=30).contains(&exp) {
        return digits.is_empty();
    }
    let mut m: u128 = if digits.is_empty() { 0 } else { digits.parse().unwrap_or(u128::MAX) };
    if exp >= 0 {
        m = m.saturating_mul(10u128.saturating_pow(exp as u32));
    } else {
        let five = 5u128.pow((-exp) as u32);
        if !m.is_multiple_of(five) {
            return false;
        }
        m /= five;
    }
    m == 0 || m >> m.trailing_zeros() < 1 << 53
}

/// INCRBYFLOAT's operands: the value (missing: 0, unknown: `None`), the increment.
/// HINCRBYFLOAT's alike (the field's value), as Redis computes it the same way.
fn incrbyfloat_operands(args: &[Vec<u8>], peek: &mut Peek) -> Option<(Option<Vec<u8>>, Vec<u8>)> {
    if name_is(args, &["INCRBYFLOAT"]) && args.len() == 3 {
        let current = peek.value(&args[1]).map(|v| v.unwrap_or_else(|| b"0".to_vec()));
        return Some((current, args[2].clone()));
    }
    if name_is(args, &["HINCRBYFLOAT"]) && args.len() == 4 {
        let current = peek.field(&args[1], &args[2]).map(|v| v.unwrap_or_else(|| b"0".to_vec()));
        return Some((current, args[3].clone()));
    }
    None
}

/// Which float case an INCRBYFLOAT is: 3 beyond what an f64 holds exactly (long double in
/// Redis), 4 on a value not known yet, else 0 (both compute the same f64, which CrownDB prints
/// as Redis's `%.17Lf` does).
fn incrbyfloat_case(args: &[Vec<u8>], peek: &mut Peek) -> u8 {
    let Some((current, increment)) = incrbyfloat_operands(args, peek) else { return 0 };
    let Some(current) = current else { return 4 };
    let read = |t: &[u8]| hex_float(t).or_else(|| float(t).map(|v| (v, exact_in_f64(t))));
    let out_of_range = |text: &[u8], v: f64| v.is_infinite() && !text.to_ascii_lowercase().windows(3).any(|w| w == b"inf");
    // An increment beyond f64's range: refused by CrownDB whatever the value (Redis may
    // refuse the value instead).
    if read(&increment).is_some_and(|(i, _)| out_of_range(&increment, i)) {
        return 3;
    }
    let (Some((c, c_exact)), Some((i, i_exact))) = (read(&current), read(&increment)) else { return 0 };
    if out_of_range(&current, c) || out_of_range(&increment, i) {
        return 3;
    }
    let sum = c + i;
    if !sum.is_finite() {
        return 0; // both refuse: "increment would produce NaN or Infinity"
    }
    // Knuth's TwoSum: the rounding error of c + i; zero when the f64 sum is exact.
    let bv = sum - c;
    let error = (c - (sum - bv)) + (i - bv);
    if error != 0.0 || !c_exact || !i_exact {
        return 3;
    }
    0
}

/// `CONFIG SET <an encoding limit> <value>`, which the harness sends to both servers.
fn config_set_limit(args: &[Vec<u8>]) -> bool {
    const LIMITS: &[&str] = &[
        "hash-max-listpack-entries",
        "hash-max-listpack-value",
        "hash-max-ziplist-entries",
        "hash-max-ziplist-value",
        "set-max-intset-entries",
        "set-max-listpack-entries",
        "set-max-listpack-value",
    ];
    name_is(args, &["CONFIG"])
        && args.len() == 4
        && args[1].eq_ignore_ascii_case(b"SET")
        && LIMITS.iter().any(|l| args[2].eq_ignore_ascii_case(l.as_bytes()))
}

/// Every exclusion: the CrownDB bugs found by the harness (class `Bug`, naming their
/// docs/differential.md entry: D17 open, strings' encoding history;
/// D1-D16, D18-D20 are fixed), to be removed once fixed, then the intended differences
/// (docs/protocols.md) and what the harness cannot compare.
pub static EXCLUSIONS: &[Exclusion] = &[
    // (a) CrownDB bugs.
    Exclusion {
        id: "string-encoding-history",
        class: Class::Bug,
        docs: "docs/differential.md D17",
        // OBJECT ENCODING of a string: Redis's depends on how it was written (APPEND,
        // SETRANGE: raw; INCRBYFLOAT, SET of a non-canonical number: embstr), CrownDB's on
        // the text alone.
        applies: |args, peek| {
            name_is(args, &["OBJECT"]) && args.len() == 3 && args[1].eq_ignore_ascii_case(b"ENCODING") && peek.key_type(&args[2]).is_none_or(|t| t == b"string")
        },
    },
    // (b) Intended differences.
    // (c) What the harness cannot compare.
    Exclusion {
        id: "incrbyfloat-value-unknown",
        class: Class::Harness,
        docs: "the float exclusions above look at the value; inside MULTI, after a queued command naming the key, it is not known yet",
        applies: |args, peek| incrbyfloat_case(args, peek) == 4,
    },
    Exclusion {
        id: "scan-type-none",
        class: Class::Harness,
        docs: "docs/protocols.md, Replies that differ from Redis: SCAN ... TYPE (Redis 7.0 lists expired, not yet reclaimed keys as type none, until its active expiry runs: timing)",
        applies: |args, _| name_is(args, &["SCAN"]) && args.windows(2).any(|w| w[0].eq_ignore_ascii_case(b"TYPE") && w[1].eq_ignore_ascii_case(b"none")),
    },
    Exclusion {
        id: "incrbyfloat-long-double",
        class: Class::Intended,
        docs: "docs/protocols.md, Keys, values, expiry: INCRBYFLOAT computes in f64 (Redis: long double)",
        // Operands or result beyond f64's exact range, or beyond its range at all (1e400).
        applies: |args, peek| incrbyfloat_case(args, peek) == 3,
    },
    Exclusion {
        id: "server-identity",
        class: Class::Intended,
        docs: "docs/protocols.md, Replies that differ from Redis (INFO, CONFIG, COMMAND, CLIENT, TIME, LASTSAVE, RANDOMKEY)",
        // Except `CONFIG SET` of an encoding limit (gen/hashes.rs, gen/sets.rs): both take it.
        applies: |args, _| {
            name_is(args, &["INFO", "CONFIG", "COMMAND", "CLIENT", "TIME", "LASTSAVE", "RANDOMKEY", "SAVE", "BGSAVE"]) && !config_set_limit(args)
        },
    },
    Exclusion {
        id: "huge-negative-count",
        class: Class::Harness,
        docs: "not a difference: SRANDMEMBER / HRANDFIELD with a count below -1,000,000 that Redis takes would build that many replies (i64::MIN, and beyond -LONG_MAX/2 with WITHVALUES, are refused: those are sent)",
        applies: |args, _| {
            let withvalues = name_is(args, &["HRANDFIELD"]) && args.get(3).is_some_and(|w| w.eq_ignore_ascii_case(b"WITHVALUES"));
            name_is(args, &["SRANDMEMBER", "HRANDFIELD"])
                && args.get(2).and_then(|n| std::str::from_utf8(n).ok()?.parse::<i64>().ok()).is_some_and(|n| {
                    n < -1_000_000 && n != i64::MIN && !(withvalues && n < -(i64::MAX / 2))
                })
        },
    },
    Exclusion {
        id: "ends-the-connection",
        class: Class::Harness,
        docs: "not a difference: QUIT and SHUTDOWN end the connection or the server",
        applies: |args, _| name_is(args, &["QUIT", "SHUTDOWN"]),
    },
];

/// The exclusion that skips `args`, if any.
pub fn excluded(args: &[Vec<u8>], peek: &mut Peek) -> Option<&'static Exclusion> {
    EXCLUSIONS.iter().find(|e| (e.applies)(args, peek))
}

pub fn by_id(id: &str) -> Option<&'static Exclusion> {
    EXCLUSIONS.iter().find(|e| e.id == id)
}
