//! I/O errors and short writes injected at the file layer. (Over 600 lines on purpose: the
//! writer child, the verifier and the server trials share one fault model, kept in one file.)
//!
//! A writer child (this binary, `io-faults-writer`) runs with the fault injector
//! (`crates/crowndb-faultfs`, an `LD_PRELOAD` library) and does puts, deletes, batches,
//! streamed values and compactions with `Durability::Always`, logging each operation's
//! intent and ack as the crash torture does ([`crate::oplog`]). After a random number of
//! acknowledged operations the parent arms one fault through the injector's control file,
//! for calls on the store's files only: `fdatasync` or `fsync` failing with `EIO` (for good,
//! or once), `write`/`pwrite` failing with `EIO`, a short write followed by `EIO`, a short
//! write followed by success, or `fallocate` failing with `ENOSPC`.
//!
//! The child reports, in a plain text file, the first error a write returned, what 20
//! further writes returned, whether every acknowledged key still reads back, what writes
//! returned once it disarmed the fault itself, and what `close` returned. The parent
//! ([`run_trial`]) checks those against what the fault must cause:
//!
//! - a failed sync or write (`EIO`): the failing write returns an error, never `Ok`; every
//!   later write is refused with `ErrorKind::Poisoned`, whose message names the cause and
//!   says to reopen the store, **even after the fault is gone** (what a failed `fsync` left
//!   on disk is unknown, so nothing may be acknowledged on top of it);
//! - `fallocate` failing with `ENOSPC`: writes that need a new segment fail with
//!   `ErrorKind::DiskFull` ("free space"), the others succeed, and writes resume once the
//!   fault is gone (as on a real full disk, see `tests/disk_full.rs`);
//! - a short write followed by success: no error at all (the engine retries the rest);
//! - in every case reads keep working: each acknowledged key reads back.
//!
//! Then the parent opens the store without the fault, `paranoid_open`, and requires every
//! acknowledged write to be there and each unacknowledged one whole or absent (a batch all
//! or nothing, a stream complete or absent); iteration finds nothing unexpected; after a
//! clean close, `crowndb check` (when built) is clean. The injector's counters prove the
//! calls were intercepted and the fault injected.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crowndb::{Db, Durability, ErrorKind, Options};

use crate::oplog::{self, Event, Item, LogWriter, Op};
use crate::rng::Rng;
use crate::serve::free_port;
use crate::values::ValueId;
use crate::workload::{describe, effects, matches, perform, read_value, Known, ABSENT};

/// Segment size of the store: small, so segments are created, sealed and compacted often.
pub const SEGMENT_SIZE: u64 = 2 << 20;
const KEYS: u64 = 120;
const STREAM_KEYS: u64 = 4;
/// Writes the child attempts after the first error, with the fault still armed.
const WRITES_AFTER_ERROR: u64 = 20;
/// Writes the child attempts after disarming the fault.
const WRITES_AFTER_DISARM: u64 = 5;
/// How long the child writes without meeting an error before giving up.
const CHILD_TIME_LIMIT: Duration = Duration::from_secs(40);

/// The store options of the writer and the verifier.
pub fn store_options(paranoid: bool) -> Options {
    Options { durability: Durability::Always, segment_size: SEGMENT_SIZE, paranoid_open: paranoid, ..Options::default() }
}

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every `fdatasync` on the store's files fails with `EIO`.
    FdatasyncEio,
    /// One `fdatasync` fails with `EIO`, later ones succeed (Linux reports a writeback
    /// error once: a store that retried would acknowledge data that may be gone).
    FdatasyncEioOnce,
    /// Every `fsync` fails with `EIO` (segment creation, seals, compaction outputs).
    FsyncEio,
    /// Every `write`, `pwrite` and `writev` fails with `EIO` (segment headers, footers).
    WriteEio,
    /// A `write`/`pwrite` writes only part of its bytes, then every later one fails (`EIO`).
    ShortWriteThenEio,
    /// One `write`/`pwrite` writes only part of its bytes; the disk works again after.
    ShortWriteOnce,
    /// Every `fallocate`/`posix_fallocate` fails with `ENOSPC` (new segments cannot be made).
    FallocateEnospc,
}

