//! Random command generators, one module per data type. Adding a type is adding a module
//! with a [`Generator`] and one line in [`TYPES`]; the pickers here (keys, values, numbers,
//! TTLs) are shared so that every type's commands collide on the same few keys.

mod hashes;
mod keyspace;
mod sets;
mod strings;

use crate::rng::Rng;

/// A command: its arguments, name first.
pub type Args = Vec<Vec<u8>>;

/// Makes commands of one data type (or group).
pub trait Generator {
    /// One command, from `cx`'s randomness.
    fn command(&mut self, cx: &mut Ctx) -> Args;
}

/// Makes a type's generator.
pub type MakeGenerator = fn() -> Box<dyn Generator>;

/// The known types: `--types` names, and how to make each one's generator.
pub const TYPES: &[(&str, MakeGenerator)] =
    &[("strings", strings::new), ("keyspace", keyspace::new), ("hashes", hashes::new), ("sets", sets::new)];

pub fn generator(name: &str) -> Option<Box<dyn Generator>> {
    TYPES.iter().find(|(n, _)| *n == name).map(|(_, make)| make())
}

pub fn type_names() -> Vec<&'static str> {
    TYPES.iter().map(|(n, _)| *n).collect()
}

/// What a generator draws from: the run's randomness and the time it started.
///
/// Future deadlines never repeat within a run: each is 1,000 s further than the one before
/// (relative or absolute, seconds or milliseconds alike), so EXPIRE ... GT/LT, which compare
/// deadlines, give the same answer on both servers whatever the milliseconds between commands
/// (two `EXPIRE k 150` a millisecond apart would make `GT` depend on the clock).
pub struct Ctx {
    pub rng: Rng,
    pub now_secs: u64,
    deadlines: u64,
    /// Keys the collection generators favour (`h1`, `s1`...), which [`Ctx::key`] also gives
    /// now and then, so that every command meets hashes and sets too: empty unless those
    /// types are in the run (so string-only runs draw as they always did).
    pub extra_keys: Vec<&'static [u8]>,
}

/// The keys hashes favour, and sets.
pub const HASH_KEYS: &[&[u8]] = &[b"h1", b"h2", b"h3"];
pub const SET_KEYS: &[&[u8]] = &[b"s1", b"s2", b"s3"];

/// The key space: a few names, so that commands meet on the same keys.
const KEYS: &[&[u8]] = &[b"k1", b"k2", b"k3", b"k4", b"k5", b"{tag}k6", b"bin\x00\xff\r\nkey", b"\xe2\x82\xac", b""];

