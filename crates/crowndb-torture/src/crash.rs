//! Crash torture: a writer child process, killed with SIGKILL at random moments, and the
//! parent that reopens the store after each kill and checks it against the side log.
//!
//! The writer ([`run_writer`]) does puts, deletes, atomic batches, streamed values of a
//! few MiB and full compactions with `Durability::Always`, logging each operation's intent
//! before calling the engine and its ack after (protocol in [`crate::oplog`]). The parent
//! ([`run_torture`]) keeps a model of every key's acknowledged value. After a kill it reads
//! the new log lines, applies every acknowledged operation to the model, runs `crowndb check`
//! on the crashed directory when the binary is at hand, opens the store with
//! `paranoid_open` (every record verified), and requires:
//!
//! - every key holds exactly its acknowledged value (or is absent if acknowledged deleted);
//! - the one operation in flight, if any, is there whole or not at all: a batch's keys all
//!   old or all new, a stream's value absent (old) or complete;
//! - iteration finds no key the model does not expect.
//!
//! The observed outcome of the in-flight operation then becomes the model's state, and the
//! next cycle starts a new writer on the same store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crowndb::{Db, Durability, Options};

use crate::oplog::{self, Event, Item, LogWriter, Op};
use crate::rng::Rng;
use crate::workload::{describe, effects, matches, perform, read_value, Known, ABSENT};

/// Segment size of the tortured store: small, so segments are sealed, compacted and
/// deleted often while the writer runs.
pub const SEGMENT_SIZE: u64 = 2 << 20;
const SMALL_KEYS: u64 = 200;
const STREAM_KEYS: u64 = 6;

/// The store options both the writer and the verifier use.
pub fn store_options(paranoid: bool) -> Options {
    Options { durability: Durability::Always, segment_size: SEGMENT_SIZE, paranoid_open: paranoid, ..Options::default() }
}

fn small_key(rng: &mut Rng) -> String {
    if rng.chance(5) {
        format!("s{}", rng.below(STREAM_KEYS))
    } else {
        format!("k{:03}", rng.below(SMALL_KEYS))
    }
}

fn small_len(rng: &mut Rng) -> u64 {
    match rng.below(100) {
        0..70 => rng.range(0, 100),
        70..95 => rng.range(100, 4096),
        _ => rng.range(4096, 256 << 10),
    }
}

fn next_op(rng: &mut Rng) -> Op {
    match rng.below(100) {
        0..50 => Op::Put { key: small_key(rng), len: small_len(rng) },
        50..65 => Op::Delete { key: small_key(rng) },
        65..94 => {
            let n = rng.range(2, 10);
            Op::Batch(
                (0..n)
                    .map(|_| {
                        if rng.chance(75) {
                            Item::Put { key: small_key(rng), len: small_len(rng).min(8192) }
                        } else {
                            Item::Delete { key: small_key(rng) }
                        }
                    })
                    .collect(),
            )
        }
        94..99 => Op::Stream { key: format!("s{}", rng.below(STREAM_KEYS)), len: rng.range(512 << 10, 3 << 20) },
        _ => Op::Compact,
    }
}

/// The writer child: opens the store and performs random operations until killed.
/// Operation ids start at `first_id`. Returns only on an error (exit code 2 in `main`).
pub fn run_writer(dir: &Path, log: &Path, seed: u64, first_id: u64, sync_log: bool) -> Result<(), String> {
    let mut log = LogWriter::open(log, sync_log).map_err(|e| format!("opening the side log {}: {e}", log.display()))?;
    let db = Db::open(dir, store_options(false)).map_err(|e| format!("opening the store: {e}"))?;
    let mut rng = Rng::new(seed);
    for id in first_id.. {
        let op = next_op(&mut rng);
        log.append(&Event::Intent { id, op: op.clone() }).map_err(|e| format!("side log: {e}"))?;
        let result = perform(&db, id, &op, &mut rng);
        result.map_err(|e| format!("operation {id} ({op:?}) failed: {e}"))?;
        log.append(&Event::Ack { id }).map_err(|e| format!("side log: {e}"))?;
    }
    Ok(())
}

