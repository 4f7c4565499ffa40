//! (Over 600 lines on purpose: each kind of abusive client and the measuring client sit
//! together, so one run starts them all.)
//!
//! Overload and bad input against `crowndb serve`, measured: thousands of idle connections,
//! clients that pipeline GETs of a large value and never read the replies, garbage senders
//! (random bytes, lines without end, huge declared lengths), half requests left silent, and
//! one correct client doing sets and gets through both protocols and checking every value.
//! The server's resident memory (VmRSS of `/proc/<pid>/status`) is sampled throughout.
//!
//! The server is a child process so that its memory is its own; the clients are threads of
//! this process. The run fails if the correct client gets one wrong or missing answer, if a
//! key stored before the load changed, or if the server's memory grew by more than the bound.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::serve::free_port;
use crate::values::ValueId;

/// What to throw at the server.
#[derive(Debug, Clone)]
pub struct OverloadConfig {
    /// Idle connections held open from before the load to its end (half per protocol).
    pub idle: u64,
    /// Clients that pipeline GETs of the large value and never read (half per protocol).
    pub non_readers: u32,
    /// Threads sending garbage on fresh connections, one after another.
    pub garbage_senders: u32,
    /// Connections left silent after half a request.
    pub half_requests: u32,
    /// How long the load lasts.
    pub duration: Duration,
    /// Size of the value the non-reading clients ask for (at most memcached's 1 MiB).
    pub big_value: usize,
    /// Worker threads of the server.
    pub server_threads: u32,
    /// The run fails if the server's RSS grows more than this above its start.
    pub max_rss_growth: u64,
    pub seed: u64,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        OverloadConfig {
            idle: 10_000,
            non_readers: 16,
            garbage_senders: 4,
            half_requests: 200,
            duration: Duration::from_secs(20),
            big_value: 1 << 20,
            server_threads: 2,
            max_rss_growth: 512 << 20,
            seed: 1,
        }
    }
}

/// The figures of a run.
#[derive(Debug, Default, Clone)]
pub struct OverloadReport {
    pub fd_limit: u64,
    /// Connections the server reported open (`curr_connections`) with the idle ones and the
    /// half requests in place, before the load.
    pub connections_held: u64,
    pub idle: u64,
    pub half_requests: u64,
    pub non_readers: u32,
    /// GETs the non-reading clients got into the server's socket before it stopped reading them.
    pub pipelined_requests: u64,
    pub pipelined_bytes: u64,
    /// Garbage connections opened, bytes sent on them, and how many the server closed.
    pub garbage_connections: u64,
    pub garbage_bytes: u64,
    pub garbage_closed: u64,
    pub rss_start: u64,
    pub rss_idle: u64,
    pub rss_peak: u64,
    pub rss_after: u64,
    /// The correct client's operations (memcached and Redis), and their latencies.
    pub correct_ops: u64,
    pub correct_errors: u64,
    pub latency_p50: Duration,
    pub latency_p99: Duration,
    pub latency_max: Duration,
    pub keys_verified: u64,
    pub elapsed: Duration,
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

impl std::fmt::Display for OverloadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows: Vec<(&str, String)> = vec![
            ("open-file limit", self.fd_limit.to_string()),
            ("idle connections opened", self.idle.to_string()),
            ("half requests left silent", self.half_requests.to_string()),
            ("connections held (server's curr_connections)", self.connections_held.to_string()),
            ("non-reading pipelining clients", self.non_readers.to_string()),
            ("pipelined GETs sent, never read", format!("{} ({})", self.pipelined_requests, mib(self.pipelined_bytes))),
            ("garbage connections (closed by the server)", format!("{} ({})", self.garbage_connections, self.garbage_closed)),
            ("garbage sent", mib(self.garbage_bytes)),
            ("server RSS at the start", mib(self.rss_start)),
            ("server RSS with the idle connections", mib(self.rss_idle)),
            ("server RSS peak under load", mib(self.rss_peak)),
            ("server RSS after the load left", mib(self.rss_after)),
            ("correct client: operations", self.correct_ops.to_string()),
            ("correct client: errors", self.correct_errors.to_string()),
            (
                "correct client: latency p50 / p99 / max",
                format!(
                    "{:.2} / {:.2} / {:.2} ms",
                    self.latency_p50.as_secs_f64() * 1e3,
                    self.latency_p99.as_secs_f64() * 1e3,
                    self.latency_max.as_secs_f64() * 1e3
                ),
            ),
            ("keys stored before, verified after", self.keys_verified.to_string()),
            ("run time", format!("{:.1} s", self.elapsed.as_secs_f64())),
        ];
        writeln!(f, "| measure | value |")?;
        writeln!(f, "|---|---:|")?;
        for (name, value) in rows {
            writeln!(f, "| {name} | {value} |")?;
        }
        Ok(())
    }
}

