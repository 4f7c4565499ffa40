//! The string commands: GET/SET and its options, the SET variants, MGET/MSET/MSETNX, APPEND,
//! STRLEN, GETRANGE/SETRANGE and the INCR family.

use super::{a, Args, Ctx, Generator};

struct Strings;

pub fn new() -> Box<dyn Generator> {
    Box::new(Strings)
}

/// SET's and GETEX's expiry options, each with its argument.
fn expiry(cx: &mut Ctx, persist: bool) -> Vec<Args> {
    let mut v = vec![
        vec![cx.name("EX"), cx.ttl_secs()],
        vec![cx.name("PX"), cx.ttl_ms()],
        vec![cx.name("EXAT"), cx.unix_secs()],
        vec![cx.name("PXAT"), cx.unix_ms()],
    ];
    if persist {
        v.push(vec![cx.name("PERSIST")]);
    }
    v
}

impl Generator for Strings {
    fn command(&mut self, cx: &mut Ctx) -> Args {
        let key = cx.key();
        let args = match cx.rng.below(30) {
            0..=3 => vec![cx.name("GET"), key],
            4..=7 => {
                let mut args = vec![cx.name("SET"), key, cx.value()];
                // Mostly one or two options in a valid combination, sometimes odd ones.
                let mut options: Vec<Args> = Vec::new();
                if cx.rng.chance(30) {
                    options.push(vec![cx.name_from(&["NX", "XX"])]);
                }
                if cx.rng.chance(20) {
                    options.push(vec![cx.name("GET")]);
                }
                if cx.rng.chance(40) {
                    let mut e = expiry(cx, false);
                    e.push(vec![cx.name("KEEPTTL")]);
                    options.push(cx.pick(&e));
                }
                if cx.rng.chance(8) {
                    let odd = [
                        vec![a("NX"), a("XX")],
                        vec![a("EX"), a("10"), a("PX"), a("100")],
                        vec![a("KEEPTTL"), a("EX"), a("10")],
                        vec![a("EX")],
                        vec![a("BOGUS")],
                        vec![a("GET"), a("GET")],
                        vec![a("NX"), a("NX")],
                    ];
                    options.push(cx.pick(&odd));
                }
                for _ in 0..options.len() {
                    let i = cx.rng.below(options.len() as u64) as usize;
                    args.extend(options.swap_remove(i));
                }
                args
            }
            8 => vec![cx.name("SETNX"), key, cx.value()],
            9 => vec![cx.name("SETEX"), key, cx.ttl_secs(), cx.value()],
            10 => vec![cx.name("PSETEX"), key, cx.ttl_ms(), cx.value()],
            11 => vec![cx.name("GETSET"), key, cx.value()],
            12 => vec![cx.name("GETDEL"), key],
            13 => {
                let mut args = vec![cx.name("GETEX"), key];
                let e = expiry(cx, true);
                let max = if cx.rng.chance(10) { 2 } else { 1 };
                args.extend(cx.options(e, max));
                args
            }
            14 | 15 => {
                let mut args = vec![cx.name("MGET")];
                args.extend(cx.keys(4));
                args
            }
            16 | 17 => {
                let name = if cx.rng.chance(70) { "MSET" } else { "MSETNX" };
                let name = cx.name(name);
                let mut args = vec![name];
                for k in cx.keys(3) {
                    args.push(k);
                    args.push(cx.value());
                }
                if cx.rng.chance(5) {
                    args.pop();
                }
                args
            }
            18 | 19 => vec![cx.name("APPEND"), key, cx.value()],
            20 => vec![cx.name("STRLEN"), key],
            21 => vec![cx.name("GETRANGE"), key, cx.int_arg(), cx.int_arg()],
            22 => {
                let offset = if cx.rng.chance(80) { a(&cx.rng.range(0, 40).to_string()) } else { cx.int_arg() };
                let value = if cx.rng.chance(15) { Vec::new() } else { cx.value() };
                vec![cx.name("SETRANGE"), key, offset, value]
            }
            23 | 24 => vec![cx.name_from(&["INCR", "DECR"]), key],
            25 | 26 => vec![cx.name_from(&["INCRBY", "DECRBY"]), key, cx.int_arg()],
            _ => vec![cx.name("INCRBYFLOAT"), key, cx.float_arg()],
        };
        cx.maybe_bad_arity(args)
    }
}
