//! Differential testing against Redis: `redis-server` and `crowndb serve` get the same
//! commands, one at a time, and must give the same replies, byte for byte at the RESP level,
//! errors included (docs/differential.md).
//!
//! - `gen/`: one random command generator per data type (`--types`), over a small key space.
//! - `edge.rs` and `crates/crowndb-torture/differential/edge_cases.txt`: hand-written cases.
//! - `normalise.rs`: the comparisons of replies that depend on time or server identity.
//! - `exclusions.rs`: what is not sent, and why (known bugs, intended differences).
//! - `servers.rs`: starting both servers; `resp.rs`: the client.
//!
//! A generated run is a list of steps (a command, a MULTI ... EXEC block, a HELLO switching
//! protocol); on a mismatch the steps up to it are minimised by dropping steps while the last
//! one still differs, replayed on flushed stores.

pub mod cli;
pub mod edge;
pub mod exclusions;
pub mod gen;
pub mod normalise;
pub mod resp;
pub mod servers;

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gen::{a, Args, Ctx};
use normalise::{norm_for, same, Norm};
use resp::{show_command, show_reply, Conn, Kind, Reply};
use servers::Servers;

pub struct Config {
    /// The first seed; seed `i` of the run is `seed + i`.
    pub seed: u64,
    pub seeds: u64,
    /// Commands per seed.
    pub commands: usize,
    pub types: Vec<String>,
    /// Run the edge cases (the built-in file, or `edge_file`).
    pub edge_cases: bool,
    pub edge_file: Option<PathBuf>,
    /// Apply the exclusion list (off: send everything).
    pub exclusions: bool,
    pub minimise: bool,
    /// Print a line per seed.
    pub progress: bool,
    pub redis_bin: PathBuf,
    pub crowndb_bin: PathBuf,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub seeds: u64,
    /// Commands sent to each server (SCAN walks count once).
    pub commands: u64,
    pub edge_cases: u64,
    /// Commands left out, per exclusion.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Reports of the differences found.
    pub mismatches: Vec<String>,
    pub elapsed: Duration,
}

impl Summary {
    fn add(&mut self, pair: &Pair) {
        self.commands += pair.sent;
        for (id, n) in &pair.skipped {
            *self.skipped.entry(id).or_default() += n;
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "{} seeds, {} commands and {} edge cases sent to both servers in {:.1} s, {} mismatches",
            self.seeds,
            self.commands,
            self.edge_cases,
            self.elapsed.as_secs_f64(),
            self.mismatches.len()
        )?;
        if !self.skipped.is_empty() {
            let list: Vec<String> = self.skipped.iter().map(|(id, n)| format!("{id} {n}")).collect();
            write!(f, "; skipped by exclusion: {}", list.join(", "))?;
        }
        Ok(())
    }
}

/// A difference: the command, both replies, the commands before it.
#[derive(Debug, Clone)]
pub struct Mismatch {
    pub command: Args,
    pub redis: Reply,
    pub crowndb: Reply,
    pub history: Vec<String>,
}

/// One connection to each server, and the transaction state they share.
struct Pair {
    redis: Conn,
    crowndb: Conn,
    in_multi: bool,
    queued: Vec<Norm>,
    /// The commands queued in the current transaction.
    queued_args: Vec<Args>,
    history: VecDeque<String>,
    sent: u64,
    /// A second connection to Redis, for the exclusions that look at a key's value; `None`
    /// when exclusions are off.
    peek: Option<Conn>,
    skipped: BTreeMap<&'static str, u64>,
}

const HISTORY: usize = 8;

fn name_of(args: &[Vec<u8>]) -> String {
    args.first().map(|n| String::from_utf8_lossy(n).to_ascii_uppercase()).unwrap_or_default()
}