/// Raises this process's soft limit of open files towards `wanted` (children inherit it);
/// returns the limit in force.
// rlim_t is u64 on Linux but not on every target.
#[allow(clippy::unnecessary_cast)]
pub fn raise_fd_limit(wanted: u64) -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < wanted as libc::rlim_t {
            limit.rlim_cur = (wanted as libc::rlim_t).min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
    }
    limit.rlim_cur as u64
}

/// The server's resident memory in bytes, from `/proc/<pid>/status`.
fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches(" kB").parse().ok()?;
    Some(kb * 1024)
}

/// `crowndb serve` as a child; SIGKILLed if dropped before [`ServerChild::stop`].
struct ServerChild {
    child: Child,
    memcached: SocketAddr,
    redis: SocketAddr,
    log: PathBuf,
}

impl ServerChild {
    fn start(bin: &Path, dir: &Path, config: &OverloadConfig, max_connections: u64) -> Result<ServerChild, String> {
        let (mc_port, redis_port) = (free_port()?, free_port()?);
        let log = dir.join("server.stderr");
        let stderr = std::fs::File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let child = Command::new(bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.join("store"))
            .args(["--memcached-addr", &format!("127.0.0.1:{mc_port}"), "--redis-addr", &format!("127.0.0.1:{redis_port}")])
            .args(["--threads", &config.server_threads.to_string(), "--max-connections", &max_connections.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("starting {} serve: {e}", bin.display()))?;
        let server = ServerChild {
            child,
            memcached: SocketAddr::from(([127, 0, 0, 1], mc_port)),
            redis: SocketAddr::from(([127, 0, 0, 1], redis_port)),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(server.memcached).is_err() || TcpStream::connect(server.redis).is_err() {
            if Instant::now() > deadline {
                return Err(format!("the server did not listen within 30 s; see {}", server.log.display()));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss(&self) -> Result<u64, String> {
        rss_of(self.pid()).ok_or_else(|| format!("cannot read /proc/{}/status: is the server still running?", self.pid()))
    }

    /// SIGTERM, and a clean exit within 20 s.
    fn stop(mut self) -> Result<(), String> {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("the server exited with {status} after SIGTERM; see {}", self.log.display()))
                };
            }
            if Instant::now() > deadline {
                return Err(format!("the server did not stop within 20 s of SIGTERM; see {}", self.log.display()));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A blocking client of either protocol, enough for sets, gets and stats.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        Ok(Conn { reader: BufReader::new(stream.try_clone().map_err(|e| e.to_string())?), writer: stream })
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer.write_all(bytes).map_err(|e| format!("sending: {e}"))
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).map_err(|e| format!("reading a reply: {e}"))?;
        if !line.ends_with(b"\r\n") {
            return Err(format!("incomplete reply line {:?}", String::from_utf8_lossy(&line)));
        }
        line.truncate(line.len() - 2);
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    fn block(&mut self, len: usize) -> Result<Vec<u8>, String> {
        let mut data = vec![0; len + 2];
        self.reader.read_exact(&mut data).map_err(|e| format!("reading a value: {e}"))?;
        if &data[len..] != b"\r\n" {
            return Err("a value not followed by CRLF".into());
        }
        data.truncate(len);
        Ok(data)
    }

    fn mc_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        self.send(&[format!("set {key} 0 0 {}\r\n", value.len()).as_bytes(), value, b"\r\n"].concat())?;
        match self.line()?.as_str() {
            "STORED" => Ok(()),
            other => Err(format!("memcached set {key}: {other:?}")),
        }
    }

    fn mc_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.send(format!("get {key}\r\n").as_bytes())?;
        let line = self.line()?;
        if line == "END" {
            return Ok(None);
        }
        let len: usize = match line.strip_prefix(&format!("VALUE {key} ")).and_then(|rest| rest.split(' ').nth(1)) {
            Some(len) => len.parse().map_err(|_| format!("memcached get {key}: bad line {line:?}"))?,
            None => return Err(format!("memcached get {key}: {line:?}")),
        };
        let data = self.block(len)?;
        match self.line()?.as_str() {
            "END" => Ok(Some(data)),
            other => Err(format!("memcached get {key}: {other:?} after the value")),
        }
    }

    fn mc_stat(&mut self, name: &str) -> Result<String, String> {
        self.send(b"stats\r\n")?;
        let mut found = None;
        loop {
            let line = self.line()?;
            if line == "END" {
                return found.ok_or_else(|| format!("no stat {name}"));
            }
            if let Some(value) = line.strip_prefix(&format!("STAT {name} ")) {
                found = Some(value.to_string());
            }
        }
    }

    fn redis_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        self.send(&resp_command(&[b"SET", key.as_bytes(), value]))?;
        match self.line()?.as_str() {
            "+OK" => Ok(()),
            other => Err(format!("Redis SET {key}: {other:?}")),
        }
    }