type Model = BTreeMap<String, Known>;

fn apply(model: &mut Model, id: u64, op: &Op) {
    model.extend(effects(id, op));
}

fn touched_keys(op: &Op) -> Vec<String> {
    effects(0, op).into_iter().map(|(key, _)| key).collect()
}

/// Settings of a torture run.
#[derive(Debug, Clone)]
pub struct TortureConfig {
    pub dir: PathBuf,
    pub cycles: u64,
    pub seed: u64,
    /// The kill comes between these many milliseconds after the writer starts.
    pub min_delay_ms: u64,
    pub max_delay_ms: u64,
    pub sync_log: bool,
    /// The `crowndb` binary, to run `crowndb check` after each kill; `None`: skip that step
    /// (the paranoid open still verifies every record).
    pub check_bin: Option<PathBuf>,
    /// Print one line per cycle.
    pub verbose: bool,
    /// Fail on the known issues listed in [`TortureReport`] (fixed since; the default) instead
    /// of counting them (`--tolerate-known-issues`, for bisecting older commits).
    pub strict: bool,
}

/// Figures of a finished run.
#[derive(Debug, Default, Clone)]
pub struct TortureReport {
    pub cycles: u64,
    pub acknowledged: u64,
    pub acknowledged_batches: u64,
    pub acknowledged_streams: u64,
    pub acknowledged_compactions: u64,
    /// Key checks after kills (keys compared with the model, summed over cycles).
    pub keys_verified: u64,
    /// Kills that left an operation in flight, and how many of those were found applied.
    pub in_flight: u64,
    pub in_flight_applied: u64,
    /// Kills that came before the writer acknowledged anything in its cycle.
    pub kills_before_first_ack: u64,
    pub checks_run: u64,
    pub check_warnings: u64,
    /// Known issue 1 (engine, fixed in 1bf8196): a kill between creating a segment file and
    /// writing its header left an empty or header-less newest segment, and the store then
    /// refused to open. Without `strict`, the harness deletes that file and counts it here.
    pub known_uninitialised_segment: u64,
    /// Known issue 2 (`crowndb check`, fixed in 323a843): torn writes a kill leaves, which the engine's open cuts
    /// cleanly, are reported as DAMAGE: (a) a torn last record in an unsealed segment that is not
    /// the newest generation (the writer's active segment is often older than the compaction
    /// outputs; check treats only the newest as being written); (b) a batch whose envelope
    /// header was not written yet (check takes its complete inner records for records, and
    /// `crowndb repair` keeps them: half a batch). Without `strict`, such lines are counted here.
    pub known_check_torn_unsealed: u64,
    pub elapsed: Duration,
}

impl std::fmt::Display for TortureReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cycles in {:.1} s: {} operations acknowledged ({} batches, {} streams, {} compactions), {} key checks, \
             {} kills with an operation in flight ({} of them found applied, the rest absent), {} kills before the first ack, \
             {} `crowndb check` runs ({} warnings), known issues seen: {} uninitialised newest segments, \
             {} torn writes reported as damage by check; 0 failures",
            self.cycles,
            self.elapsed.as_secs_f64(),
            self.acknowledged,
            self.acknowledged_batches,
            self.acknowledged_streams,
            self.acknowledged_compactions,
            self.keys_verified,
            self.in_flight,
            self.in_flight_applied,
            self.kills_before_first_ack,
            self.checks_run,
            self.check_warnings,
            self.known_uninitialised_segment,
            self.known_check_torn_unsealed
        )
    }
}