impl Pair {
    /// Fresh connections (RESP2, no transaction) to both servers, both stores flushed.
    fn open(servers: &Servers, exclusions: bool) -> Result<Pair, String> {
        let connect = |addr: &str| Conn::connect(addr).map_err(|e| format!("connecting to {addr}: {e}"));
        let mut pair = Pair {
            redis: connect(&servers.redis_addr)?,
            crowndb: connect(&servers.crowndb_addr)?,
            in_multi: false,
            queued: Vec::new(),
            queued_args: Vec::new(),
            history: VecDeque::new(),
            sent: 0,
            peek: if exclusions { Some(connect(&servers.redis_addr)?) } else { None },
            skipped: BTreeMap::new(),
        };
        for (name, conn) in [("redis-server", &mut pair.redis), ("crowndb", &mut pair.crowndb)] {
            let r = conn.call(&[a("FLUSHALL")]).map_err(|e| format!("FLUSHALL on {name}: {e}"))?;
            if !r.is_simple("OK") {
                return Err(format!("FLUSHALL on {name}: {}", show_reply(&r)));
            }
        }
        Ok(pair)
    }

    fn call_both(&mut self, args: &[Vec<u8>]) -> Result<(Reply, Reply), String> {
        let cmd = show_command(args);
        let r = self.redis.call(args).map_err(|e| format!("redis-server, {cmd}: {e}"))?;
        let c = self.crowndb.call(args).map_err(|e| format!("crowndb, {cmd}: {e}"))?;
        self.sent += 1;
        Ok((r, c))
    }

    /// The exclusion that skips `args` now, if exclusions are on.
    fn excluded(&mut self, args: &[Vec<u8>]) -> Option<&'static exclusions::Exclusion> {
        let conn = self.peek.as_mut()?;
        let mut peek = exclusions::Peek { conn, queued: &self.queued_args };
        exclusions::excluded(args, &mut peek)
    }

    /// Sends `args` to both, unless an exclusion skips it; `Some` if their replies differ.
    fn send(&mut self, args: &[Vec<u8>]) -> Result<Option<Mismatch>, String> {
        if let Some(e) = self.excluded(args) {
            *self.skipped.entry(e.id).or_default() += 1;
            return Ok(None);
        }
        let name = name_of(args);
        let control = matches!(name.as_str(), "EXEC" | "DISCARD" | "MULTI" | "WATCH" | "RESET");
        let norm = if self.in_multi && !control {
            Norm::Exact // +QUEUED, or the error that refuses it
        } else if name == "EXEC" {
            Norm::Exec(std::mem::take(&mut self.queued))
        } else {
            norm_for(args)
        };
        let (r, c) = if norm == Norm::Scan { self.scan_both(args)? } else { self.call_both(args)? };
        if self.in_multi && !control && r.is_simple("QUEUED") && c.is_simple("QUEUED") {
            self.queued.push(match norm_for(args) {
                Norm::Scan => Norm::Shape,
                n => n,
            });
            self.queued_args.push(args.to_vec());
        }
        match name.as_str() {
            "EXEC" | "DISCARD" | "RESET" => {
                self.in_multi = false;
                self.queued.clear();
                self.queued_args.clear();
            }
            "MULTI" if !self.in_multi && r.is_simple("OK") && c.is_simple("OK") => {
                self.in_multi = true;
                self.queued.clear();
                self.queued_args.clear();
            }
            _ => {}
        }
        let ok = same(&norm, &r, &c);
        let mut line = format!("{} -> {}", show_command(args), show_reply(&r));
        if !ok {
            let _ = write!(line, " (crowndb: {})", show_reply(&c));
        }
        let mismatch =
            (!ok).then(|| Mismatch { command: args.to_vec(), redis: r, crowndb: c, history: self.history.iter().cloned().collect() });
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(line);
        Ok(mismatch)
    }

    /// A whole SCAN walk on each server: the sorted, deduplicated keys, or the first error.
    fn scan_both(&mut self, args: &[Vec<u8>]) -> Result<(Reply, Reply), String> {
        let r = walk(&mut self.redis, args).map_err(|e| format!("redis-server, {}: {e}", show_command(args)))?;
        let c = walk(&mut self.crowndb, args).map_err(|e| format!("crowndb, {}: {e}", show_command(args)))?;
        self.sent += 1;
        Ok((r, c))
    }
}

