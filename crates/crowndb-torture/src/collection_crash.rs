//! Crash torture of hashes and sets through the server: `crowndb serve --durability always`
//! is killed with SIGKILL while client threads pipeline bursts of HSET (one to five fields per
//! command), HDEL, SADD (several members) and SREM, each client on a hash and a set of its
//! own. A reply acknowledges a command; the commands of the burst still unanswered are in
//! flight. After the kill the store is opened directly (paranoid) and each client's hash and
//! set must equal its acknowledged state followed by some prefix of the commands in flight
//! (commands on one connection apply in order): nothing acknowledged lost, no command half
//! applied (a five-field HSET present with two fields would match no prefix). Members are
//! drawn from a range wide enough for the collections to become paged and split.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crowndb::{Collection, CollectionType, Db};

use crate::rng::Rng;
use crate::serve::{connect_retrying, kill_cycle, open_paranoid, CycleClient};

/// One command of the torture.
#[derive(Debug, Clone)]
enum Command {
    HSet(Vec<(String, String)>),
    HDel(Vec<String>),
    SAdd(Vec<String>),
    SRem(Vec<String>),
}

/// A client's collections as the server acknowledged them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct State {
    hash: BTreeMap<String, String>,
    set: BTreeSet<String>,
}

impl State {
    fn apply(&mut self, c: &Command) {
        match c {
            Command::HSet(fields) => self.hash.extend(fields.iter().cloned()),
            Command::HDel(fields) => fields.iter().for_each(|f| {
                self.hash.remove(f);
            }),
            Command::SAdd(members) => self.set.extend(members.iter().cloned()),
            Command::SRem(members) => members.iter().for_each(|m| {
                self.set.remove(m);
            }),
        }
    }
}

#[derive(Debug, Default, Clone)]
struct ClientLog {
    acked: State,
    in_flight: Vec<Command>,
    acks: u64,
}

/// Figures of a collection torture run.
#[derive(Debug, Default)]
pub struct CollectionTortureReport {
    pub cycles: u64,
    pub acknowledged: u64,
    pub members_verified: u64,
    pub in_flight_applied: u64,
    pub in_flight_absent: u64,
    pub elapsed: Duration,
}

impl std::fmt::Display for CollectionTortureReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} server kills in {:.1} s: {} hash and set commands acknowledged, {} members verified, commands in flight at the \
             kill: {} applied, {} absent; 0 lost, 0 half applied",
            self.cycles,
            self.elapsed.as_secs_f64(),
            self.acknowledged,
            self.members_verified,
            self.in_flight_applied,
            self.in_flight_absent
        )
    }
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

fn request(client: u32, c: &Command) -> Vec<u8> {
    let (hash, set) = (format!("h{client}"), format!("s{client}"));
    let mut args: Vec<&str> = Vec::new();
    match c {
        Command::HSet(fields) => {
            args.extend(["HSET", &hash]);
            for (f, v) in fields {
                args.extend([f.as_str(), v.as_str()]);
            }
        }
        Command::HDel(fields) => {
            args.extend(["HDEL", &hash]);
            args.extend(fields.iter().map(String::as_str));
        }
        Command::SAdd(members) => {
            args.extend(["SADD", &set]);
            args.extend(members.iter().map(String::as_str));
        }
        Command::SRem(members) => {
            args.extend(["SREM", &set]);
            args.extend(members.iter().map(String::as_str));
        }
    }
    resp(&args)
}

fn random_command(rng: &mut Rng, op: u64) -> Command {
    let n = rng.range(1, 5) as usize;
    let members = |rng: &mut Rng| (0..n).map(|_| format!("m{}", rng.below(3000))).collect::<Vec<_>>();
    match rng.below(10) {
        0..=3 => Command::HSet(
            (0..n).map(|_| (format!("f{}", rng.below(3000)), format!("v{op}-{}", "x".repeat(rng.below(80) as usize)))).collect(),
        ),
        4 => Command::HDel(members(rng).into_iter().map(|m| m.replace('m', "f")).collect()),
        5..=8 => Command::SAdd(members(rng)),
        _ => Command::SRem(members(rng)),
    }
}

