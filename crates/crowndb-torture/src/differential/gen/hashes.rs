//! The hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HGETALL, HKEYS, HVALS, HLEN, HSTRLEN,
//! HEXISTS, HDEL, HINCRBY, HINCRBYFLOAT, HRANDFIELD (counts zero, negative, huge, WITHVALUES),
//! HSCAN (MATCH/COUNT, odd options), OBJECT ENCODING, and now and then a `CONFIG SET` of the
//! listpack limits (small, so hashes turn into hashtables within a few fields).
//!
//! Keys are the shared ones (`Ctx::key`), so hashes meet strings and sets: WRONGTYPE both ways.
//! Fields come from a small pool (so HSET, HDEL, HINCRBY meet on them), with integers and the
//! odd binary or empty one; values are `Ctx::value`, some long enough (> 64 bytes) to pass
//! `hash-max-listpack-value`.

use super::{a, Args, Ctx, Generator, HASH_KEYS};

struct Hashes;

pub fn new() -> Box<dyn Generator> {
    Box::new(Hashes)
}

/// A field: mostly one of a few names, sometimes a number, a binary, empty or long one.
pub fn field(cx: &mut Ctx) -> Vec<u8> {
    match cx.rng.below(20) {
        0..=11 => a(cx.pick(&["f1", "f2", "f3", "f4", "f5", "f6"])),
        12..=14 => a(&cx.rng.range(0, 10).to_string()),
        15 => a(cx.pick(&["", "-1", "01", "field with spaces", "\u{20ac}"])),
        16 => vec![0, b'f', 0xff, b'\r', b'\n'],
        17 => {
            let n = cx.rng.range(60, 80) as usize;
            vec![b'F'; n]
        }
        _ => a(&format!("g{}", cx.rng.below(30))),
    }
}

/// 1..=`max` fields, repeats allowed.
fn fields(cx: &mut Ctx, max: u64) -> Vec<Vec<u8>> {
    let n = cx.rng.range(1, max);
    (0..n).map(|_| field(cx)).collect()
}

/// A HRANDFIELD / SRANDMEMBER / SPOP count: small, zero, negative, huge or invalid. Never a
/// huge negative one that Redis accepts (it would build that many replies): only
/// `i64::MIN`, which it refuses.
pub fn count(cx: &mut Ctx, negative: bool) -> Vec<u8> {
    match cx.rng.below(20) {
        0..=9 => a(&cx.rng.range(1, 8).to_string()),
        10 | 11 => a("0"),
        12..=14 if negative => a(&format!("-{}", cx.rng.range(1, 10))),
        15 => a(cx.pick(&["1000", "9223372036854775807", "4611686018427387904"])),
        16 => a(cx.pick(&["-9223372036854775808", "9223372036854775808", "abc", "", "1.5", " 1", "+1", "0x10"])),
        _ => a(&cx.rng.range(1, 40).to_string()),
    }
}

/// `CONFIG SET` of an encoding limit (both servers get it; `Pair::open` restores the defaults).
pub fn config_set(cx: &mut Ctx, names: &[&str]) -> Args {
    let name = cx.pick(names);
    let value = match cx.rng.below(10) {
        0..=4 => cx.rng.range(0, 8).to_string(),
        5..=7 => cx.pick(&["16", "64", "128", "512"]).to_string(),
        8 => cx.pick(&["-1", "abc", "", "1.5"]).to_string(),
        _ => cx.pick(&["1000000", "9223372036854775807", "9223372036854775808"]).to_string(),
    };
    vec![a("CONFIG"), a("SET"), a(name), a(&value)]
}

pub const HASH_LIMITS: &[&str] = &["hash-max-listpack-entries", "hash-max-listpack-value", "hash-max-ziplist-entries"];

/// An HSCAN/SSCAN MATCH pattern.
pub fn pattern(cx: &mut Ctx) -> Vec<u8> {
    a(cx.pick(&["*", "f*", "f[1-3]", "?", "g1*", "*1", "[", "", "nomatch", "\\*", "[0-9]"]))
}

