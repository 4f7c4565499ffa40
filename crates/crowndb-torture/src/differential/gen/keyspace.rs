//! The keyspace commands: DEL/UNLINK/EXISTS/TYPE/TOUCH, the EXPIRE family with its NX/XX/GT/LT
//! flags, TTL and friends, PERSIST, RENAME/RENAMENX/COPY, SCAN/KEYS/DBSIZE, FLUSHDB/FLUSHALL,
//! and a few connection commands (PING, ECHO, SELECT) and unknown ones.

use super::{a, Args, Ctx, Generator};

struct Keyspace;

pub fn new() -> Box<dyn Generator> {
    Box::new(Keyspace)
}

/// A glob pattern for SCAN MATCH and KEYS.
fn pattern(cx: &mut Ctx) -> Vec<u8> {
    a(cx.pick(&["*", "k*", "k[1-3]", "k?", "*6", "\\{tag\\}*", "k[^1]", "b*", "nomatch*", "", "[", "k[", "*\\", "{tag}*"]))
}

impl Generator for Keyspace {
    fn command(&mut self, cx: &mut Ctx) -> Args {
        let key = cx.key();
        let args = match cx.rng.below(40) {
            0..=2 => {
                let mut args = vec![cx.name_from(&["DEL", "UNLINK"])];
                args.extend(cx.keys(3));
                args
            }
            3..=5 => {
                let mut args = vec![cx.name_from(&["EXISTS", "TOUCH"])];
                args.extend(cx.keys(4));
                args
            }
            6 => vec![cx.name("TYPE"), key],
            7..=13 => {
                let (name, when) = match cx.rng.below(4) {
                    0 => ("EXPIRE", cx.ttl_secs()),
                    1 => ("PEXPIRE", cx.ttl_ms()),
                    2 => ("EXPIREAT", cx.unix_secs()),
                    _ => ("PEXPIREAT", cx.unix_ms()),
                };
                let mut args = vec![cx.name(name), key, when];
                if cx.rng.chance(50) {
                    let flags = ["NX", "XX", "GT", "LT", "nx", "gt", "BOGUS"];
                    let n = if cx.rng.chance(85) { 1 } else { 2 };
                    for _ in 0..n {
                        args.push(a(cx.pick(&flags)));
                    }
                }
                args
            }
            14..=18 => vec![cx.name_from(&["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]), key],
            19 | 20 => vec![cx.name("PERSIST"), key],
            21 | 22 => vec![cx.name_from(&["RENAME", "RENAMENX"]), key, cx.key()],
            23 | 24 => {
                let mut args = vec![cx.name("COPY"), key, cx.key()];
                let options = vec![vec![a("REPLACE")], vec![a("DB"), a(cx.pick(&["0", "0", "1", "x", "-1"]))]];
                args.extend(cx.options(options, 2));
                if cx.rng.chance(5) {
                    args.push(a(cx.pick(&["REPLACE", "BOGUS", "DB"])));
                }
                args
            }
            25..=27 => {
                let mut args =
                    vec![cx.name("SCAN"), a(if cx.rng.chance(95) { "0" } else { cx.pick(&["x", "-1", "18446744073709551616"]) })];
                let options = vec![
                    vec![a("MATCH"), pattern(cx)],
                    vec![a("COUNT"), a(cx.pick(&["1", "2", "10", "1000", "0", "-1", "x"]))],
                    vec![a("TYPE"), a(cx.pick(&["string", "STRING", "hash", "set", "SET", "none", "bogus"]))],
                ];
                args.extend(cx.options(options, 3));
                args
            }
            28 | 29 => vec![cx.name("KEYS"), pattern(cx)],
            30 => vec![cx.name("DBSIZE")],
            31 => {
                if cx.rng.chance(30) {
                    let mut args = vec![cx.name_from(&["FLUSHDB", "FLUSHALL"])];
                    if cx.rng.chance(30) {
                        args.push(a(cx.pick(&["ASYNC", "SYNC", "async", "BOGUS"])));
                    }
                    args
                } else {
                    vec![cx.name("EXISTS"), key]
                }
            }
            32 => {
                let mut args = vec![cx.name("PING")];
                if cx.rng.chance(50) {
                    args.push(cx.value());
                }
                args
            }
            33 => vec![cx.name("ECHO"), cx.value()],
            34 => vec![cx.name("SELECT"), a(cx.pick(&["0", "1", "-1", "x", "15", "16"]))],
            35 => {
                // Unknown commands, with and without arguments (Redis quotes the first ones).
                let mut args = vec![a(cx.pick(&["NOSUCHCMD", "getx", "SETT", "\x01bin"]))];
                for _ in 0..cx.rng.below(4) {
                    args.push(cx.value());
                }
                args
            }
            36 => vec![cx.name("EXPIRE"), key, cx.ttl_secs()],
            _ => vec![cx.name("TTL"), key],
        };
        cx.maybe_bad_arity(args)
    }
}