/// Runs `config.cycles` kill-and-verify cycles; `Err` describes the first violation.
pub fn run_torture(config: &TortureConfig) -> Result<TortureReport, String> {
    let started = Instant::now();
    std::fs::create_dir_all(&config.dir).map_err(|e| format!("creating {}: {e}", config.dir.display()))?;
    let store = config.dir.join("store");
    let log = config.dir.join("ops.log");
    let exe = std::env::current_exe().map_err(|e| format!("finding the torture binary: {e}"))?;
    let mut rng = Rng::new(config.seed);
    let mut model = Model::new();
    let mut report = TortureReport::default();
    let mut log_pos = 0u64;
    let mut next_id = 1u64;
    for cycle in 0..config.cycles {
        let stderr_path = config.dir.join("writer.stderr");
        let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
        let mut child = Command::new(&exe)
            .arg("writer")
            .arg("--dir")
            .arg(&store)
            .arg("--log")
            .arg(&log)
            .args(["--seed", &(config.seed ^ (cycle + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_string()])
            .args(["--first-id", &next_id.to_string()])
            .args(if config.sync_log { &["--sync-log"][..] } else { &[][..] })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("starting the writer: {e}"))?;
        let delay = Duration::from_millis(rng.range(config.min_delay_ms, config.max_delay_ms));
        let deadline = Instant::now() + delay;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(format!("cycle {cycle}: the writer exited by itself ({status}): {text}"));
            }
            std::thread::sleep(Duration::from_millis(2).min(deadline.saturating_duration_since(Instant::now())));
        }
        // SIGKILL: no destructor, no flush, no sync runs in the writer.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        let status = child.wait().map_err(|e| e.to_string())?;
        use std::os::unix::process::ExitStatusExt;
        if status.signal() != Some(libc::SIGKILL) {
            let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            return Err(format!("cycle {cycle}: the writer ended with {status} before the kill: {text}"));
        }

        // The log: acknowledged operations go into the model; at most one is in flight.
        let (events, valid_len) = oplog::read(&log, log_pos).map_err(|e| format!("reading the side log: {e}"))?;
        let mut pending: Option<(u64, Op)> = None;
        let mut acked_this_cycle = 0;
        for event in events {
            match event {
                Event::Intent { id, op } => {
                    if let Some((old, _)) = &pending {
                        return Err(format!("side log: intent {id} follows intent {old} without its ack"));
                    }
                    if id != next_id {
                        return Err(format!("side log: intent {id}, expected {next_id}"));
                    }
                    next_id = id + 1;
                    pending = Some((id, op));
                }
                Event::Ack { id } => {
                    let Some((pid, op)) = pending.take().filter(|(pid, _)| *pid == id) else {
                        return Err(format!("side log: ack {id} without its intent"));
                    };
                    apply(&mut model, pid, &op);
                    acked_this_cycle += 1;
                    report.acknowledged += 1;
                    match op {
                        Op::Batch(_) => report.acknowledged_batches += 1,
                        Op::Stream { .. } => report.acknowledged_streams += 1,
                        Op::Compact => report.acknowledged_compactions += 1,
                        _ => {}
                    }
                }
            }
        }
        // Drop a torn last line so the next writer appends after good lines only.
        truncate(&log, valid_len)?;
        log_pos = valid_len;
        if acked_this_cycle == 0 {
            report.kills_before_first_ack += 1;
        }

        if let Some(path) = uninitialised_newest_segment(&store) {
            if config.strict {
                return Err(format!(
                    "cycle {cycle}: known issue 1: the newest segment {} has no header (killed while creating it)",
                    path.display()
                ));
            }
            std::fs::remove_file(&path).map_err(|e| format!("removing {}: {e}", path.display()))?;
            report.known_uninitialised_segment += 1;
        }
        if let Some(bin) = &config.check_bin {
            let found =
                run_check(bin, &store, !config.strict).map_err(|e| format!("cycle {cycle}: `crowndb check` after the kill: {e}"))?;
            report.check_warnings += found.warnings;
            report.known_check_torn_unsealed += found.tolerated;
            report.checks_run += 1;
        }
        let (verified, applied) = verify(&store, &mut model, pending.as_ref()).map_err(|e| format!("cycle {cycle}: {e}"))?;
        if let Some(bin) = &config.check_bin {
            // After a recovering open and a clean close, the store must check clean.
            let found = run_check(bin, &store, false).map_err(|e| format!("cycle {cycle}: `crowndb check` after recovery: {e}"))?;
            if found.warnings > 0 {
                return Err(format!("cycle {cycle}: `crowndb check` after recovery and a clean close warns:\n{}", found.output));
            }
            report.checks_run += 1;
        }
        report.keys_verified += verified;
        if let Some(applied) = applied {
            report.in_flight += 1;
            report.in_flight_applied += applied as u64;
        }
        report.cycles += 1;
        if config.verbose {
            println!(
                "cycle {cycle}: killed after {} ms, {acked_this_cycle} acks, in flight: {}, {verified} keys verified",
                delay.as_millis(),
                match (&pending, applied) {
                    (Some((_, op)), Some(a)) => format!("{} ({})", op_name(op), if a { "applied" } else { "absent" }),
                    (Some((_, op)), None) => format!("{} (no visible effect)", op_name(op)),
                    _ => "none".to_string(),
                }
            );
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Put { .. } => "put",
        Op::Delete { .. } => "delete",
        Op::Batch(_) => "batch",
        Op::Stream { .. } => "stream",
        Op::Compact => "compaction",
    }
}