fn walk(conn: &mut Conn, args: &[Vec<u8>]) -> std::io::Result<Reply> {
    let mut args = args.to_vec();
    let mut keys: Vec<Reply> = Vec::new();
    for _ in 0..100_000 {
        let reply = conn.call(&args)?;
        let Kind::Array(Some(parts)) = &reply.kind else { return Ok(reply) };
        let (Some(cursor), Some(Kind::Array(Some(page)))) = (parts.first().and_then(|c| c.bulk()), parts.get(1).map(|p| &p.kind)) else {
            return Ok(reply);
        };
        keys.extend(page.iter().cloned());
        if cursor == b"0" {
            keys.sort_by(|x, y| x.raw.cmp(&y.raw));
            keys.dedup_by(|x, y| x.raw == y.raw);
            let mut raw = format!("(whole SCAN walk) *{}\r\n", keys.len()).into_bytes();
            for k in &keys {
                raw.extend_from_slice(&k.raw);
            }
            return Ok(Reply { raw, kind: Kind::Array(Some(keys)) });
        }
        args[1] = cursor.to_vec();
    }
    Err(std::io::Error::other("SCAN did not end after 100000 calls"))
}

/// A unit the minimiser keeps or drops whole: one command, or a transaction block.
type Step = Vec<Args>;

/// The generated run of one seed.
fn generate(seed: u64, commands: usize, types: &[String], now_secs: u64) -> Result<Vec<Step>, String> {
    let mut generators = Vec::new();
    for t in types {
        generators.push(gen::generator(t).ok_or_else(|| format!("unknown type {t:?}: known are {}", gen::type_names().join(", ")))?);
    }
    let mut cx = Ctx::new(seed, now_secs);
    let mut steps: Vec<Step> = Vec::new();
    let mut count = 0;
    while count < commands {
        let roll = cx.rng.below(100);
        let mut step = Vec::new();
        if roll < 2 {
            step.push(vec![a("HELLO"), a(if cx.rng.chance(50) { "3" } else { "2" })]);
        } else if roll < 5 {
            // A transaction: sometimes WATCHed, sometimes discarded, sometimes odd.
            if cx.rng.chance(25) {
                let mut watch = vec![a("WATCH")];
                watch.extend(cx.keys(2));
                step.push(watch);
            }
            step.push(vec![a("MULTI")]);
            for _ in 0..cx.rng.range(0, 4) {
                let g = cx.rng.below(generators.len() as u64) as usize;
                let args = generators[g].command(&mut cx);
                if name_of(&args) == "SCAN" {
                    continue;
                }
                step.push(args);
            }
            if cx.rng.chance(5) {
                step.push(vec![a(cx.pick(&["MULTI", "WATCH", "UNWATCH"])), a("k1")]);
            }
            step.push(vec![a(if cx.rng.chance(85) { "EXEC" } else { "DISCARD" })]);
        } else if roll < 6 {
            step.push(vec![a(cx.pick(&["EXEC", "DISCARD", "UNWATCH"]))]);
        } else {
            let g = cx.rng.below(generators.len() as u64) as usize;
            let args = generators[g].command(&mut cx);
            step.push(args);
        }
        count += step.len();
        steps.push(step);
    }
    Ok(steps)
}

/// Runs `steps` on fresh connections; the first mismatch and the step it was in.
fn run_steps(servers: &Servers, steps: &[Step], exclusions: bool, summary: &mut Summary) -> Result<Option<(usize, u64, Mismatch)>, String> {
    let mut pair = Pair::open(servers, exclusions)?;
    let result = (|| {
        for (i, step) in steps.iter().enumerate() {
            for args in step {
                if let Some(m) = pair.send(args)? {
                    return Ok(Some((i, pair.sent - 1, m)));
                }
            }
        }
        Ok(None)
    })();
    summary.add(&pair);
    result
}