    fn redis_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.send(&resp_command(&[b"GET", key.as_bytes()]))?;
        let line = self.line()?;
        match line.strip_prefix('$').and_then(|n| n.parse::<i64>().ok()) {
            Some(-1) => Ok(None),
            Some(len) if len >= 0 => self.block(len as usize).map(Some),
            _ => Err(format!("Redis GET {key}: {line:?}")),
        }
    }
}

/// A RESP multibulk request.
fn resp_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The value of seeded key `i`: 0 B to 16 KiB of bytes regenerated from the seed.
fn seeded_value(seed: u64, i: u64) -> Vec<u8> {
    ValueId { op: seed ^ 0x5EED, slot: i as u32, len: (i * 997) % 16_384 }.bytes()
}

/// Counters shared by the load threads.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    pipelined_requests: AtomicU64,
    pipelined_bytes: AtomicU64,
    garbage_connections: AtomicU64,
    garbage_bytes: AtomicU64,
    garbage_closed: AtomicU64,
}

/// Pipelines `request` without reading until a send blocks for a second (the server stopped
/// reading), then holds the connection until the load ends.
fn non_reader(addr: SocketAddr, request: Vec<u8>, load: Arc<Load>) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("non-reading client: connecting: {e}"))?;
    s.set_write_timeout(Some(Duration::from_secs(1))).map_err(|e| e.to_string())?;
    let chunk = request.repeat((64 * 1024 / request.len()).max(1));
    let mut sent = 0u64;
    while !load.stop.load(Ordering::Relaxed) {
        match s.write(&chunk) {
            Ok(n) => sent += n as u64,
            Err(_) => break,
        }
    }
    load.pipelined_bytes.fetch_add(sent, Ordering::Relaxed);
    load.pipelined_requests.fetch_add(sent / request.len() as u64, Ordering::Relaxed);
    while !load.stop.load(Ordering::Relaxed) {
        thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Opens connection after connection and sends each a kind of garbage, reading whatever comes
/// back until the server closes it or stays quiet for 200 ms.
fn garbage_sender(addrs: [SocketAddr; 2], seed: u64, load: Arc<Load>) {
    let mut rng = Rng::new(seed);
    let mut round = 0u64;
    while !load.stop.load(Ordering::Relaxed) {
        round += 1;
        let addr = addrs[(round % 2) as usize];
        let memcached = round.is_multiple_of(2);
        let data = match rng.below(5) {
            0 => {
                let mut data = vec![0u8; 64 * 1024];
                rng.fill(&mut data);
                data
            }
            1 => vec![b'x'; 1 << 20],
            2 if memcached => [&b"set junk 0 0 2000000000\r\n"[..], &vec![b'z'; 256 * 1024]].concat(),
            2 => b"*1\r\n$99999999999\r\n".to_vec(),
            3 if memcached => b"set junk 0 0 99999999999\r\n\x80\x00\x00\x03\r\n".to_vec(),
            3 => b"*2147483648\r\n".to_vec(),
            _ => {
                let mut data = vec![0u8; 4096];
                rng.fill(&mut data);
                data[0] = 0x80;
                data
            }
        };
        let Ok(mut s) = TcpStream::connect(addr) else { continue };
        load.garbage_connections.fetch_add(1, Ordering::Relaxed);
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        if let Ok(mut writer) = s.try_clone() {
            let sender = thread::spawn(move || {
                let mut sent = 0u64;
                for piece in data.chunks(64 * 1024) {
                    if writer.write_all(piece).is_err() {
                        break;
                    }
                    sent += piece.len() as u64;
                }
                sent
            });
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => {
                        load.garbage_closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Ok(_) => {}
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
                    Err(_) => {
                        load.garbage_closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            let _ = s.shutdown(std::net::Shutdown::Both);
            load.garbage_bytes.fetch_add(sender.join().unwrap_or(0), Ordering::Relaxed);
        }
    }
}

/// What the correct client saw.
#[derive(Default)]
struct Correct {
    ops: u64,
    errors: Vec<String>,
    latencies: Vec<Duration>,
}

/// Sets and gets through both protocols until the load ends, checking every value.
fn correct_client(addrs: [SocketAddr; 2], seed: u64, load: Arc<Load>, result: Arc<Mutex<Correct>>) {
    let connect = || -> Result<(Conn, Conn), String> { Ok((Conn::open(addrs[0])?, Conn::open(addrs[1])?)) };
    let (mut mc, mut redis) = match connect() {
        Ok(c) => c,
        Err(e) => {
            result.lock().unwrap().errors.push(e);
            return;
        }
    };
    let mut rng = Rng::new(seed);
    let mut op = 0u64;
    while !load.stop.load(Ordering::Relaxed) {
        op += 1;
        let key = format!("correct:{}", rng.below(200));
        let value = ValueId { op, slot: 7, len: rng.range(0, 8192) }.bytes();
        let started = Instant::now();
        let outcome = if op.is_multiple_of(2) {
            mc.mc_set(&key, &value).and_then(|()| mc.mc_get(&key))
        } else {
            redis.redis_set(&key, &value).and_then(|()| redis.redis_get(&key))
        };
        let elapsed = started.elapsed();
        let mut r = result.lock().unwrap();
        r.latencies.push(elapsed);
        r.ops += 2;
        match outcome {
            Ok(Some(found)) if found == value => {}
            Ok(found) => r.errors.push(format!(
                "{key}: read back {:?} after writing {}",
                found.map(|f| ValueId::describe(&f)),
                ValueId::describe(&value)
            )),
            Err(e) => {
                r.errors.push(e);
                drop(r);
                match connect() {
                    Ok(c) => (mc, redis) = c,
                    Err(_) => return,
                }
            }
        }
    }
}

/// Samples the server's RSS every 50 ms; returns the peak.
fn rss_sampler(pid: u32, load: Arc<Load>) -> JoinHandle<u64> {
    thread::spawn(move || {
        let mut peak = 0;
        while !load.stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_of(pid).unwrap_or(0));
            thread::sleep(Duration::from_millis(50));
        }
        peak
    })
}

/// Runs the load against a fresh `crowndb serve` (the binary `bin`) on a store in `dir`.
pub fn run_overload(bin: &Path, dir: &Path, config: &OverloadConfig) -> Result<OverloadReport, String> {
    let started = Instant::now();
    if rss_of(std::process::id()).is_none() {
        return Err("no /proc/<pid>/status here: the overload harness measures memory through /proc (Linux)".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut report = OverloadReport::default();
    let clients = config.idle + u64::from(config.half_requests) + u64::from(config.non_readers) + u64::from(config.garbage_senders) + 16;
    report.fd_limit = raise_fd_limit(clients + 256);
    if report.fd_limit < clients + 64 {
        return Err(format!(
            "{clients} connections need more open files than the limit of {} allows: raise `ulimit -n` or ask for fewer idle connections",
            report.fd_limit
        ));
    }
    let server = ServerChild::start(bin, dir, config, clients + 64)?;
    let addrs = [server.memcached, server.redis];

    // Keys stored before anything else, to be verified at the end.
    let mut conn = Conn::open(server.memcached)?;
    let mut redis = Conn::open(server.redis)?;
    for i in 0..500 {
        let key = format!("seeded:{i}");
        if i % 2 == 0 {
            conn.mc_set(&key, &seeded_value(config.seed, i))?;
        } else {
            redis.redis_set(&key, &seeded_value(config.seed, i))?;
        }
    }
    let big = ValueId { op: 1, slot: 1, len: config.big_value as u64 }.bytes();
    conn.mc_set("big", &big)?;
    thread::sleep(Duration::from_millis(200));
    report.rss_start = server.rss()?;

    // Idle connections and silent half requests.
    let mut held = Vec::with_capacity((config.idle + u64::from(config.half_requests)) as usize);
    for i in 0..config.idle {
        let s = TcpStream::connect(addrs[(i % 2) as usize]).map_err(|e| format!("idle connection {i}: {e}"))?;
        held.push(s);
    }
    let halves: [(usize, &[u8]); 4] = [
        (0, b"set seeded:0 0 0 100\r\nhalf a val"),
        (0, b"get seeded:2 seed"),
        (1, b"*3\r\n$3\r\nSET\r\n$8\r\nseeded:1\r\n$100\r\nhalf"),
        (1, b"SET seeded:3 inline-without-"),
    ];
    for i in 0..config.half_requests {
        let (addr, bytes) = halves[i as usize % halves.len()];
        let mut s = TcpStream::connect(addrs[addr]).map_err(|e| format!("half request {i}: {e}"))?;
        s.write_all(bytes).map_err(|e| format!("half request {i}: {e}"))?;
        held.push(s);
    }
    report.idle = config.idle;
    report.half_requests = u64::from(config.half_requests);
    // The server has accepted them all when its count says so (our two clients included).
    let expected = config.idle + u64::from(config.half_requests) + 2;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        report.connections_held = conn.mc_stat("curr_connections")?.parse().map_err(|e| format!("curr_connections: {e}"))?;
        if report.connections_held >= expected {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the server holds {} connections of the {expected} opened", report.connections_held));
        }
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(200));
    report.rss_idle = server.rss()?;

    // The load.
    let load = Arc::new(Load::default());
    let correct = Arc::new(Mutex::new(Correct::default()));
    let sampler = rss_sampler(server.pid(), load.clone());
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    {
        let (load, correct, seed) = (load.clone(), correct.clone(), config.seed ^ 0xC0DE);
        threads.push(thread::spawn(move || correct_client(addrs, seed, load, correct)));
    }
    let mut non_readers = Vec::new();
    for i in 0..config.non_readers {
        let (addr, request) = if i % 2 == 0 { (addrs[0], b"get big\r\n".to_vec()) } else { (addrs[1], resp_command(&[b"GET", b"big"])) };
        let load = load.clone();
        non_readers.push(thread::spawn(move || non_reader(addr, request, load)));
    }
    for i in 0..config.garbage_senders {
        let (load, seed) = (load.clone(), config.seed.wrapping_add(u64::from(i) + 100));
        threads.push(thread::spawn(move || garbage_sender(addrs, seed, load)));
    }
    report.non_readers = config.non_readers;
    thread::sleep(config.duration);
    load.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().map_err(|_| "a load thread panicked".to_string())?;
    }
    for t in non_readers {
        t.join().map_err(|_| "a non-reading client panicked".to_string())??;
    }
    report.rss_peak = sampler.join().map_err(|_| "the RSS sampler panicked".to_string())?.max(server.rss()?);
    report.pipelined_requests = load.pipelined_requests.load(Ordering::Relaxed);
    report.pipelined_bytes = load.pipelined_bytes.load(Ordering::Relaxed);
    report.garbage_connections = load.garbage_connections.load(Ordering::Relaxed);
    report.garbage_bytes = load.garbage_bytes.load(Ordering::Relaxed);
    report.garbage_closed = load.garbage_closed.load(Ordering::Relaxed);
    let mut correct = std::mem::take(&mut *correct.lock().unwrap());
    report.correct_ops = correct.ops;
    report.correct_errors = correct.errors.len() as u64;
    correct.latencies.sort();
    let pct = |p: f64| {
        correct.latencies.get(((correct.latencies.len() as f64 * p) as usize).min(correct.latencies.len().saturating_sub(1))).copied()
    };
    report.latency_p50 = pct(0.5).unwrap_or_default();
    report.latency_p99 = pct(0.99).unwrap_or_default();
    report.latency_max = correct.latencies.last().copied().unwrap_or_default();

    // Everyone leaves; what was stored before is still there.
    drop(held);
    thread::sleep(Duration::from_secs(1));
    report.rss_after = server.rss()?;
    let mut conn = Conn::open(server.memcached)?;
    let mut redis = Conn::open(server.redis)?;
    for i in 0..500 {
        let key = format!("seeded:{i}");
        let expected = seeded_value(config.seed, i);
        let found = if i % 3 == 0 { redis.redis_get(&key)? } else { conn.mc_get(&key)? };
        if found.as_deref() != Some(&expected[..]) {
            return Err(format!("{key} changed under the load: {:?}", found.map(|f| ValueId::describe(&f))));
        }
        report.keys_verified += 1;
    }
    if conn.mc_get("big")?.as_deref() != Some(&big[..]) {
        return Err("the large value changed under the load".into());
    }
    drop((conn, redis));
    server.stop()?;
    report.elapsed = started.elapsed();

    if let Some(first) = correct.errors.first() {
        return Err(format!("the correct client got {} wrong answers under the load; the first: {first}\n{report}", correct.errors.len()));
    }
    if report.correct_ops == 0 {
        return Err(format!("the correct client got no answer at all under the load\n{report}"));
    }
    let growth = report.rss_peak.saturating_sub(report.rss_start);
    if growth > config.max_rss_growth {
        return Err(format!(
            "the server's memory grew by {} under the load, above the bound of {}\n{report}",
            mib(growth),
            mib(config.max_rss_growth)
        ));
    }
    Ok(report)
}
