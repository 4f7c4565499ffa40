//! Crash torture through the server: `crowndb serve --durability always` is killed with
//! SIGKILL while client threads send memcached `set`s and `delete`s, each client on keys of
//! its own, one request at a time. The clients are this process, so their logs are in
//! memory: a `STORED` or `DELETED`/`NOT_FOUND` reply is an acknowledgement, the one request
//! sent without a reply is in flight. After the kill the store is opened directly with
//! `paranoid_open` and every acknowledged write must be there (the request in flight: old or
//! new value, nothing else); then the next server starts on the same directory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crowndb::{Db, Options};

use crate::rng::Rng;
use crate::values::ValueId;

/// One client's view: each key's acknowledged value (`None`: deleted), and the write in flight.
#[derive(Debug, Default, Clone)]
struct ClientLog {
    acked: BTreeMap<String, Option<ValueId>>,
    in_flight: Option<(String, Option<ValueId>)>,
    acks: u64,
}

/// Figures of a server torture run.
#[derive(Debug, Default)]
pub struct ServerTortureReport {
    pub cycles: u64,
    pub acknowledged: u64,
    pub keys_verified: u64,
    pub in_flight_applied: u64,
    pub in_flight_absent: u64,
    pub elapsed: Duration,
}

impl std::fmt::Display for ServerTortureReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} server kills in {:.1} s: {} memcached writes acknowledged, {} key checks, requests in flight at the kill: \
             {} applied, {} absent; 0 failures",
            self.cycles,
            self.elapsed.as_secs_f64(),
            self.acknowledged,
            self.keys_verified,
            self.in_flight_applied,
            self.in_flight_absent
        )
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn start_server(bin: &Path, store: &Path, port: u16, log: &Path) -> Result<Child, String> {
    let stderr = std::fs::File::create(log).map_err(|e| e.to_string())?;
    Command::new(bin)
        .arg("serve")
        .arg("--data-dir")
        .arg(store)
        .args(["--memcached-addr", &format!("127.0.0.1:{port}"), "--redis-addr", "off", "--durability", "always", "--threads", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("starting {} serve: {e}", bin.display()))
}

/// One client: sets and deletes on `c<client>k<n>` keys until the connection breaks.
fn client(port: u16, client: u32, seed: u64, first_op: u64, stop: Arc<AtomicBool>, mut log: ClientLog) -> ClientLog {
    let deadline = Instant::now() + Duration::from_secs(10);
    let stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline && !stop.load(Ordering::Relaxed) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return log,
        }
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = stream.try_clone().expect("clone a TCP stream");
    let mut reader = BufReader::new(stream);
    let mut rng = Rng::new(seed);
    let mut line = String::new();
    for op in first_op.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let key = format!("c{client}k{}", rng.below(50));
        let (request, new) = if rng.chance(80) {
            let v = ValueId { op, slot: client, len: rng.range(0, 3000) };
            let mut req = format!("set {key} 0 0 {}\r\n", v.len).into_bytes();
            req.extend_from_slice(&v.bytes());
            req.extend_from_slice(b"\r\n");
            (req, Some(v))
        } else {
            (format!("delete {key}\r\n").into_bytes(), None)
        };
        log.in_flight = Some((key.clone(), new));
        if writer.write_all(&request).is_err() {
            break;
        }
        line.clear();
        match reader.read_line(&mut line) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
        match line.trim_end() {
            "STORED" | "DELETED" | "NOT_FOUND" => {
                log.acked.insert(key, new);
                log.in_flight = None;
                log.acks += 1;
            }
            other => panic!("client {client}: unexpected reply {other:?} to a write"),
        }
    }
    log
}

/// Runs `cycles` server kills with `clients` client threads; `Err` describes the first violation.
pub fn run_server_torture(bin: &Path, dir: &Path, cycles: u64, clients: u32, seed: u64) -> Result<ServerTortureReport, String> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let store = dir.join("store");
    let server_log = dir.join("server.stderr");
    let mut rng = Rng::new(seed);
    let mut logs: Vec<ClientLog> = vec![ClientLog::default(); clients as usize];
    let mut report = ServerTortureReport::default();
    let mut next_op = 1u64;
    for cycle in 0..cycles {
        let port = free_port()?;
        let mut server = start_server(bin, &store, port, &server_log)?;
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = logs
            .drain(..)
            .enumerate()
            .map(|(i, log)| {
                let stop = stop.clone();
                let (seed, first) = (rng.next_u64(), next_op + i as u64 * 1_000_000);
                std::thread::spawn(move || client(port, i as u32, seed, first, stop, log))
            })
            .collect();
        next_op += clients as u64 * 1_000_000;
        std::thread::sleep(Duration::from_millis(rng.range(150, 700)));
        if let Some(status) = server.try_wait().map_err(|e| e.to_string())? {
            stop.store(true, Ordering::Relaxed);
            let text = std::fs::read_to_string(&server_log).unwrap_or_default();
            return Err(format!("cycle {cycle}: the server exited by itself ({status}): {text}"));
        }
        unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGKILL) };
        let _ = server.wait();
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            logs.push(h.join().map_err(|_| format!("cycle {cycle}: a client thread panicked (see its message above)"))?);
        }

        let db = Db::open(&store, Options { paranoid_open: true, ..Options::default() })
            .map_err(|e| format!("cycle {cycle}: reopening the server's store (paranoid): {e}"))?;
        for log in logs.iter_mut() {
            for (key, expected) in &log.acked {
                if log.in_flight.as_ref().is_some_and(|(k, _)| k == key) {
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
            if let Some((key, new)) = log.in_flight.take() {
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