/// What the store must do under a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// An error, then every write refused as poisoned until the store is reopened.
    Poison,
    /// Disk-full errors for writes that need space, writes resume once it is back.
    DiskFull,
    /// No error: the engine recovers by itself (retries a short write).
    NoError,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::FdatasyncEio,
        Fault::FdatasyncEioOnce,
        Fault::FsyncEio,
        Fault::WriteEio,
        Fault::ShortWriteThenEio,
        Fault::ShortWriteOnce,
        Fault::FallocateEnospc,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::FdatasyncEio => "fdatasync-eio",
            Fault::FdatasyncEioOnce => "fdatasync-eio-once",
            Fault::FsyncEio => "fsync-eio",
            Fault::WriteEio => "write-eio",
            Fault::ShortWriteThenEio => "short-write-then-eio",
            Fault::ShortWriteOnce => "short-write-once",
            Fault::FallocateEnospc => "fallocate-enospc",
        }
    }

    pub fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn expect(self) -> Expect {
        match self {
            Fault::FallocateEnospc => Expect::DiskFull,
            Fault::ShortWriteOnce => Expect::NoError,
            _ => Expect::Poison,
        }
    }

    /// The injector's control file arming this fault for files under `under`.
    fn control(self, under: &Path, rng: &mut Rng) -> String {
        let after = rng.below(3);
        let rule = match self {
            Fault::FdatasyncEio => "calls=fdatasync\nerrno=EIO\ntimes=0".to_string(),
            Fault::FdatasyncEioOnce => "calls=fdatasync\nerrno=EIO\ntimes=1".to_string(),
            Fault::FsyncEio => "calls=fsync\nerrno=EIO\ntimes=0".to_string(),
            Fault::WriteEio => "calls=write,pwrite,writev\nerrno=EIO\ntimes=0".to_string(),
            Fault::ShortWriteThenEio => format!("calls=write,pwrite,writev\nshort={}\nerrno=EIO\ntimes=0", rng.range(1, 31)),
            Fault::ShortWriteOnce => format!("calls=write,pwrite,writev\nshort={}\ntimes=1", rng.range(1, 31)),
            Fault::FallocateEnospc => "calls=fallocate\nerrno=ENOSPC\ntimes=0".to_string(),
        };
        format!("under={}\n{rule}\nafter={after}\n", under.display())
    }
}

/// A control file that watches (counts) calls on `under` without failing any.
fn watch_only(under: &Path) -> String {
    format!("under={}\n", under.display())
}

/// Replaces the control file atomically (the injector sees one version or the other).
pub fn write_control(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("renaming {} to {}: {e}", tmp.display(), path.display()))
}

/// The injector library: `$CROWNDB_FAULTFS_LIB`, or the one this crate's build script made.
pub fn faultfs_lib() -> PathBuf {
    match std::env::var_os("CROWNDB_FAULTFS_LIB") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CROWNDB_FAULTFS_BUILT")),
    }
}

/// The injector's counters (its stats file).
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub calls: BTreeMap<String, u64>,
    pub injected_total: u64,
    pub last: String,
}

impl Stats {
    pub fn read(path: &Path) -> Stats {
        let mut stats = Stats::default();
        for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
            let Some((key, value)) = line.split_once(' ') else { continue };
            match key {
                "injected_total" => stats.injected_total = value.parse().unwrap_or(0),
                "last" => stats.last = value.to_string(),
                "pid" | "generation" | "matched" | "injected" => {}
                kind => {
                    stats.calls.insert(kind.to_string(), value.parse().unwrap_or(0));
                }
            }
        }
        stats
    }

    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
}

// ---------------------------------------------------------------------------------------
// The writer child.

fn key(rng: &mut Rng) -> String {
    format!("k{:03}", rng.below(KEYS))
}

fn next_op(rng: &mut Rng) -> Op {
    let small = |rng: &mut Rng| match rng.below(100) {
        0..75 => rng.range(0, 200),
        75..97 => rng.range(200, 8192),
        _ => rng.range(8192, 200 << 10),
    };
    match rng.below(100) {
        0..45 => Op::Put { key: key(rng), len: small(rng) },
        45..58 => Op::Delete { key: key(rng) },
        58..90 => {
            let n = rng.range(2, 8);
            Op::Batch(
                (0..n)
                    .map(|_| {
                        if rng.chance(75) {
                            Item::Put { key: key(rng), len: small(rng).min(4096) }
                        } else {
                            Item::Delete { key: key(rng) }
                        }
                    })
                    .collect(),
            )
        }
        90..98 => Op::Stream { key: format!("s{}", rng.below(STREAM_KEYS)), len: rng.range(64 << 10, 1536 << 10) },
        _ => Op::Compact,
    }
}

/// An engine error as the child reports it: kind and message.
#[derive(Debug, Clone)]
struct Failure {
    kind: ErrorKind,
    message: String,
}

impl From<crowndb::Error> for Failure {
    fn from(e: crowndb::Error) -> Failure {
        Failure { kind: e.kind(), message: e.to_string() }
    }
}

/// What the child knows each key may hold: its acknowledged value, plus the values of
/// unacknowledged writes since (which may or may not have reached the store).
type Allowed = BTreeMap<String, Vec<Known>>;

fn note(allowed: &mut Allowed, id: u64, op: &Op, acknowledged: bool) {
    for (key, known) in effects(id, op) {
        let entry = allowed.entry(key).or_insert_with(|| vec![ABSENT]);
        if acknowledged {
            *entry = vec![known];
        } else {
            entry.push(known);
        }
    }
}

/// Reads every key and checks it holds one of its allowed values. Returns the keys read.
fn check_reads(db: &Db, allowed: &Allowed) -> Result<u64, String> {
    let mut n = 0;
    for (key, options) in allowed {
        let streamed = options.iter().any(|k| k.streamed);
        let found = read_value(db, key, streamed)?;
        if !options.iter().any(|k| matches(&found, k)) {
            return Err(format!("key {key}: found {}, expected one of {options:?}", describe(&found)));
        }
        n += 1;
    }
    Ok(n)
}