fn client(port: u16, client: u32, seed: u64, stop: Arc<AtomicBool>, mut log: ClientLog) -> ClientLog {
    let Some(stream) = connect_retrying(port, &stop) else { return log };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = stream.try_clone().expect("clone a TCP stream");
    let mut reader = BufReader::new(stream);
    let mut rng = Rng::new(seed);
    let mut line = String::new();
    let mut op = seed;
    'bursts: while !stop.load(Ordering::Relaxed) {
        let burst = rng.range(1, 8) as usize;
        let mut bytes = Vec::new();
        while log.in_flight.len() < burst {
            op += 1;
            let c = random_command(&mut rng, op);
            bytes.extend_from_slice(&request(client, &c));
            log.in_flight.push(c);
        }
        if writer.write_all(&bytes).is_err() {
            break;
        }
        while !log.in_flight.is_empty() {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(n) if n > 0 => {}
                _ => break 'bursts,
            }
            let reply = line.trim_end();
            assert!(reply.starts_with(':'), "client {client}: unexpected reply {reply:?} to a hash or set command");
            let c = log.in_flight.remove(0);
            log.acked.apply(&c);
            log.acks += 1;
        }
    }
    log
}

fn read_state(db: &Db, client: u32) -> Result<State, String> {
    let (hash, set) = (format!("h{client}"), format!("s{client}"));
    db.read(|view| {
        let mut state = State::default();
        if let Some(mut h) = Collection::open(view, hash.as_bytes(), CollectionType::Hash)? {
            for (f, v) in h.all(view)? {
                state.hash.insert(String::from_utf8_lossy(&f).into_owned(), String::from_utf8_lossy(&v).into_owned());
            }
        }
        if let Some(mut s) = Collection::open(view, set.as_bytes(), CollectionType::Set)? {
            for (m, _) in s.all(view)? {
                state.set.insert(String::from_utf8_lossy(&m).into_owned());
            }
        }
        Ok(state)
    })
    .map_err(|e| format!("reading client {client}'s collections: {e}"))
}

/// Runs `cycles` server kills with `clients` client threads; `Err` describes the first violation.
pub fn run_collection_torture(bin: &Path, dir: &Path, cycles: u64, clients: u32, seed: u64) -> Result<CollectionTortureReport, String> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let store = dir.join("store");
    let server_log = dir.join("server.stderr");
    let mut rng = Rng::new(seed);
    let mut logs: Vec<ClientLog> = vec![ClientLog::default(); clients as usize];
    let mut report = CollectionTortureReport::default();
    for cycle in 0..cycles {
        let clients: Vec<CycleClient<ClientLog>> = logs
            .drain(..)
            .enumerate()
            .map(|(i, log)| {
                let seed = rng.next_u64();
                Box::new(move |port, stop| client(port, i as u32, seed, stop, log)) as CycleClient<ClientLog>
            })
            .collect();
        let run_for = Duration::from_millis(rng.range(200, 800));
        logs = kill_cycle(bin, &store, &server_log, cycle, run_for, clients)?;
        let db = open_paranoid(&store, cycle)?;
        for (i, log) in logs.iter_mut().enumerate() {
            let found = read_state(&db, i as u32)?;
            let mut candidate = log.acked.clone();
            let mut applied = 0;
            let mut matched = candidate == found;
            for c in &log.in_flight {
                if matched {
                    break;
                }
                candidate.apply(c);
                applied += 1;
                matched = candidate == found;
            }
            if !matched {
                return Err(format!(
                    "cycle {cycle}: client {i}: the hash and set match no prefix of the {} commands in flight after the acknowledged \
                     state ({} acknowledged fields, {} members; found {} fields, {} members)",
                    log.in_flight.len(),
                    log.acked.hash.len(),
                    log.acked.set.len(),
                    found.hash.len(),
                    found.set.len()
                ));
            }
            report.in_flight_applied += applied;
            report.in_flight_absent += log.in_flight.len() as u64 - applied;
            report.members_verified += (found.hash.len() + found.set.len()) as u64;
            report.acknowledged += std::mem::take(&mut log.acks);
            log.acked = found;
            log.in_flight.clear();
        }
        db.close().map_err(|e| format!("cycle {cycle}: closing: {e}"))?;
        report.cycles += 1;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