fn truncate(path: &Path, len: u64) -> Result<(), String> {
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(f) => f.set_len(len).map_err(|e| format!("truncating the side log: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("opening the side log: {e}")),
    }
}

/// The segment file with the highest generation.
fn newest_segment(store: &Path) -> Option<PathBuf> {
    std::fs::read_dir(store)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| crowndb::format::parse_segment_file_name(e.file_name().to_str()?).map(|g| (g, e.path())))
        .max_by_key(|(g, _)| *g)
        .map(|(_, p)| p)
}

/// What one `crowndb check` run reported.
#[derive(Debug, Default)]
pub struct CheckFindings {
    pub warnings: u64,
    /// DAMAGE lines of known issue 2, tolerated (see [`TortureReport`]).
    pub tolerated: u64,
    pub output: String,
}

/// Runs `crowndb check`; `Err` if it found damage. With `tolerate_torn_unsealed`, the DAMAGE
/// lines of known issue 2 (see [`TortureReport`]) are counted rather than failed.
pub fn run_check(bin: &Path, store: &Path, tolerate_torn_unsealed: bool) -> Result<CheckFindings, String> {
    if !store.exists() {
        return Ok(CheckFindings::default());
    }
    let out = Command::new(bin)
        .arg("check")
        .arg("--data-dir")
        .arg(store)
        .output()
        .map_err(|e| format!("running {} check: {e}", bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let output = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let unsealed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("WARNING") && l.contains("segment is not sealed"))
        .filter_map(|l| l.split(' ').nth(1))
        .collect();
    let newest = newest_segment(store);
    let mut findings = CheckFindings { output: output.clone(), ..CheckFindings::default() };
    let mut untolerated = 0;
    for line in stdout.lines() {
        if line.starts_with("WARNING") {
            findings.warnings += 1;
        } else if line.starts_with("DAMAGE") {
            let file = line.split(' ').nth(1).unwrap_or("");
            // Only in a segment being written when the kill came: unsealed, or the newest.
            let open_segment = unsealed.contains(&file) || newest.as_deref() == Some(Path::new(file));
            // 2a: a torn last record. 2b: a batch envelope whose 32-byte header was not written
            // yet: check resynchronises on the complete inner records after it.
            let torn_record = line.contains(": bad record:") && line.ends_with("up to the end of the data");
            let torn_envelope = line.ends_with(": 32 zero bytes where records should be");
            let known = open_segment && (torn_record || torn_envelope);
            if known && tolerate_torn_unsealed {
                findings.tolerated += 1;
            } else {
                untolerated += 1;
            }
        }
    }
    let damaged_exit = out.status.code() == Some(4);
    let clean_exit = out.status.success() || (damaged_exit && findings.tolerated > 0);
    if untolerated > 0 || !clean_exit {
        return Err(format!("it found damage ({}):\n{output}", out.status));
    }
    Ok(findings)
}

/// Known issue 1: the newest segment file, if it is shorter than a segment header or its
/// header is all zeroes (created, not yet initialised, when the kill came).
fn uninitialised_newest_segment(store: &Path) -> Option<PathBuf> {
    let newest = newest_segment(store)?;
    let bytes = std::fs::read(&newest).ok()?;
    let header_len = crowndb::format::SEGMENT_HEADER_LEN as usize;
    (bytes.len() < header_len || bytes[..header_len].iter().all(|&b| b == 0)).then_some(newest)
}

/// Opens the store paranoid and compares it with the model. Returns the number of keys
/// verified and, if an operation was in flight and had a visible effect, whether it was
/// applied; the model is updated to the observed outcome.
fn verify(store: &Path, model: &mut Model, pending: Option<&(u64, Op)>) -> Result<(u64, Option<bool>), String> {
    if !store.exists() {
        return if model.values().all(|k| k.value.is_none()) { Ok((0, None)) } else { Err("the store directory is gone".into()) };
    }
    let db = Db::open(store, store_options(true)).map_err(|e| format!("reopening the store (paranoid): {e}"))?;
    let in_flight: Vec<String> = pending.map(|(_, op)| touched_keys(op)).unwrap_or_default();
    let mut verified = 0;
    for (key, expected) in model.iter() {
        if in_flight.contains(key) {
            continue;
        }
        let found = read_value(&db, key, expected.streamed)?;
        if !matches(&found, expected) {
            return Err(format!("key {key}: acknowledged {:?}, found {}", expected.value, describe(&found)));
        }
        verified += 1;
    }

    // The operation in flight: every key it touches old, or every key new.
    let mut applied = None;
    if let Some((id, op)) = pending {
        let mut after = model.clone();
        apply(&mut after, *id, op);
        let absent = ABSENT;
        let mut saw_old = Vec::new();
        let mut saw_new = Vec::new();
        let mut keys = in_flight.clone();
        keys.sort();
        keys.dedup();
        for key in &keys {
            let old = model.get(key).copied().unwrap_or(absent);
            let new = after.get(key).copied().unwrap_or(absent);
            let found = read_value(&db, key, new.streamed || old.streamed)?;
            let (is_old, is_new) = (matches(&found, &old), matches(&found, &new));
            if !is_old && !is_new {
                return Err(format!(
                    "key {key}, in flight in operation {id} ({op:?}): found {}, neither the old {:?} nor the new {:?}",
                    describe(&found),
                    old.value,
                    new.value
                ));
            }
            if is_old && !is_new {
                saw_old.push(key.clone());
            }
            if is_new && !is_old {
                saw_new.push(key.clone());
            }
            verified += 1;
        }
        if !saw_old.is_empty() && !saw_new.is_empty() {
            return Err(format!("operation {id} ({op:?}) is half applied: keys {saw_new:?} new, keys {saw_old:?} old"));
        }
        if !saw_new.is_empty() {
            *model = after;
            applied = Some(true);
        } else if !saw_old.is_empty() {
            applied = Some(false);
        }
    }

    // Nothing the model does not expect is visible.
    for item in db.iter() {
        let (key, _) = item.map_err(|e| format!("iterating: {e}"))?;
        let key = String::from_utf8_lossy(&key).into_owned();
        if model.get(&key).is_none_or(|k| k.value.is_none()) {
            return Err(format!("iteration found key {key:?}, which no acknowledged write left there"));
        }
    }
    db.close().map_err(|e| format!("closing the store after verifying: {e}"))?;
    Ok((verified, applied))
}

/// For a test that runs `crowndb serve`: the binary, or `None` after saying SKIPPED. Under
/// `CI` a missing binary fails the test instead (cargo test --workspace builds it).
pub fn crowndb_bin_for_test() -> Option<PathBuf> {
    let bin = find_crowndb_bin();
    if bin.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI is set and the crowndb binary is missing (cargo build -p crowndb-cli)");
        eprintln!("SKIPPED: no crowndb binary next to the test; run cargo build -p crowndb-cli");
    }
    bin
}

/// The `crowndb` binary next to this executable (cargo puts every binary of the workspace
/// in `target/<profile>/`), or `$CROWNDB_BIN`.
pub fn find_crowndb_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CROWNDB_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?;
    // Test executables live in target/<profile>/deps.
    if dir.ends_with("deps") {
        dir = dir.parent()?;
    }
    let bin = dir.join("crowndb");
    bin.is_file().then_some(bin)
}
