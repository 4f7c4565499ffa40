//! The set commands: SADD, SREM, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS, SRANDMEMBER, SPOP
//! (counts zero, negative, huge), SMOVE, SINTER, SINTERCARD (LIMIT), SUNION, SDIFF and their
//! STORE forms, SSCAN, OBJECT ENCODING, and now and then a `CONFIG SET` of the set limits.
//!
//! Members are mostly integers (so sets start as intsets, and turn into hashtables on the first
//! non-integer, `01`, `-0`, or past `set-max-intset-entries`), from the same pool as hash
//! fields in part, so that the same keys are hashes, sets and strings in turn.

use super::hashes::{config_set, count, cursor, field, scan_options};
use super::{a, Args, Ctx, Generator, SET_KEYS};

struct Sets;

pub fn new() -> Box<dyn Generator> {
    Box::new(Sets)
}

/// A member: a small integer mostly, an integer at i64's limits, a near-integer, or a field.
fn member(cx: &mut Ctx) -> Vec<u8> {
    match cx.rng.below(20) {
        0..=9 => a(&(cx.rng.range(0, 12) as i64 - 2).to_string()),
        10 => a(cx.pick(&["9223372036854775807", "-9223372036854775808", "9223372036854775808", "4294967296", "-2147483649", "65536"])),
        11 => a(cx.pick(&["01", "-0", "+1", " 1", "1.0", "0x1"])),
        _ => field(cx),
    }
}

fn members(cx: &mut Ctx, max: u64) -> Vec<Vec<u8>> {
    let n = cx.rng.range(1, max);
    (0..n).map(|_| member(cx)).collect()
}

pub const SET_LIMITS: &[&str] = &["set-max-intset-entries", "set-max-intset-entries", "set-max-listpack-entries"];

impl Generator for Sets {
    fn command(&mut self, cx: &mut Ctx) -> Args {
        let key = cx.key_of(SET_KEYS);
        let args = match cx.rng.below(50) {
            0..=7 => {
                let mut args = vec![cx.name("SADD"), key];
                args.extend(members(cx, 5));
                args
            }
            8..=10 => {
                let mut args = vec![cx.name("SREM"), key];
                args.extend(members(cx, 3));
                args
            }
            11 | 12 => vec![cx.name("SISMEMBER"), key, member(cx)],
            13 => {
                let mut args = vec![cx.name("SMISMEMBER"), key];
                args.extend(members(cx, 4));
                args
            }
            14 | 15 => vec![cx.name("SCARD"), key],
            16..=18 => vec![cx.name("SMEMBERS"), key],
            19..=21 => {
                let mut args = vec![cx.name("SRANDMEMBER"), key];
                if cx.rng.chance(70) {
                    args.push(count(cx, true));
                }
                args
            }
            22..=24 => {
                let mut args = vec![cx.name("SPOP"), key];
                if cx.rng.chance(60) {
                    let negative = cx.rng.chance(20);
                    args.push(count(cx, negative));
                }
                args
            }
            25 | 26 => vec![cx.name("SMOVE"), key, cx.key_of(SET_KEYS), member(cx)],
            27..=31 => {
                let mut args = vec![cx.name_from(&["SINTER", "SUNION", "SDIFF"]), key];
                for _ in 0..cx.rng.range(0, 3) {
                    args.push(cx.key_of(SET_KEYS));
                }
                args
            }
            32..=34 => {
                let mut args = vec![cx.name_from(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), key];
                for _ in 0..cx.rng.range(1, 3) {
                    args.push(cx.key_of(SET_KEYS));
                }
                args
            }
            35 | 36 => {
                let keys: Vec<Vec<u8>> = (0..cx.rng.range(1, 3)).map(|_| cx.key_of(SET_KEYS)).collect();
                let numkeys = if cx.rng.chance(90) { keys.len().to_string() } else { cx.pick(&["0", "-1", "5", "x"]).to_string() };
                let mut args = vec![cx.name("SINTERCARD"), a(&numkeys)];
                args.extend(keys);
                if cx.rng.chance(40) {
                    args.push(cx.name("LIMIT"));
                    args.push(a(cx.pick(&["0", "1", "2", "3", "-1", "x", "9223372036854775807"])));
                } else if cx.rng.chance(5) {
                    args.push(a("BOGUS"));
                }
                args
            }
            37..=40 => {
                let mut args = vec![cx.name("SSCAN"), key, cursor(cx)];
                args.extend(scan_options(cx));
                args
            }
            41..=43 => vec![cx.name("OBJECT"), a("ENCODING"), key],
            44 if cx.rng.chance(30) => config_set(cx, SET_LIMITS),
            44 | 45 => vec![cx.name("TYPE"), key],
            _ => {
                // Many members at once: past the intset limit, or near it.
                let mut args = vec![cx.name("SADD"), key];
                let text = cx.rng.chance(30);
                for i in 0..cx.rng.range(5, 20) {
                    args.push(if text { a(&format!("g{i}")) } else { a(&(i * 3).to_string()) });
                }
                args
            }
        };
        cx.maybe_bad_arity(args)
    }
}
