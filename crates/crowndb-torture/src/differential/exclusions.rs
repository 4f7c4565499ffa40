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

/// The commands CrownDB implements (crates/crowndb-server/src/redis/dispatch.rs).
const KNOWN: &[&str] = &[
    "ping",
    "echo",
    "quit",
    "hello",
    "auth",
    "select",
    "client",
    "reset",
    "multi",
    "exec",
    "discard",
    "watch",
    "unwatch",
    "get",
    "set",
    "setnx",
    "setex",
    "psetex",
    "getset",
    "getdel",
    "getex",
    "mget",
    "mset",
    "msetnx",
    "append",
    "strlen",
    "getrange",
    "setrange",
    "incr",
    "decr",
    "incrby",
    "decrby",
    "incrbyfloat",
    "del",
    "unlink",
    "exists",
    "type",
    "touch",
    "rename",
    "renamenx",
    "copy",
    "randomkey",
    "scan",
    "keys",
    "dbsize",
    "flushdb",
    "flushall",
    "expire",
    "pexpire",
    "expireat",
    "pexpireat",
    "ttl",
    "pttl",
    "expiretime",
    "pexpiretime",
    "persist",
    "info",
    "time",
    "save",
    "bgsave",
    "lastsave",
    "config",
    "shutdown",
    "command",
    "object",
    "hset",
    "hsetnx",
    "hmset",
    "hget",
    "hmget",
    "hgetall",
    "hkeys",
    "hvals",
    "hlen",
    "hstrlen",
    "hexists",
    "hdel",
    "hincrby",
    "hincrbyfloat",
    "hrandfield",
    "hscan",
    "sadd",
    "srem",
    "sismember",
    "smismember",
    "scard",
    "smembers",
    "srandmember",
    "spop",
    "smove",
    "sinter",
    "sintercard",
    "sunion",
    "sdiff",
    "sinterstore",
    "sunionstore",
    "sdiffstore",
    "sscan",
];

