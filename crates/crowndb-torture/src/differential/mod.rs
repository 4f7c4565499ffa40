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
    /// The commands the last EXEC ran (for the SPOP check after it).
    exec_args: Vec<Args>,
    history: VecDeque<String>,
    sent: u64,
    /// A second connection to Redis, for the exclusions that look at a key's value; `None`
    /// when exclusions are off.
    peek: Option<Conn>,
    skipped: BTreeMap<&'static str, u64>,
    /// `DIFFERENTIAL_TRACE` set: every command and Redis's reply on stderr.
    trace: bool,
}

const HISTORY: usize = 8;

/// Redis 7.0's defaults of the limits `CONFIG SET` may change during a run.
const DEFAULT_LIMITS: &[(&str, &str)] =
    &[("hash-max-listpack-entries", "128"), ("hash-max-listpack-value", "64"), ("set-max-intset-entries", "512")];

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
            exec_args: Vec::new(),
            history: VecDeque::new(),
            sent: 0,
            peek: if exclusions { Some(connect(&servers.redis_addr)?) } else { None },
            skipped: BTreeMap::new(),
            trace: std::env::var_os("DIFFERENTIAL_TRACE").is_some(),
        };
        for (name, conn) in [("redis-server", &mut pair.redis), ("crowndb", &mut pair.crowndb)] {
            let r = conn.call(&[a("FLUSHALL")]).map_err(|e| format!("FLUSHALL on {name}: {e}"))?;
            if !r.is_simple("OK") {
                return Err(format!("FLUSHALL on {name}: {}", show_reply(&r)));
            }
            // The encoding limits a run may have changed (gen/hashes.rs, gen/sets.rs), back to
            // Redis's defaults; a server without them refuses, which is no matter here.
            for (param, value) in DEFAULT_LIMITS {
                conn.call(&[a("CONFIG"), a("SET"), a(param), a(value)]).map_err(|e| format!("CONFIG SET on {name}: {e}"))?;
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
        let mut peek = exclusions::Peek { conn, queued: &self.queued_args, in_multi: self.in_multi };
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
                self.exec_args = std::mem::take(&mut self.queued_args);
            }
            "MULTI" if !self.in_multi && r.is_simple("OK") && c.is_simple("OK") => {
                self.in_multi = true;
                self.queued.clear();
                self.queued_args.clear();
            }
            _ => {}
        }
        let mut ok = same(&norm, &r, &c);
        let (mut r, mut c) = (r, c);
        let mut note = "";
        if ok && !self.in_multi && !r.is_error() {
            if norm == Norm::Random {
                if let Some((rp, cp)) = self.random_check(args, &r, &c)? {
                    (r, c, ok) = (rp, cp, false);
                }
                note = if name == "SPOP" { " (SPOP: both sets made the same again)" } else { "" };
            } else if let (Norm::Exec(_), Kind::Array(Some(rs)), Kind::Array(Some(cs))) = (&norm, &r.kind, &c.kind) {
                // A queued SPOP popped different members on each server: as outside MULTI.
                let spops: Vec<(Args, Reply, Reply)> = self
                    .exec_args
                    .iter()
                    .zip(rs.iter().zip(cs))
                    .filter(|(q, (x, y))| name_of(q) == "SPOP" && !x.is_error() && !y.is_error())
                    .map(|(q, (x, y))| (q.clone(), x.clone(), y.clone()))
                    .collect();
                for (q, x, y) in spops {
                    if let Some((rp, cp)) = self.random_check(&q, &x, &y)? {
                        (r, c, ok) = (rp, cp, false);
                        break;
                    }
                    note = " (SPOP: both sets made the same again)";
                }
            }
        }
        let mut line = format!("{} -> {}{note}", show_command(args), show_reply(&r));
        if !ok {
            let _ = write!(line, " (crowndb: {})", show_reply(&c));
        }
        let mismatch =
            (!ok).then(|| Mismatch { command: args.to_vec(), redis: r, crowndb: c, history: self.history.iter().cloned().collect() });
        if self.trace {
            eprintln!("{line}");
        }
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

    /// After a random pick both servers answered alike in shape: checks each server's picks
    /// against its own collection, and after SPOP puts both sets in the same, deterministic
    /// state. `Some` (the two replies to report, a description in place of the one at fault)
    /// if a check fails.
    fn random_check(&mut self, args: &[Vec<u8>], r: &Reply, c: &Reply) -> Result<Option<(Reply, Reply)>, String> {
        let name = name_of(args);
        let key = args[1].clone();
        let distinct = args.get(2).and_then(|n| std::str::from_utf8(n).ok()?.parse::<i64>().ok()).is_none_or(|n| n >= 0);
        let withvalues = name == "HRANDFIELD" && args.len() == 4;
        let mut popped = 0;
        for (server, reply) in [(0, r), (1, c)] {
            let picks = random_picks(reply, withvalues);
            let conn = if server == 0 { &mut self.redis } else { &mut self.crowndb };
            let fail = |what: String| {
                let bad = Reply::synthetic(Kind::Error(what.into_bytes()));
                Ok(Some(if server == 0 { (bad, c.clone()) } else { (r.clone(), bad) }))
            };
            let mut unique: Vec<&[u8]> = picks.iter().map(|(m, _)| m.as_slice()).collect();
            unique.sort();
            unique.dedup();
            if distinct && unique.len() != picks.len() {
                return fail(format!("{name} gave a member twice: {}", show_reply(reply)));
            }
            if unique.is_empty() {
                continue;
            }
            let mut check = vec![a(match name.as_str() {
                "SRANDMEMBER" => "SMISMEMBER",
                "HRANDFIELD" => "HMGET",
                _ => "SADD", // SPOP: the popped members, back (all must be new)
            })];
            check.push(key.clone());
            let fields: Vec<Vec<u8>> = if name == "HRANDFIELD" {
                picks.iter().map(|(m, _)| m.clone()).collect()
            } else {
                unique.iter().map(|m| m.to_vec()).collect()
            };
            check.extend(fields.iter().cloned());
            let answer = conn.call(&check).map_err(|e| format!("{}: {e}", show_command(&check)))?;
            let good = match (name.as_str(), &answer.kind) {
                ("SRANDMEMBER", Kind::Array(Some(flags))) => flags.iter().all(|f| f.kind == Kind::Int(1)),
                ("HRANDFIELD", Kind::Array(Some(values))) => {
                    values.len() == picks.len()
                        && values.iter().zip(&picks).all(|(v, (_, want))| match (&v.kind, want) {
                            (Kind::Bulk(Some(v)), Some(want)) => v == want,
                            (Kind::Bulk(Some(_)), None) => true,
                            _ => false,
                        })
                }
                (_, Kind::Int(n)) => *n == unique.len() as i64,
                _ => false,
            };
            if !good {
                return fail(format!(
                    "{name} gave what is not in the collection: {}; {} -> {}",
                    show_reply(reply),
                    show_command(&check),
                    show_reply(&answer)
                ));
            }
            popped = unique.len();
        }
        if name != "SPOP" || popped == 0 {
            return Ok(None);
        }
        // Both sets are as before the SPOP again: the same? Then both drop the same members.
        let members = [a("SMEMBERS"), key.clone()];
        let (rm, cm) = self.call_both(&members)?;
        self.sent -= 1;
        if !same(&Norm::Unordered, &rm, &cm) {
            return Ok(Some((rm, cm)));
        }
        let Kind::Array(Some(all)) = &rm.kind else { return Ok(Some((rm, cm))) };
        let mut all: Vec<Vec<u8>> = all.iter().filter_map(|m| m.bulk().map(<[u8]>::to_vec)).collect();
        all.sort();
        let mut srem = vec![a("SREM"), key];
        srem.extend(all.into_iter().take(popped));
        let (rr, cr) = self.call_both(&srem)?;
        self.sent -= 1;
        Ok((rr.raw != cr.raw || rr.kind != Kind::Int(popped as i64)).then_some((rr, cr)))
    }
}