/// The child's report, one line per event (plain text, read by [`run_trial`]):
///
/// ```text
/// first <id> <kind> <message>        the first write that failed
/// after <id> ok | <kind> <message>   a write with the fault still armed
/// reads <n>                          every key read back as allowed (or: readfail <why>)
/// disarmed <id> ok | <kind> <msg>    a write after the child disarmed the fault
/// close ok | <kind> <message>
/// noerror <acks>                     no write failed within the time limit
/// ```
struct Report(std::fs::File);

impl Report {
    fn line(&mut self, text: &str) -> Result<(), String> {
        let one = format!("{}\n", text.replace('\n', " "));
        self.0.write_all(one.as_bytes()).map_err(|e| format!("writing the report: {e}"))
    }

    fn outcome(&mut self, tag: &str, id: u64, r: &Result<(), Failure>) -> Result<(), String> {
        match r {
            Ok(()) => self.line(&format!("{tag} {id} ok")),
            Err(f) => self.line(&format!("{tag} {id} {:?} {}", f.kind, f.message)),
        }
    }
}

/// The writer child: writes until a write fails (or the time limit), then reports what
/// the store does with the fault armed and after disarming it (see [`Report`]).
pub fn run_writer(dir: &Path, log: &Path, report: &Path, seed: u64) -> Result<(), String> {
    let mut log = LogWriter::open(log, false).map_err(|e| format!("opening the side log {}: {e}", log.display()))?;
    let mut report = Report(
        std::fs::OpenOptions::new().create(true).append(true).open(report).map_err(|e| format!("opening {}: {e}", report.display()))?,
    );
    let db = Db::open(dir, store_options(false)).map_err(|e| format!("opening the store: {e}"))?;
    let mut rng = Rng::new(seed);
    let mut allowed = Allowed::new();
    let started = Instant::now();
    let mut id = 1u64;
    let mut acks = 0u64;
    // One write: intent, engine, ack (or not); the model learns either way.
    let step = |id: u64, rng: &mut Rng, allowed: &mut Allowed, log: &mut LogWriter| -> Result<Result<(), Failure>, String> {
        let op = next_op(rng);
        log.append(&Event::Intent { id, op: op.clone() }).map_err(|e| format!("side log: {e}"))?;
        let result = perform(&db, id, &op, rng).map_err(Failure::from);
        if result.is_ok() {
            log.append(&Event::Ack { id }).map_err(|e| format!("side log: {e}"))?;
        }
        note(allowed, id, &op, result.is_ok());
        Ok(result)
    };
    loop {
        if started.elapsed() > CHILD_TIME_LIMIT {
            report.line(&format!("noerror {acks}"))?;
            return Ok(());
        }
        let result = step(id, &mut rng, &mut allowed, &mut log)?;
        id += 1;
        match result {
            Ok(()) => acks += 1,
            Err(f) => {
                report.line(&format!("first {} {:?} {}", id - 1, f.kind, f.message))?;
                break;
            }
        }
    }
    for _ in 0..WRITES_AFTER_ERROR {
        let r = step(id, &mut rng, &mut allowed, &mut log)?;
        report.outcome("after", id, &r)?;
        id += 1;
    }
    match check_reads(&db, &allowed) {
        Ok(n) => report.line(&format!("reads {n}"))?,
        Err(e) => report.line(&format!("readfail {e}"))?,
    }
    if let Some(control) = std::env::var_os("CROWNDB_FAULTFS_CONTROL") {
        write_control(Path::new(&control), &watch_only(dir))?;
    }
    for _ in 0..WRITES_AFTER_DISARM {
        let r = step(id, &mut rng, &mut allowed, &mut log)?;
        report.outcome("disarmed", id, &r)?;
        id += 1;
    }
    match db.close() {
        Ok(()) => report.line("close ok")?,
        Err(e) => report.line(&format!("close {:?} {e}", e.kind()))?,
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The parent.

/// What one trial saw.
#[derive(Debug, Default, Clone)]
pub struct TrialOutcome {
    pub acknowledged: u64,
    /// Writes that returned an error (the first and those after it).
    pub errors: u64,
    /// Unacknowledged writes found applied / absent after the reopen.
    pub unacked_applied: u64,
    pub unacked_absent: u64,
    pub keys_verified: u64,
    pub injected: u64,
    pub calls_seen: u64,
    /// The first error's message.
    pub first_error: Option<String>,
}

/// Figures of a run of trials.
#[derive(Debug, Default, Clone)]
pub struct IoFaultReport {
    pub trials: u64,
    pub per_fault: BTreeMap<&'static str, (u64, u64, u64)>,
    pub acknowledged: u64,
    pub errors: u64,
    pub unacked_applied: u64,
    pub unacked_absent: u64,
    pub keys_verified: u64,
    pub injected: u64,
    pub calls_seen: u64,
    /// Trials through `crowndb serve`, their acknowledged writes and reads while refusing.
    pub server_trials: u64,
    pub server_acknowledged: u64,
    pub server_reads: u64,
    /// One memcached and one Redis reply to a refused write, as clients see them.
    pub server_replies: Option<(String, String)>,
    pub elapsed: Duration,
}

impl std::fmt::Display for IoFaultReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} trials in {:.1} s: {} writes acknowledged, {} write errors returned, {} faults injected into {} intercepted calls, \
             {} key checks after reopening, unacknowledged writes {} found applied / {} absent; 0 acknowledged writes lost",
            self.trials,
            self.elapsed.as_secs_f64(),
            self.acknowledged,
            self.errors,
            self.injected,
            self.calls_seen,
            self.keys_verified,
            self.unacked_applied,
            self.unacked_absent
        )?;
        for (name, (trials, acks, errors)) in &self.per_fault {
            write!(f, "\n  {name}: {trials} trials, {acks} acknowledged, {errors} errors")?;
        }
        if self.server_trials > 0 {
            write!(
                f,
                "\n  through crowndb serve: {} trials, {} writes acknowledged and found after reopening, {} reads while refusing writes",
                self.server_trials, self.server_acknowledged, self.server_reads
            )?;
        }
        if let Some((mc, redis)) = &self.server_replies {
            write!(f, "\n  memcached: {mc}\n  Redis: {redis}")?;
        }
        Ok(())
    }
}