fn is_hex(text: &[u8]) -> bool {
    let t = text.strip_prefix(b"-").or_else(|| text.strip_prefix(b"+")).unwrap_or(text);
    t.len() > 1 && t[0] == b'0' && (t[1] | 0x20) == b'x'
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

/// Which float case an INCRBYFLOAT is: 1 hexadecimal; 2 printed differently although both
/// compute the same f64 (an exact sum, whose shortest form is not its exact digits); 3 beyond
/// what an f64 holds exactly (long double in Redis); 4 on a value not known yet.
fn incrbyfloat_case(args: &[Vec<u8>], peek: &mut Peek) -> u8 {
    let Some((current, increment)) = incrbyfloat_operands(args, peek) else { return 0 };
    let Some(current) = current else { return 4 };
    if is_hex(&current) || is_hex(&increment) {
        return 1;
    }
    let (Some(c), Some(i)) = (float(&current), float(&increment)) else { return 0 };
    let out_of_range = |text: &[u8], v: f64| v.is_infinite() && !text.to_ascii_lowercase().windows(3).any(|w| w == b"inf");
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
    let exact_operands = exact_in_f64(&current) && exact_in_f64(&increment);
    if error != 0.0 || !exact_operands {
        return 3;
    }
    // Redis prints "%.17Lf" with the zeros trimmed: the exact digits, for an exact sum.
    let full = format!("{sum:.17}");
    let full = full.trim_end_matches('0').trim_end_matches('.');
    let full = if full == "-0" { "0" } else { full };
    if full != format!("{sum}") {
        return 2;
    }
    0
}

/// The EXPIRE family with a time that is not an integer and flags Redis refuses: Redis
/// checks the flags first.
fn expire_bad_time_and_flags(args: &[Vec<u8>]) -> bool {
    if !name_is(args, &["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]) || args.len() < 4 {
        return false;
    }
    let time_ok = std::str::from_utf8(&args[2]).ok().and_then(|t| t.parse::<i64>().ok()).is_some();
    let flags: Vec<String> = args[3..].iter().map(|f| String::from_utf8_lossy(f).to_ascii_uppercase()).collect();
    let has = |f: &str| flags.iter().any(|x| x == f);
    let unknown = flags.iter().any(|f| !matches!(f.as_str(), "NX" | "XX" | "GT" | "LT"));
    let conflict = (has("NX") && (has("XX") || has("GT") || has("LT"))) || (has("GT") && has("LT"));
    !time_ok && (unknown || conflict)
}

/// GETEX with an expiry Redis would refuse, on a key that is not there (or may not be).
fn getex_bad_expiry_missing_key(args: &[Vec<u8>], peek: &mut Peek) -> bool {
    if !name_is(args, &["GETEX"]) || args.len() < 4 {
        return false;
    }
    let bad = args[2..].windows(2).any(|w| {
        let option = String::from_utf8_lossy(&w[0]).to_ascii_uppercase();
        let valid = std::str::from_utf8(&w[1]).ok().and_then(|t| t.parse::<i64>().ok()).is_some_and(|v| v > 0 && v <= 9_000_000_000_000);
        matches!(option.as_str(), "EX" | "PX" | "EXAT" | "PXAT") && !valid
    });
    bad && matches!(redis_string_options(args), Some(Ok(_))) && !matches!(peek.value(&args[1]), Some(Some(_)))
}

/// An expiry option of SET/GETEX and its value: (`EX`, `100`).
type ExpiryOption = (String, Vec<u8>);

/// SET/GETEX options as Redis 7 reads them (`parseExtendedStringArgumentsOrReply`): `Err`
/// for a syntax error, else the expiry options given (name, value), repeats included.
fn redis_string_options(args: &[Vec<u8>]) -> Option<Result<Vec<ExpiryOption>, ()>> {
    let (set, first) = if name_is(args, &["SET"]) && args.len() >= 3 {
        (true, 3)
    } else if name_is(args, &["GETEX"]) && args.len() >= 2 {
        (false, 2)
    } else {
        return None;
    };
    let mut seen: Vec<String> = Vec::new();
    let mut expiry = Vec::new();
    let mut j = first;
    while j < args.len() {
        let opt = String::from_utf8_lossy(&args[j]).to_ascii_uppercase();
        let next = args.get(j + 1);
        let has = |f: &str| seen.iter().any(|s| s == f);
        let timed = ["EX", "PX", "EXAT", "PXAT"];
        let other_timed = |me: &str| timed.iter().any(|t| *t != me && has(t));
        let ok = match opt.as_str() {
            "NX" => set && !has("XX"),
            "XX" => set && !has("NX"),
            "GET" => set,
            "KEEPTTL" => set && !has("PERSIST") && !timed.iter().any(|t| has(t)),
            "PERSIST" => !set && !has("KEEPTTL") && !timed.iter().any(|t| has(t)),
            t if timed.contains(&t) => !has("KEEPTTL") && !has("PERSIST") && !other_timed(t) && next.is_some(),
            _ => false,
        };
        if !ok {
            return Some(Err(()));
        }
        if timed.contains(&opt.as_str()) {
            expiry.push((opt.clone(), next.cloned().unwrap_or_default()));
            j += 1;
        }
        seen.push(opt);
        j += 1;
    }
    Some(Ok(expiry))
}

/// An expiry value Redis takes (positive, and no overflow once in milliseconds).
fn valid_expiry(value: &[u8]) -> bool {
    std::str::from_utf8(value).ok().and_then(|t| t.parse::<i64>().ok()).is_some_and(|v| v > 0 && v <= 9_000_000_000_000)
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

/// Every exclusion: first the CrownDB bugs (docs/differential.md), then the intended ones.
pub static EXCLUSIONS: &[Exclusion] = &[
    // (a) CrownDB bugs.
    Exclusion {
        id: "unknown-command-nul-arg",
        class: Class::Bug,
        docs: "docs/differential.md D1",
        // An unknown command whose arguments hold a NUL byte: Redis quotes each only up to it.
        applies: |args, _| {
            args.first().is_some_and(|n| !KNOWN.iter().any(|k| n.eq_ignore_ascii_case(k.as_bytes())))
                && args.iter().skip(1).any(|a| a.contains(&0))
        },
    },
    Exclusion {
        id: "exec-with-arguments",
        class: Class::Bug,
        docs: "docs/differential.md D2",
        // EXEC with arguments: Redis answers EXECABORT (and ends a transaction).
        applies: |args, _| name_is(args, &["EXEC"]) && args.len() > 1,
    },
    Exclusion {
        id: "incrbyfloat-hex",
        class: Class::Bug,
        docs: "docs/differential.md D3",
        // INCRBYFLOAT with a hexadecimal increment or value (Redis's strtold reads 0x10).
        applies: |args, peek| incrbyfloat_case(args, peek) == 1,
    },
    Exclusion {
        id: "incrbyfloat-shortest-digits",
        class: Class::Bug,
        docs: "docs/differential.md D4",
        // INCRBYFLOAT whose result both compute exactly, but whose shortest round-trip form is
        // not its exact digits (1000000000000032.25, 9223372036854775808): printed differently.
        applies: |args, peek| incrbyfloat_case(args, peek) == 2,
    },
    Exclusion {
        id: "scan-negative-cursor",
        class: Class::Bug,
        docs: "docs/differential.md D5",
        // SCAN -1: Redis's strtoul takes a negative cursor; CrownDB says invalid cursor.
        applies: |args, _| name_is(args, &["SCAN"]) && args.get(1).is_some_and(|c| c.starts_with(b"-")),
    },
    Exclusion {
        id: "expire-bad-time-and-bad-flags",
        class: Class::Bug,
        docs: "docs/differential.md D6",
        applies: |args, _| expire_bad_time_and_flags(args),
    },
    Exclusion {
        id: "getex-bad-expiry-missing-key",
        class: Class::Bug,
        docs: "docs/differential.md D7",
        applies: getex_bad_expiry_missing_key,
    },
    Exclusion {
        id: "string-repeated-expiry-option",
        class: Class::Bug,
        docs: "docs/differential.md D8",
        // SET/GETEX with the same expiry option twice (EX 10 EX 20): Redis takes the last.
        applies: |args, _| {
            matches!(redis_string_options(args), Some(Ok(e)) if e.iter().enumerate().any(|(i, (o, _))| e[..i].iter().any(|(p, _)| p == o)))
        },
    },
    Exclusion {
        id: "getex-syntax-error-and-bad-expiry",
        class: Class::Bug,
        docs: "docs/differential.md D9",
        // GETEX with a syntax error and an invalid expiry value: Redis reports the syntax
        // (SET agrees already).
        applies: |args, _| {
            name_is(args, &["GETEX"])
                && matches!(redis_string_options(args), Some(Err(())))
                && args.windows(2).any(|w| {
                    let o = String::from_utf8_lossy(&w[0]).to_ascii_uppercase();
                    matches!(o.as_str(), "EX" | "PX" | "EXAT" | "PXAT") && !valid_expiry(&w[1])
                })
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