/// The options of a HSCAN/SSCAN from cursor 0 (mostly), and odd ones.
pub fn scan_options(cx: &mut Ctx) -> Args {
    let options = vec![vec![a("MATCH"), pattern(cx)], vec![a("COUNT"), a(cx.pick(&["1", "2", "5", "100", "0", "-1", "x"]))]];
    let mut args = cx.options(options, 2);
    if cx.rng.chance(4) {
        args.push(a(cx.pick(&["NOVALUES", "BOGUS", "COUNT", "MATCH", "TYPE"])));
    }
    args
}

/// A cursor: 0 (a whole walk, compared as the union), else an invalid or foreign one.
pub fn cursor(cx: &mut Ctx) -> Vec<u8> {
    a(if cx.rng.chance(93) { "0" } else { cx.pick(&["x", "18446744073709551616", "1.5", ""]) })
}

impl Generator for Hashes {
    fn command(&mut self, cx: &mut Ctx) -> Args {
        let key = cx.key_of(HASH_KEYS);
        let args = match cx.rng.below(46) {
            0..=6 => {
                let mut args = vec![cx.name_from(&["HSET", "HSET", "HMSET"]), key];
                for f in fields(cx, 4) {
                    args.push(f);
                    args.push(cx.value());
                }
                if cx.rng.chance(4) {
                    args.pop();
                }
                args
            }
            7 => vec![cx.name("HSETNX"), key, field(cx), cx.value()],
            8..=10 => vec![cx.name("HGET"), key, field(cx)],
            11 | 12 => {
                let mut args = vec![cx.name("HMGET"), key];
                args.extend(fields(cx, 5));
                args
            }
            13..=15 => vec![cx.name("HGETALL"), key],
            16 => vec![cx.name_from(&["HKEYS", "HVALS"]), key],
            17 | 18 => vec![cx.name("HLEN"), key],
            19 => vec![cx.name("HSTRLEN"), key, field(cx)],
            20 | 21 => vec![cx.name("HEXISTS"), key, field(cx)],
            22..=24 => {
                let mut args = vec![cx.name("HDEL"), key];
                args.extend(fields(cx, 3));
                args
            }
            25..=28 => vec![cx.name("HINCRBY"), key, field(cx), cx.int_arg()],
            29..=31 => vec![cx.name("HINCRBYFLOAT"), key, field(cx), cx.float_arg()],
            32..=35 => {
                let mut args = vec![cx.name("HRANDFIELD"), key];
                if cx.rng.chance(75) {
                    let withvalues = cx.rng.chance(50);
                    if withvalues && cx.rng.chance(5) {
                        // Beyond -LONG_MAX/2 with WITHVALUES: out of range in Redis 7.0. Never
                        // without WITHVALUES (so not through `maybe_bad_arity`): Redis would
                        // build that many replies.
                        args.push(a("-4611686018427387904"));
                        args.push(a("WITHVALUES"));
                        return args;
                    } else {
                        args.push(count(cx, true));
                    }
                    if withvalues {
                        let option = if cx.rng.chance(95) { "WITHVALUES" } else { "WITHSCORES" };
                        args.push(cx.name(option));
                    }
                }
                args
            }
            36..=39 => {
                let mut args = vec![cx.name("HSCAN"), key, cursor(cx)];
                args.extend(scan_options(cx));
                args
            }
            40 | 41 => vec![cx.name("OBJECT"), a(cx.pick(&["ENCODING", "ENCODING", "encoding", "BOGUS"])), key],
            42 if cx.rng.chance(30) => config_set(cx, HASH_LIMITS),
            42 | 43 => vec![cx.name("TYPE"), key],
            _ => {
                // Many fields at once: past the listpack limit (or near it).
                let mut args = vec![cx.name("HSET"), key];
                let base = cx.rng.below(4) * 10;
                for i in 0..cx.rng.range(5, 20) {
                    args.push(a(&format!("g{}", base + i)));
                    args.push(cx.value());
                }
                args
            }
        };
        cx.maybe_bad_arity(args)
    }
}