/// Runs `trials` trials of each fault in `faults`, then `server_trials` through
/// `crowndb serve` (failing `fdatasync`, for good or once), in `dir`.
pub fn run_io_faults(
    dir: &Path,
    faults: &[Fault],
    trials: u64,
    server_trials: u64,
    seed: u64,
    verbose: bool,
) -> Result<IoFaultReport, String> {
    let started = Instant::now();
    let mut report = IoFaultReport::default();
    let check_bin = crate::crash::find_crowndb_bin();
    let mut rng = Rng::new(seed);
    for t in 0..trials {
        for &fault in faults {
            let trial_dir = dir.join(format!("{}-{t}", fault.name()));
            let trial_seed = rng.next_u64();
            let out = run_trial(&trial_dir, fault, trial_seed, rng.range(10, 200), check_bin.as_deref())
                .map_err(|e| format!("{} trial {t} (seed {trial_seed}, in {}): {e}", fault.name(), trial_dir.display()))?;
            if verbose {
                println!(
                    "{} trial {t}: {} acknowledged, {} errors, first: {}",
                    fault.name(),
                    out.acknowledged,
                    out.errors,
                    out.first_error.as_deref().unwrap_or("none")
                );
            }
            let _ = std::fs::remove_dir_all(&trial_dir);
            report.trials += 1;
            let e = report.per_fault.entry(fault.name()).or_default();
            *e = (e.0 + 1, e.1 + out.acknowledged, e.2 + out.errors);
            report.acknowledged += out.acknowledged;
            report.errors += out.errors;
            report.unacked_applied += out.unacked_applied;
            report.unacked_absent += out.unacked_absent;
            report.keys_verified += out.keys_verified;
            report.injected += out.injected;
            report.calls_seen += out.calls_seen;
        }
    }
    if server_trials > 0 {
        let bin = check_bin.as_deref().ok_or("the crowndb binary was not found next to this one; set CROWNDB_BIN")?;
        for t in 0..server_trials {
            let fault = if t % 2 == 0 { Fault::FdatasyncEio } else { Fault::FdatasyncEioOnce };
            let trial_dir = dir.join(format!("server-{}-{t}", fault.name()));
            let trial_seed = rng.next_u64();
            let out = run_server_trial(bin, &trial_dir, fault, trial_seed)
                .map_err(|e| format!("server trial {t} ({}, seed {trial_seed}, in {}): {e}", fault.name(), trial_dir.display()))?;
            if verbose {
                println!(
                    "server trial {t} ({}): {} acknowledged; memcached: {}; Redis: {}",
                    fault.name(),
                    out.acknowledged,
                    out.memcached_error,
                    out.redis_error
                );
            }
            let _ = std::fs::remove_dir_all(&trial_dir);
            report.server_trials += 1;
            report.server_acknowledged += out.acknowledged;
            report.server_reads += out.reads_while_refusing;
            report.server_replies.get_or_insert((out.memcached_error, out.redis_error));
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// One trial: a writer child under the injector, the fault armed after `arm_after` acks,
/// the child's report checked, then the store reopened without the fault and verified.
pub fn run_trial(dir: &Path, fault: Fault, seed: u64, arm_after: u64, check_bin: Option<&Path>) -> Result<TrialOutcome, String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let store = dir.join("store");
    let (log, report_path, control, stats_path) =
        (dir.join("ops.log"), dir.join("report.txt"), dir.join("faultfs.control"), dir.join("faultfs.stats"));
    write_control(&control, &watch_only(&store))?;
    let lib = faultfs_lib();
    if !lib.is_file() {
        return Err(format!("the fault injector {} is missing (set CROWNDB_FAULTFS_LIB)", lib.display()));
    }
    let exe = std::env::current_exe().map_err(|e| format!("finding the torture binary: {e}"))?;
    let stderr_path = dir.join("writer.stderr");
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(&exe)
        .arg("io-faults-writer")
        .arg("--dir")
        .arg(&store)
        .arg("--log")
        .arg(&log)
        .arg("--report")
        .arg(&report_path)
        .args(["--seed", &seed.to_string()])
        .env("LD_PRELOAD", &lib)
        .env("CROWNDB_FAULTFS_CONTROL", &control)
        .env("CROWNDB_FAULTFS_STATS", &stats_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("starting the writer: {e}"))?;
    let mut rng = Rng::new(seed ^ 0xA5A5);
    let result = supervise(&mut child, fault, &log, &control, &store, &stats_path, arm_after, &mut rng);
    if result.is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
    result.map_err(|e| format!("{e}\nwriter stderr: {}", std::fs::read_to_string(&stderr_path).unwrap_or_default()))?;

    let stats = Stats::read(&stats_path);
    let report = std::fs::read_to_string(&report_path).unwrap_or_default();
    let mut outcome = check_report(fault, &report, &stats)?;
    outcome.injected = stats.injected_total;
    outcome.calls_seen = stats.total_calls();
    verify_store(&store, &log, &mut outcome)?;
    if let Some(bin) = check_bin {
        crate::crash::run_check(bin, &store, false)
            .and_then(|found| if found.warnings > 0 { Err(format!("it warns after a clean close:\n{}", found.output)) } else { Ok(()) })
            .map_err(|e| format!("`crowndb check` after the reopen: {e}"))?;
    }
    Ok(outcome)
}

fn count_acks(log: &Path) -> u64 {
    oplog::read(log, 0).map(|(events, _)| events.iter().filter(|e| matches!(e, Event::Ack { .. })).count() as u64).unwrap_or(0)
}

/// Waits for `arm_after` acks, arms the fault, and waits for the child to finish (or, for
/// a fault that must cause no error, for the fault to be injected, then kills it).
#[allow(clippy::too_many_arguments)]
fn supervise(
    child: &mut std::process::Child,
    fault: Fault,
    log: &Path,
    control: &Path,
    store: &Path,
    stats: &Path,
    arm_after: u64,
    rng: &mut Rng,
) -> Result<(), String> {
    let deadline = Instant::now() + CHILD_TIME_LIMIT + Duration::from_secs(20);
    let exited = |child: &mut std::process::Child| child.try_wait().map_err(|e| e.to_string());
    while count_acks(log) < arm_after {
        if let Some(status) = exited(child)? {
            return Err(format!("the writer exited ({status}) before the fault was armed"));
        }
        if Instant::now() > deadline {
            return Err(format!("the writer did not reach {arm_after} acknowledged writes"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    write_control(control, &fault.control(store, rng))?;
    let mut injected_at = None;
    loop {
        if let Some(status) = exited(child)? {
            if !status.success() {
                return Err(format!("the writer failed ({status})"));
            }
            return Ok(());
        }
        if fault.expect() == Expect::NoError {
            // Nothing ends this writer by itself: let it write a while after the fault.
            if injected_at.is_none() && Stats::read(stats).injected_total > 0 {
                injected_at = Some(Instant::now());
            }
            if injected_at.is_some_and(|t| t.elapsed() > Duration::from_millis(300)) {
                child.kill().map_err(|e| format!("killing the writer: {e}"))?;
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err("the writer did not finish in time".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One line of the child's report, split: tag, id (if any), rest.
fn outcomes<'a>(report: &'a str, tag: &str) -> Vec<&'a str> {
    report
        .lines()
        .filter_map(|l| l.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')))
        .map(|r| r.split_once(' ').map_or(r, |(_, rest)| rest))
        .collect()
}

/// Checks the child's report against what `fault` must cause.
fn check_report(fault: Fault, report: &str, stats: &Stats) -> Result<TrialOutcome, String> {
    let mut outcome = TrialOutcome::default();
    let ctx = || format!("child report:\n{report}\ninjector stats: {stats:?}");
    if stats.total_calls() == 0 {
        return Err(format!("the injector saw no call on the store's files: it is not intercepting; {}", ctx()));
    }
    let first = report.lines().find_map(|l| l.strip_prefix("first ")).map(|r| r.split_once(' ').map_or(r, |(_, rest)| rest));
    let after = outcomes(report, "after");
    let disarmed = outcomes(report, "disarmed");
    if fault.expect() == Expect::NoError {
        if let Some(first) = first {
            return Err(format!("a write failed although the disk recovered: {first}; {}", ctx()));
        }
        if stats.injected_total == 0 {
            return Err(format!("the fault was never injected; {}", ctx()));
        }
        return Ok(outcome);
    }
    let Some(first) = first else {
        return Err(format!("no write failed under the fault; {}", ctx()));
    };
    if stats.injected_total == 0 {
        return Err(format!("a write failed but the injector injected nothing; {}", ctx()));
    }
    if let Some(why) = report.lines().find_map(|l| l.strip_prefix("readfail ")) {
        return Err(format!("reads failed after the fault: {why}; {}", ctx()));
    }
    if !report.lines().any(|l| l.starts_with("reads ")) {
        return Err(format!("the child did not get to its reads; {}", ctx()));
    }
    outcome.first_error = Some(first.to_string());
    outcome.errors = 1 + after.iter().chain(&disarmed).filter(|r| **r != "ok").count() as u64;
    let close = report.lines().find_map(|l| l.strip_prefix("close ")).ok_or_else(|| format!("no close line; {}", ctx()))?;
    match fault.expect() {
        Expect::Poison => {
            if !(first.starts_with("Io ") || first.starts_with("Poisoned ")) {
                return Err(format!("the first error is {first:?}, expected an I/O error or a refusal; {}", ctx()));
            }
            for r in after.iter().chain(&disarmed) {
                if !r.starts_with("Poisoned ") {
                    return Err(format!("a write after the failure returned {r:?}, expected a refusal (Poisoned); {}", ctx()));
                }
                if !r.contains("reopen") {
                    return Err(format!("the refusal does not say what to do: {r:?}; {}", ctx()));
                }
            }
            if close == "ok" {
                return Err(format!("close reported success on a store whose writes failed; {}", ctx()));
            }
        }
        Expect::DiskFull => {
            if !first.starts_with("DiskFull ") || !first.contains("free space") {
                return Err(format!("the first error is {first:?}, expected a disk-full error saying to free space; {}", ctx()));
            }
            if let Some(r) = after.iter().find(|r| **r != "ok" && !r.starts_with("DiskFull ")) {
                return Err(format!("a write with the disk still full returned {r:?}, expected ok or DiskFull; {}", ctx()));
            }
            if disarmed.last() != Some(&"ok") {
                return Err(format!("writes did not resume once the space was back: {disarmed:?}; {}", ctx()));
            }
            if close != "ok" {
                return Err(format!("close failed once the space was back: {close}; {}", ctx()));
            }
        }
        Expect::NoError => unreachable!("handled above"),
    }
    Ok(outcome)
}

/// Opens the store paranoid, without the fault, and checks it against the side log.
fn verify_store(store: &Path, log: &Path, outcome: &mut TrialOutcome) -> Result<(), String> {
    let (events, _) = oplog::read(log, 0).map_err(|e| format!("reading the side log: {e}"))?;
    let mut allowed = Allowed::new();
    let mut pending: Option<(u64, Op)> = None;
    let mut unacked: Vec<(u64, Op)> = Vec::new();
    // The last operation (acknowledged or not) that wrote each key.
    let mut last_writer: BTreeMap<String, u64> = BTreeMap::new();
    for event in events {
        match event {
            Event::Intent { id, op } => {
                for (key, _) in effects(id, &op) {
                    last_writer.insert(key, id);
                }
                if let Some(p) = pending.take() {
                    note(&mut allowed, p.0, &p.1, false);
                    unacked.push(p);
                }
                pending = Some((id, op));
            }
            Event::Ack { id } => {
                let Some((pid, op)) = pending.take().filter(|(pid, _)| *pid == id) else {
                    return Err(format!("side log: ack {id} without its intent"));
                };
                note(&mut allowed, pid, &op, true);
                outcome.acknowledged += 1;
            }
        }
    }
    if let Some(p) = pending.take() {
        note(&mut allowed, p.0, &p.1, false);
        unacked.push(p);
    }
    let db = Db::open(store, store_options(true)).map_err(|e| format!("reopening the store (paranoid, no fault): {e}"))?;
    outcome.keys_verified = check_reads(&db, &allowed)?;
    // Each unacknowledged write: where no later write touched its keys, all of them show
    // it or none does.
    for (id, op) in &unacked {
        let mut shown = Vec::new();
        let mut hidden = Vec::new();
        for (key, known) in effects(*id, op) {
            if last_writer.get(&key) != Some(id) {
                continue; // a later write may have replaced it
            }
            let options = &allowed[&key];
            let found = read_value(&db, &key, options.iter().any(|k| k.streamed))?;
            let others = options[..options.len() - 1].iter().any(|k| matches(&found, k));
            match (matches(&found, &known), others) {
                (true, false) => shown.push(key),
                (false, true) => hidden.push(key),
                _ => {}
            }
        }
        if !shown.is_empty() && !hidden.is_empty() {
            return Err(format!("unacknowledged write {id} ({op:?}) is half there: {shown:?} written, {hidden:?} not"));
        }
        if !shown.is_empty() {
            outcome.unacked_applied += 1;
        } else if !hidden.is_empty() {
            outcome.unacked_absent += 1;
        }
    }
    for item in db.iter() {
        let (key, _) = item.map_err(|e| format!("iterating: {e}"))?;
        let key = String::from_utf8_lossy(&key).into_owned();
        if allowed.get(&key).is_none_or(|opts| opts.iter().all(|k| k.value.is_none())) {
            return Err(format!("iteration found key {key:?}, which no write left there"));
        }
    }
    db.close().map_err(|e| format!("closing the store after verifying: {e}"))
}

// ---------------------------------------------------------------------------------------
// Through the server.

/// What a server trial saw.
#[derive(Debug, Default, Clone)]
pub struct ServerOutcome {
    pub acknowledged: u64,
    /// The memcached and Redis replies to writes under the fault.
    pub memcached_error: String,
    pub redis_error: String,
    pub reads_while_refusing: u64,
    pub keys_verified: u64,
}

/// A blocking text-protocol client (memcached or RESP) on one connection.
struct Client {
    writer: std::net::TcpStream,
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl Client {
    fn connect(port: u16, server: &mut std::process::Child) -> Result<Client, String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => {
                    s.set_read_timeout(Some(Duration::from_secs(20))).map_err(|e| e.to_string())?;
                    let reader = std::io::BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
                    return Ok(Client { writer: s, reader });
                }
                Err(e) => {
                    if let Ok(Some(status)) = server.try_wait() {
                        return Err(format!("the server exited ({status}) before listening on port {port}"));
                    }
                    if Instant::now() > deadline {
                        return Err(format!("connecting to port {port}: {e}"));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer.write_all(bytes).map_err(|e| format!("sending a request: {e}"))
    }

    fn line(&mut self) -> Result<String, String> {
        use std::io::BufRead;
        let mut line = String::new();
        self.reader.read_line(&mut line).map_err(|e| format!("reading a reply: {e}"))?;
        if line.is_empty() {
            return Err("the server closed the connection".into());
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; n + 2];
        self.reader.read_exact(&mut buf).map_err(|e| format!("reading a value: {e}"))?;
        buf.truncate(n);
        Ok(buf)
    }

    fn mc_set(&mut self, key: &str, value: &[u8]) -> Result<String, String> {
        let mut req = format!("set {key} 0 0 {}\r\n", value.len()).into_bytes();
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
        self.send(&req)?;
        self.line()
    }

    fn mc_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.send(format!("get {key}\r\n").as_bytes())?;
        let line = self.line()?;
        if line == "END" {
            return Ok(None);
        }
        let len: usize = line
            .strip_prefix("VALUE ")
            .and_then(|r| r.split(' ').nth(2))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("unexpected reply to get {key}: {line:?}"))?;
        let value = self.bytes(len)?;
        let end = self.line()?;
        if end != "END" {
            return Err(format!("get {key}: expected END, got {end:?}"));
        }
        Ok(Some(value))
    }

    fn redis(&mut self, args: &[&[u8]]) -> Result<String, String> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        self.send(&req)?;
        self.line()
    }

    fn redis_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let line = self.redis(&[b"GET", key.as_bytes()])?;
        if line == "$-1" {
            return Ok(None);
        }
        let len: usize = line.strip_prefix('$').and_then(|n| n.parse().ok()).ok_or_else(|| format!("GET {key}: {line:?}"))?;
        self.bytes(len).map(Some)
    }
}

/// `crowndb serve` (memcached and Redis listeners, `--durability always`) under the
/// injector: writes acknowledged, then `fault` armed; a memcached `set` must get
/// `SERVER_ERROR` and a Redis `SET` an `-ERR` (both saying to reopen the store), reads
/// must keep working, and after the server is gone every acknowledged write must be in
/// the store, each refused one whole or absent.
pub fn run_server_trial(bin: &Path, dir: &Path, fault: Fault, seed: u64) -> Result<ServerOutcome, String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let store = dir.join("store");
    let (control, stats_path) = (dir.join("faultfs.control"), dir.join("faultfs.stats"));
    write_control(&control, &watch_only(&store))?;
    let (mc_port, redis_port) = (free_port()?, free_port()?);
    let stderr = std::fs::File::create(dir.join("server.stderr")).map_err(|e| e.to_string())?;
    let mut server = Command::new(bin)
        .arg("serve")
        .arg("--data-dir")
        .arg(&store)
        .args(["--memcached-addr", &format!("127.0.0.1:{mc_port}"), "--redis-addr", &format!("127.0.0.1:{redis_port}")])
        .args(["--durability", "always", "--threads", "2"])
        .env("LD_PRELOAD", faultfs_lib())
        .env("CROWNDB_FAULTFS_CONTROL", &control)
        .env("CROWNDB_FAULTFS_STATS", &stats_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("starting {} serve: {e}", bin.display()))?;
    let result = server_trial(&mut server, &store, &control, &stats_path, mc_port, redis_port, fault, seed);
    let _ = server.kill();
    let _ = server.wait();
    let log = std::fs::read_to_string(dir.join("server.stderr")).unwrap_or_default();
    result.map_err(|e| format!("{e}\nserver log (last lines): {}", log.lines().rev().take(8).collect::<Vec<_>>().join(" | ")))
}

#[allow(clippy::too_many_arguments)]
fn server_trial(
    server: &mut std::process::Child,
    store: &Path,
    control: &Path,
    stats: &Path,
    mc_port: u16,
    redis_port: u16,
    fault: Fault,
    seed: u64,
) -> Result<ServerOutcome, String> {
    let mut rng = Rng::new(seed);
    let mut mc = Client::connect(mc_port, server)?;
    let mut redis = Client::connect(redis_port, server)?;
    let mut outcome = ServerOutcome::default();
    // key -> allowed values (the acknowledged one first, then unacknowledged ones).
    let mut allowed: BTreeMap<String, Vec<Option<ValueId>>> = BTreeMap::new();
    let mut op = 1u64;
    let mut value = |rng: &mut Rng| {
        op += 1;
        ValueId { op, slot: 0, len: rng.range(1, 3000) }
    };
    for i in 0..40 {
        let (mk, rk) = (format!("m{i}"), format!("r{i}"));
        let (mv, rv) = (value(&mut rng), value(&mut rng));
        let reply = mc.mc_set(&mk, &mv.bytes())?;
        if reply != "STORED" {
            return Err(format!("memcached set {mk} before the fault: {reply:?}"));
        }
        let reply = redis.redis(&[b"SET", rk.as_bytes(), &rv.bytes()])?;
        if reply != "+OK" {
            return Err(format!("Redis SET {rk} before the fault: {reply:?}"));
        }
        allowed.insert(mk, vec![Some(mv)]);
        allowed.insert(rk, vec![Some(rv)]);
        outcome.acknowledged += 2;
    }
    write_control(control, &fault.control(store, &mut rng))?;
    // memcached: sets until one fails (a few may pass: the fault can skip its first calls).
    for _ in 0..20 {
        let key = format!("m{}", rng.below(40));
        let v = value(&mut rng);
        let reply = mc.mc_set(&key, &v.bytes())?;
        if reply == "STORED" {
            allowed.insert(key, vec![Some(v)]);
            outcome.acknowledged += 1;
            continue;
        }
        allowed.get_mut(&key).expect("known key").push(Some(v));
        if !reply.starts_with("SERVER_ERROR ") || !reply.contains("reopen") {
            return Err(format!("memcached set under the fault: {reply:?}, expected SERVER_ERROR saying to reopen the store"));
        }
        outcome.memcached_error = reply;
        // The server closes a connection whose writes it could not sync (nothing of that
        // batch may be acknowledged): a client reconnects.
        mc = Client::connect(mc_port, server)?;
        break;
    }
    if outcome.memcached_error.is_empty() {
        return Err(format!("20 memcached sets under the fault were all STORED; injector: {:?}", Stats::read(stats)));
    }
    let key = format!("r{}", rng.below(40));
    let v = value(&mut rng);
    let reply = redis.redis(&[b"SET", key.as_bytes(), &v.bytes()])?;
    allowed.get_mut(&key).expect("known key").push(Some(v));
    if !reply.starts_with("-ERR ") || !reply.contains("reopen") {
        return Err(format!("Redis SET after the failure: {reply:?}, expected -ERR saying to reopen the store"));
    }
    outcome.redis_error = reply;
    redis = Client::connect(redis_port, server)?;
    // Reads keep working, from both protocols.
    for (key, options) in &allowed {
        let found = if key.starts_with('m') { mc.mc_get(key)? } else { redis.redis_get(key)? };
        if !options.iter().any(|o| found.as_deref() == o.map(|v| v.bytes()).as_deref()) {
            return Err(format!("{key} read {} while writes were refused", describe(&found)));
        }
        outcome.reads_while_refusing += 1;
    }
    // The fault gone, the store still refuses: only a reopen clears it.
    write_control(control, &watch_only(store))?;
    let v = value(&mut rng);
    let reply = mc.mc_set("m0", &v.bytes())?;
    allowed.get_mut("m0").expect("known key").push(Some(v));
    if !reply.starts_with("SERVER_ERROR ") {
        return Err(format!("memcached set after the fault was gone: {reply:?}, expected the store to keep refusing"));
    }
    if Stats::read(stats).injected_total == 0 {
        return Err("writes failed but the injector injected nothing".into());
    }
    drop((mc, redis));
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGKILL) };
    let _ = server.wait();
    let db = Db::open(store, store_options(true)).map_err(|e| format!("reopening the store (paranoid, no fault): {e}"))?;
    for (key, options) in &allowed {
        let found = db.get(key.as_bytes()).map_err(|e| format!("get {key}: {e}"))?;
        if !options.iter().any(|o| found.as_deref() == o.map(|v| v.bytes()).as_deref()) {
            return Err(format!("after reopening, {key} holds {}, expected its acknowledged value {:?}", describe(&found), options[0]));
        }
        outcome.keys_verified += 1;
    }
    db.close().map_err(|e| format!("closing the store after verifying: {e}"))?;
    Ok(outcome)
}
