//! Crash torture through the server: `crowndb serve --durability always` is killed with
//! SIGKILL while client threads send writes over the memcached protocol (`set`, `delete`) or
//! the Redis protocol (`SET`, `DEL`), each client on keys of its own, in pipelined bursts of
//! 1–8 requests on distinct keys. The clients are this process, so their logs are in memory:
//! a `STORED`/`DELETED`/`NOT_FOUND` or `+OK`/`:n` reply is an acknowledgement; the requests of
//! the burst sent without a reply are in flight. With the Redis protocol, `redis-benchmark`
//! (when installed) adds pipelined load on other keys. After the kill the store is opened
//! directly with `paranoid_open` and every acknowledged write must be there (a request in
//! flight: old or new value, nothing else); then the next server starts on the same directory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crowndb::{Db, Options};

use crate::rng::Rng;
use crate::serve::{connect_retrying, free_port, kill_server, start_durable_server};
use crate::values::ValueId;

/// Which protocol the clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Memcached,
    Redis,
}

impl Protocol {
    pub fn parse(name: &str) -> Result<Protocol, String> {
        match name {
            "memcached" => Ok(Protocol::Memcached),
            "redis" => Ok(Protocol::Redis),
            other => Err(format!("--protocol {other:?}: use memcached or redis")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Protocol::Memcached => "memcached",
            Protocol::Redis => "Redis",
        }
    }

    /// The request writing `value` (or deleting, for `None`) under `key`.
    fn request(self, key: &str, value: Option<ValueId>) -> Vec<u8> {
        match (self, value) {
            (Protocol::Memcached, Some(v)) => {
                let mut req = format!("set {key} 0 0 {}\r\n", v.len).into_bytes();
                req.extend_from_slice(&v.bytes());
                req.extend_from_slice(b"\r\n");
                req
            }
            (Protocol::Memcached, None) => format!("delete {key}\r\n").into_bytes(),
            (Protocol::Redis, Some(v)) => {
                let mut req = format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n", key.len(), v.len).into_bytes();
                req.extend_from_slice(&v.bytes());
                req.extend_from_slice(b"\r\n");
                req
            }
            (Protocol::Redis, None) => format!("*2\r\n$3\r\nDEL\r\n${}\r\n{key}\r\n", key.len()).into_bytes(),
        }
    }

    /// Whether a reply line acknowledges a write.
    fn acknowledges(self, line: &str) -> bool {
        match self {
            Protocol::Memcached => matches!(line, "STORED" | "DELETED" | "NOT_FOUND"),
            Protocol::Redis => line == "+OK" || line == ":0" || line == ":1",
        }
    }
}

/// One client's view: each key's acknowledged value (`None`: deleted), and the writes in
/// flight (distinct keys, sent and not answered when the server died).
#[derive(Debug, Default, Clone)]
struct ClientLog {
    acked: BTreeMap<String, Option<ValueId>>,
    in_flight: Vec<(String, Option<ValueId>)>,
    acks: u64,
}

/// Figures of a server torture run.
#[derive(Debug, Default)]
pub struct ServerTortureReport {
    pub protocol: Option<&'static str>,
    pub cycles: u64,
    pub acknowledged: u64,
    pub keys_verified: u64,
    pub in_flight_applied: u64,
    pub in_flight_absent: u64,
    /// Cycles during which redis-benchmark loaded the server too.
    pub benchmark_cycles: u64,
    pub elapsed: Duration,
}

impl std::fmt::Display for ServerTortureReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} server kills in {:.1} s: {} {} writes acknowledged, {} key checks, requests in flight at the kill: \
             {} applied, {} absent; redis-benchmark loading the server at {} kills; 0 failures",
            self.cycles,
            self.elapsed.as_secs_f64(),
            self.acknowledged,
            self.protocol.unwrap_or("?"),
            self.keys_verified,
            self.in_flight_applied,
            self.in_flight_absent,
            self.benchmark_cycles
        )
    }
}

fn start_server(bin: &Path, store: &Path, protocol: Protocol, port: u16, log: &Path) -> Result<Child, String> {
    let listen = format!("127.0.0.1:{port}");
    match protocol {
        Protocol::Memcached => start_durable_server(bin, store, &listen, "off", log),
        Protocol::Redis => start_durable_server(bin, store, "off", &listen, log),
    }
}

