//! Crash torture of Redis transactions: `crowndb serve --durability always` is killed with
//! SIGKILL while clients send `MULTI`, `SET` of the same keys (a set of its own per client),
//! each to a value tagged with the transaction's number, and `EXEC`, in a loop. After each kill
//! the store is opened directly with `paranoid_open`, and every client's keys must all carry
//! the same tag (never some keys from one transaction and the rest from an earlier one), no
//! older than its last acknowledged EXEC and no newer than the last it sent. Then the next
//! server starts on the same directory.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::serve::{kill_cycle, open_paranoid, CycleClient};

/// What a run did.
#[derive(Debug, Default)]
pub struct ExecCrashReport {
    pub cycles: u64,
    /// EXEC replies received.
    pub acknowledged: u64,
    /// Client key sets checked after kills.
    pub checks: u64,
    /// A transaction in flight at a kill found applied (whole) / absent (whole).
    pub in_flight_applied: u64,
    pub in_flight_absent: u64,
    pub elapsed: Duration,
}

impl std::fmt::Display for ExecCrashReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} server kills in {:.1} s: {} transactions acknowledged, {} key sets checked, transactions in flight at the \
             kill: {} applied whole, {} absent whole; 0 torn",
            self.cycles,
            self.elapsed.as_secs_f64(),
            self.acknowledged,
            self.checks,
            self.in_flight_applied,
            self.in_flight_absent
        )
    }
}

/// One client's history: the last transaction acknowledged and the last one sent.
#[derive(Debug, Default, Clone, Copy)]
struct ClientLog {
    acked: u64,
    sent: u64,
    acks: u64,
}

fn key(client: usize, k: usize) -> String {
    format!("c{client}:k{k}")
}

/// The value of every key of transaction `n`: its tag, then padding so that EXEC takes a while.
fn value(client: usize, n: u64, pad: usize) -> Vec<u8> {
    let mut v = format!("c{client}-t{n}-").into_bytes();
    v.resize(v.len() + pad, b'.');
    v
}

/// The transaction number in a stored value.
fn tag(client: usize, value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    let rest = text.strip_prefix(&format!("c{client}-t"))?;
    rest.split('-').next()?.parse().ok()
}

fn encode(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Sends transactions until the server dies or `stop` is set.
fn client(i: usize, port: u16, keys: usize, pad: usize, stop: Arc<AtomicBool>, mut log: ClientLog) -> Result<ClientLog, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let stream = loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(log);
        }
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("client {i}: the server did not accept connections on port {port} within 10 s: {e}")),
        }
    };
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let names: Vec<String> = (0..keys).map(|k| key(i, k)).collect();
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        let n = log.sent + 1;
        let v = value(i, n, pad);
        let mut request = Vec::new();
        encode(&[b"MULTI"], &mut request);
        for name in &names {
            encode(&[b"SET", name.as_bytes(), &v], &mut request);
        }
        encode(&[b"EXEC"], &mut request);
        log.sent = n;
        if writer.write_all(&request).is_err() {
            return Ok(log);
        }
        // +OK, a +QUEUED per SET, then *keys and a +OK per SET.
        let mut expected = vec!["+OK".to_string()];
        expected.extend((0..keys).map(|_| "+QUEUED".to_string()));
        expected.push(format!("*{keys}"));
        expected.extend((0..keys).map(|_| "+OK".to_string()));
        for want in &expected {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return Ok(log),
                Ok(_) if line.trim_end() == want => {}
                Ok(_) => return Err(format!("client {i}, transaction {n}: expected {want}, got {:?}", line.trim_end())),
            }
        }
        log.acked = n;
        log.acks += 1;
    }
    Ok(log)
}

/// Kills the server `cycles` times under `clients` clients, each sending transactions of
/// `keys` SETs of values of about `pad` bytes, and checks every client's keys after each kill.
pub fn run_exec_crash(
    bin: &Path,
    dir: &Path,
    cycles: u64,
    clients: usize,
    keys: usize,
    pad: usize,
    seed: u64,
) -> Result<ExecCrashReport, String> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let store = dir.join("store");
    let server_log = dir.join("server.stderr");
    let mut rng = Rng::new(seed);
    let mut logs = vec![ClientLog::default(); clients];
    let mut report = ExecCrashReport::default();
    for cycle in 0..cycles {
        let clients: Vec<CycleClient<Result<ClientLog, String>>> = logs
            .drain(..)
            .enumerate()
            .map(|(i, log)| Box::new(move |port, stop| client(i, port, keys, pad, stop, log)) as CycleClient<Result<ClientLog, String>>)
            .collect();
        let run_for = Duration::from_millis(rng.range(150, 600));
        logs = kill_cycle(bin, &store, &server_log, cycle, run_for, clients)?.into_iter().collect::<Result<_, _>>()?;
        let db = open_paranoid(&store, cycle)?;
        for (i, log) in logs.iter_mut().enumerate() {
            let mut tags = Vec::with_capacity(keys);
            for k in 0..keys {
                let found = db.get(key(i, k).as_bytes()).map_err(|e| format!("cycle {cycle}: get {}: {e}", key(i, k)))?;
                tags.push(match found {
                    None => None,
                    Some(v) => Some(tag(i, &v).ok_or_else(|| format!("cycle {cycle}: {} holds a value no client sent", key(i, k)))?),
                });
            }
            if tags.iter().any(|t| *t != tags[0]) {
                return Err(format!(
                    "cycle {cycle}: client {i}'s transaction is torn on disk: its {keys} keys hold transactions {tags:?} \
                     (acknowledged up to {}, sent up to {})",
                    log.acked, log.sent
                ));
            }
            let found = tags[0].unwrap_or(0);
            if found < log.acked || found > log.sent {
                return Err(format!(
                    "cycle {cycle}: client {i}'s keys hold transaction {found}, but EXEC {} was acknowledged and {} was the last sent",
                    log.acked, log.sent
                ));
            }
            if log.sent > log.acked {
                if found == log.sent {
                    report.in_flight_applied += 1;
                } else {
                    report.in_flight_absent += 1;
                }
            }
            // What is on disk now is what the next cycle starts from.
            log.acked = found;
            log.sent = log.sent.max(found);
            report.acknowledged += std::mem::take(&mut log.acks);
            report.checks += 1;
        }
        db.close().map_err(|e| format!("cycle {cycle}: closing the store: {e}"))?;
        report.cycles += 1;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