/// Drops steps before the last while the last one still differs.
fn minimise(servers: &Servers, steps: &[Step], exclusions: bool) -> Result<Vec<Step>, String> {
    let (last, prefix) = steps.split_last().expect("a failing step");
    let mut prefix = prefix.to_vec();
    let started = Instant::now();
    let mut trials = 0;
    let fails = |prefix: &[Step]| -> Result<bool, String> {
        let mut candidate = prefix.to_vec();
        candidate.push(last.clone());
        let mut ignored = Summary::default();
        Ok(matches!(run_steps(servers, &candidate, exclusions, &mut ignored)?, Some((i, _, _)) if i == prefix.len()))
    };
    let mut chunk = prefix.len().div_ceil(2).max(1);
    while !prefix.is_empty() {
        let mut i = 0;
        while i < prefix.len() {
            if trials >= 400 || started.elapsed() > Duration::from_secs(60) {
                return Ok(with_last(prefix, last));
            }
            let mut candidate = prefix.clone();
            candidate.drain(i..(i + chunk).min(prefix.len()));
            trials += 1;
            if fails(&candidate)? {
                prefix = candidate;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    Ok(with_last(prefix, last))
}

fn with_last(mut prefix: Vec<Step>, last: &Step) -> Vec<Step> {
    prefix.push(last.clone());
    prefix
}

fn describe(where_: &str, m: &Mismatch) -> String {
    let mut s = format!("MISMATCH {where_}: {}\n", show_command(&m.command));
    let _ = writeln!(s, "  redis:   {}", show_reply(&m.redis));
    let _ = writeln!(s, "  crowndb: {}", show_reply(&m.crowndb));
    if !m.history.is_empty() {
        let _ = writeln!(s, "  preceding commands (redis's replies):");
        for h in &m.history {
            let _ = writeln!(s, "    {h}");
        }
    }
    s
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Runs the edge cases and the generated seeds; the mismatches are in the summary.
pub fn run(config: &Config) -> Result<Summary, String> {
    let started = Instant::now();
    let mut servers = Servers::start(&config.redis_bin, &config.crowndb_bin)?;
    let mut summary = Summary::default();
    if config.edge_cases {
        let (label, text) = match &config.edge_file {
            Some(p) => (p.display().to_string(), std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))?),
            None => ("differential/edge_cases.txt".to_string(), edge::BUILTIN.to_string()),
        };
        let sections = edge::parse(&text)?;
        for section in &sections {
            let mut pair = Pair::open(&servers, config.exclusions)?;
            for case in &section.cases {
                if let Some(id) = &case.known {
                    let e = exclusions::by_id(id).ok_or_else(|| format!("{label} line {}: no exclusion named {id:?}", case.line))?;
                    if config.exclusions {
                        *summary.skipped.entry(e.id).or_default() += 1;
                        continue;
                    }
                }
                summary.edge_cases += 1;
                if let Some(m) = pair.send(&case.args)? {
                    let report = describe(&format!("{label} line {}, section {:?}", case.line, section.name), &m);
                    if config.progress {
                        print!("{report}");
                    }
                    summary.mismatches.push(report);
                }
            }
            summary.add(&pair);
            servers.check_alive()?;
        }
        if config.progress {
            println!("edge cases: {} sent, {} mismatches so far", summary.edge_cases, summary.mismatches.len());
        }
    }
    for i in 0..config.seeds {
        // Per seed: the absolute deadlines generated must stay in the future for the whole run.
        let now = now_secs();
        let seed = config.seed.wrapping_add(i);
        let seed_started = Instant::now();
        let steps = generate(seed, config.commands, &config.types, now)?;
        let found = run_steps(&servers, &steps, config.exclusions, &mut summary)?;
        servers.check_alive()?;
        summary.seeds += 1;
        if let Some((step, index, m)) = found {
            let mut report = describe(&format!("seed {seed}, command #{index}"), &m);
            if config.minimise {
                let minimal = minimise(&servers, &steps[..=step], config.exclusions)?;
                let _ = writeln!(report, "  minimised ({} steps, on flushed stores, RESP2 first):", minimal.len());
                for args in minimal.iter().flatten() {
                    let _ = writeln!(report, "    {}", show_command(args));
                }
            }
            let _ = writeln!(
                report,
                "  reproduce: crowndb-torture differential --seed {seed} --seeds 1 --commands {} --types {}",
                config.commands,
                config.types.join(",")
            );
            if config.progress {
                print!("{report}");
            }
            summary.mismatches.push(report);
        } else if config.progress {
            println!("seed {seed}: {} commands, same replies ({:.1} s)", config.commands, seed_started.elapsed().as_secs_f64());
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}