pub fn a(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

impl Ctx {
    pub fn new(seed: u64, now_secs: u64) -> Ctx {
        Ctx { rng: Rng::new(seed), now_secs, deadlines: 0, extra_keys: Vec::new() }
    }

    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.rng.below(items.len() as u64) as usize].clone()
    }

    /// One of `names`, as [`Ctx::name`] sends it.
    pub fn name_from(&mut self, names: &[&str]) -> Vec<u8> {
        let name = self.pick(names);
        self.name(name)
    }

    /// A key: mostly the five plain ones, sometimes a binary, non-ASCII or empty one.
    pub fn key(&mut self) -> Vec<u8> {
        if !self.extra_keys.is_empty() && self.rng.chance(6) {
            let keys = self.extra_keys.clone();
            return self.pick(&keys).to_vec();
        }
        if self.rng.chance(85) {
            KEYS[self.rng.below(5) as usize].to_vec()
        } else {
            self.pick(KEYS).to_vec()
        }
    }

    /// A key of `favoured` mostly (a collection generator's own), else any ([`Ctx::key`]).
    pub fn key_of(&mut self, favoured: &[&[u8]]) -> Vec<u8> {
        if self.rng.chance(75) {
            self.pick(favoured).to_vec()
        } else {
            self.key()
        }
    }

    /// 1..=`max` keys, repeats allowed.
    pub fn keys(&mut self, max: u64) -> Vec<Vec<u8>> {
        let n = self.rng.range(1, max);
        (0..n).map(|_| self.key()).collect()
    }

    /// A value: often a number (so INCR and friends have something to work on), sometimes a
    /// near-number, binary, empty or longer text.
    pub fn value(&mut self) -> Vec<u8> {
        match self.rng.below(12) {
            0..=3 => a(&(self.rng.range(0, 200) as i64 - 100).to_string()),
            4 => a(self.pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775806",
                "-9223372036854775807",
                "9223372036854775808",
                "0",
                "-0",
            ])),
            5 => a(self.pick(&["1.5", "-0.25", "3.0", "1e3", "0x10", " 1", "1 ", "+1", "01", "1.", ".5", "inf", "nan", "10e400"])),
            6 => Vec::new(),
            7 => vec![0, 1, 0xfe, 0xff, b'\r', b'\n'],
            8 => {
                let n = self.rng.range(1, 120) as usize;
                (0..n).map(|_| b'a' + self.rng.below(26) as u8).collect()
            }
            _ => a(self.pick(&["v", "hello", "hello world", "abc", "x"])),
        }
    }

    /// An integer argument (INCRBY, GETRANGE, SETRANGE offsets...): small, edge or invalid.
    pub fn int_arg(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=5 => a(&(self.rng.range(0, 40) as i64 - 20).to_string()),
            6 => a(self.pick(&["9223372036854775807", "-9223372036854775808", "4611686018427387904", "-4611686018427387904"])),
            7 => a(self.pick(&["9223372036854775808", "-9223372036854775809", "1.0", "abc", "", " 1", "+1", "01", "0x1"])),
            _ => a(&self.rng.range(0, 1000).to_string()),
        }
    }

    /// A float increment that is exact in binary (so Redis's long double and CrownDB's f64
    /// agree), or an invalid one.
    pub fn float_arg(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=3 => a(&(self.rng.range(0, 40) as i64 - 20).to_string()),
            4..=6 => a(self.pick(&["0.5", "-0.5", "1.25", "-2.75", "0.125", "100.0625", "-0", "5e2", "1E1", "-1.5e1"])),
            7 => a(self.pick(&["abc", "", " 1", "1 ", "inf", "-inf", "nan", "1e400", "0x10", "1.2.3"])),
            _ => a(self.pick(&["9223372036854775807", "-9223372036854775808", "1e15", "-1e15"])),
        }
    }

    /// Seconds from now to a new future deadline, unlike every other of the run.
    fn future(&mut self) -> u64 {
        self.deadlines += 1;
        1_000 * (1 + self.deadlines)
    }

    /// A relative TTL in seconds (a fresh future deadline), or zero, negative, huge or invalid.
    pub fn ttl_secs(&mut self) -> Vec<u8> {
        if self.rng.chance(85) {
            a(&self.future().to_string())
        } else {
            a(self.pick(&["0", "-1", "-100", "abc", "", "1.5", "9223372036854775807", "4611686018427387904", "-9223372036854775808"]))
        }
    }

    pub fn ttl_ms(&mut self) -> Vec<u8> {
        if self.rng.chance(85) {
            a(&(self.future() * 1000 + self.rng.below(1000)).to_string())
        } else {
            a(self.pick(&["0", "-1", "-5000", "x", "9223372036854775807", "-9223372036854775808", "9223372036854775"]))
        }
    }

    /// A Unix time in seconds: in the future, or in the past (the key expires at once).
    pub fn unix_secs(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=6 => a(&(self.now_secs + self.future()).to_string()),
            7 => a(self.pick(&["1", "0", "-1"])),
            8 => a(&(self.now_secs - 1000).to_string()),
            _ => a(self.pick(&["9223372036854775807", "99999999999999", "abc"])),
        }
    }

    pub fn unix_ms(&mut self) -> Vec<u8> {
        let now = self.now_secs * 1000;
        match self.rng.below(10) {
            0..=6 => a(&(now + self.future() * 1000 + self.rng.below(1000)).to_string()),
            7 => a(self.pick(&["1", "0", "-1"])),
            8 => a(&(now - 100_000).to_string()),
            _ => a(self.pick(&["9223372036854775807", "abc"])),
        }
    }

    /// A command name in random case, as clients may send it.
    pub fn name(&mut self, name: &str) -> Vec<u8> {
        if self.rng.chance(90) {
            return a(name);
        }
        name.bytes().map(|b| if self.rng.chance(50) { b.to_ascii_lowercase() } else { b }).collect()
    }

    /// Sometimes breaks the arity: drops the last argument or adds one.
    pub fn maybe_bad_arity(&mut self, mut args: Args) -> Args {
        match self.rng.below(100) {
            0 | 1 if args.len() > 1 => {
                args.pop();
            }
            2 => args.push(a("extra")),
            _ => {}
        }
        args
    }

    /// The shuffled subset of `options` (each with its arguments), `max` at most.
    pub fn options(&mut self, options: Vec<Args>, max: u64) -> Args {
        let mut pool = options;
        let n = self.rng.range(0, max.min(pool.len() as u64));
        let mut out = Vec::new();
        for _ in 0..n {
            let i = self.rng.below(pool.len() as u64) as usize;
            out.extend(pool.swap_remove(i));
        }
        out
    }
}