/// The members (with their values, for HRANDFIELD ... WITHVALUES) a random pick returned.
fn random_picks(reply: &Reply, withvalues: bool) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    match &reply.kind {
        Kind::Bulk(Some(m)) => vec![(m.clone(), None)],
        Kind::Array(Some(items)) if withvalues && items.iter().all(|i| matches!(i.kind, Kind::Array(_))) => items
            .iter()
            .filter_map(|i| match &i.kind {
                Kind::Array(Some(p)) if p.len() == 2 => Some((p[0].bulk()?.to_vec(), Some(p[1].bulk()?.to_vec()))),
                _ => None,
            })
            .collect(),
        Kind::Array(Some(items)) if withvalues => {
            items.chunks(2).filter_map(|p| Some((p.first()?.bulk()?.to_vec(), Some(p.get(1)?.bulk()?.to_vec())))).collect()
        }
        Kind::Array(Some(items)) => items.iter().filter_map(|i| Some((i.bulk()?.to_vec(), None))).collect(),
        _ => Vec::new(),
    }
}

/// A whole walk: SCAN's cursor is its first argument, HSCAN's and SSCAN's their second, and
/// HSCAN's pages hold field / value pairs (kept together).
fn walk(conn: &mut Conn, args: &[Vec<u8>]) -> std::io::Result<Reply> {
    let name = name_of(args);
    let at = if name == "SCAN" { 1 } else { 2 };
    let pairs = name == "HSCAN";
    let mut args = args.to_vec();
    let mut keys: Vec<Reply> = Vec::new();
    for _ in 0..100_000 {
        let reply = conn.call(&args)?;
        let Kind::Array(Some(parts)) = &reply.kind else { return Ok(reply) };
        let (Some(cursor), Some(Kind::Array(Some(page)))) = (parts.first().and_then(|c| c.bulk()), parts.get(1).map(|p| &p.kind)) else {
            return Ok(reply);
        };
        if pairs {
            if page.len() % 2 != 0 {
                return Ok(reply);
            }
            for p in page.chunks(2) {
                let raw = [p[0].raw.as_slice(), p[1].raw.as_slice()].concat();
                keys.push(Reply { raw, kind: Kind::Array(Some(p.to_vec())) });
            }
        } else {
            keys.extend(page.iter().cloned());
        }
        if cursor == b"0" {
            keys.sort_by(|x, y| x.raw.cmp(&y.raw));
            keys.dedup_by(|x, y| x.raw == y.raw);
            let mut raw = format!("(whole SCAN walk) *{}\r\n", keys.len()).into_bytes();
            for k in &keys {
                raw.extend_from_slice(&k.raw);
            }
            return Ok(Reply { raw, kind: Kind::Array(Some(keys)) });
        }
        args[at] = cursor.to_vec();
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
    if types.iter().any(|t| t == "hashes") {
        cx.extra_keys.extend(gen::HASH_KEYS);
    }
    if types.iter().any(|t| t == "sets") {
        cx.extra_keys.extend(gen::SET_KEYS);
    }
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
                // After a queued SPOP the servers' sets differ until the EXEC is over (and
                // the driver has made them the same again): nothing else reads them before.
                let spop = name_of(&args) == "SPOP";
                step.push(args);
                if spop {
                    break;
                }
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