/// `redis-benchmark` pipelining SETs on its own keys (`key:...`), if it is installed: load the
/// verifying clients compete with. Its writes are not verified (it keeps no log).
fn start_redis_benchmark(port: u16) -> Option<Child> {
    Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "set",
            "-P",
            "16",
            "-c",
            "8",
            "-n",
            "100000000",
            "-r",
            "100000",
            "-d",
            "64",
            "-q",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// What a client thread needs.
struct ClientSpec {
    protocol: Protocol,
    port: u16,
    client: u32,
    seed: u64,
    first_op: u64,
    stop: Arc<AtomicBool>,
}

/// One client: bursts of writes on `c<client>k<n>` keys until the connection breaks.
fn client(spec: ClientSpec, mut log: ClientLog) -> ClientLog {
    let ClientSpec { protocol, port, client, seed, first_op, stop } = spec;
    let Some(stream) = connect_retrying(port, &stop) else { return log };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = stream.try_clone().expect("clone a TCP stream");
    let mut reader = BufReader::new(stream);
    let mut rng = Rng::new(seed);
    let mut line = String::new();
    let mut op = first_op;
    'bursts: while !stop.load(Ordering::Relaxed) {
        let burst = rng.range(1, 8) as usize;
        let mut request = Vec::new();
        while log.in_flight.len() < burst {
            let key = format!("c{client}k{}", rng.below(50));
            if log.in_flight.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let new = rng.chance(80).then(|| ValueId { op, slot: client, len: rng.range(0, 3000) });
            op += 1;
            request.extend_from_slice(&protocol.request(&key, new));
            log.in_flight.push((key, new));
        }
        if writer.write_all(&request).is_err() {
            break;
        }
        // Replies come in order: each one acknowledges the oldest request still in flight.
        while !log.in_flight.is_empty() {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(n) if n > 0 => {}
                _ => break 'bursts,
            }
            let reply = line.trim_end();
            assert!(protocol.acknowledges(reply), "client {client}: unexpected reply {reply:?} to a write");
            let (key, new) = log.in_flight.remove(0);
            log.acked.insert(key, new);
            log.acks += 1;
        }
    }
    log
}

/// Runs `cycles` server kills with `clients` client threads; `Err` describes the first violation.
pub fn run_server_torture(
    bin: &Path,
    dir: &Path,
    protocol: Protocol,
    cycles: u64,
    clients: u32,
    seed: u64,
) -> Result<ServerTortureReport, String> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let store = dir.join("store");
    let server_log = dir.join("server.stderr");
    let mut rng = Rng::new(seed);
    let mut logs: Vec<ClientLog> = vec![ClientLog::default(); clients as usize];
    let mut report = ServerTortureReport { protocol: Some(protocol.name()), ..ServerTortureReport::default() };
    let mut next_op = 1u64;
    for cycle in 0..cycles {
        let port = free_port()?;
        let mut server = start_server(bin, &store, protocol, port, &server_log)?;
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = logs
            .drain(..)
            .enumerate()
            .map(|(i, log)| {
                let stop = stop.clone();
                let (seed, first) = (rng.next_u64(), next_op + i as u64 * 1_000_000);
                let spec = ClientSpec { protocol, port, client: i as u32, seed, first_op: first, stop };
                std::thread::spawn(move || client(spec, log))
            })
            .collect();
        next_op += clients as u64 * 1_000_000;
        let mut benchmark = None;
        if protocol == Protocol::Redis && connect_retrying(port, &stop).is_some() {
            benchmark = start_redis_benchmark(port);
        }
        std::thread::sleep(Duration::from_millis(rng.range(150, 700)));
        // redis-benchmark still running just before the kill: it loaded the server this cycle.
        if benchmark.as_mut().is_some_and(|b| b.try_wait().ok().flatten().is_none()) {
            report.benchmark_cycles += 1;
        }
        kill_server(&mut server, &server_log, cycle, &stop)?;
        if let Some(mut benchmark) = benchmark.take() {
            let _ = benchmark.kill();
            let _ = benchmark.wait();
        }
        for h in handles {
            logs.push(h.join().map_err(|_| format!("cycle {cycle}: a client thread panicked (see its message above)"))?);
        }

        let db = Db::open(&store, Options { paranoid_open: true, ..Options::default() })
            .map_err(|e| format!("cycle {cycle}: reopening the server's store (paranoid): {e}"))?;
        for log in logs.iter_mut() {
            for (key, expected) in &log.acked {
                if log.in_flight.iter().any(|(k, _)| k == key) {
                    continue;
                }
                let found = db.get(key.as_bytes()).map_err(|e| format!("cycle {cycle}: get {key}: {e}"))?;
                if found != expected.map(|v| v.bytes()) {
                    return Err(format!(
                        "cycle {cycle}: key {key}: acknowledged {expected:?}, found {}",
                        found.as_deref().map_or("absent".into(), ValueId::describe)
                    ));
                }
                report.keys_verified += 1;
            }
            for (key, new) in std::mem::take(&mut log.in_flight) {
                let old = log.acked.get(&key).copied().flatten();
                let found = db.get(key.as_bytes()).map_err(|e| format!("cycle {cycle}: get {key}: {e}"))?;
                let (is_old, is_new) = (found == old.map(|v| v.bytes()), found == new.map(|v| v.bytes()));
                if !is_old && !is_new {
                    return Err(format!(
                        "cycle {cycle}: key {key}, in flight: found {}, neither the old {old:?} nor the new {new:?}",
                        found.as_deref().map_or("absent".into(), ValueId::describe)
                    ));
                }
                if is_new && !is_old {
                    log.acked.insert(key, new);
                    report.in_flight_applied += 1;
                } else if is_old && !is_new {
                    report.in_flight_absent += 1;
                }
            }
            report.acknowledged += std::mem::take(&mut log.acks);
        }
        db.close().map_err(|e| format!("cycle {cycle}: closing: {e}"))?;
        report.cycles += 1;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Where a server torture keeps its files by default.
pub fn default_dir(seed: u64) -> PathBuf {
    std::env::temp_dir().join(format!("crowndb-server-torture-{seed}"))
}
