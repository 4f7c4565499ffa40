//! Fault injection: a full disk (a size-limited tmpfs mounted by the harness) and damaged
//! segment files (bit flips and truncations at random offsets of a closed store).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crowndb::{Db, Durability, ErrorKind, Options, WriteBatch, WriteOptions};

use crate::rng::Rng;
use crate::values::ValueId;

/// A tmpfs of a fixed size mounted on a directory for as long as this value lives.
pub struct TmpfsMount {
    dir: PathBuf,
}

impl TmpfsMount {
    /// Mounts a tmpfs of `bytes` on `dir` (which must exist). `Err` carries the OS error, e.g.
    /// `EPERM` when the process may not mount (not root, or a container without
    /// `CAP_SYS_ADMIN`).
    pub fn new(dir: &Path, bytes: u64) -> std::io::Result<TmpfsMount> {
        let target = CString::new(dir.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
        let options = CString::new(format!("size={bytes},mode=0755")).map_err(std::io::Error::other)?;
        let fstype = c"tmpfs";
        // SAFETY: every pointer is a valid NUL-terminated string for the duration of the call.
        let rc = unsafe { libc::mount(fstype.as_ptr(), target.as_ptr(), fstype.as_ptr(), 0, options.as_ptr().cast()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(TmpfsMount { dir: dir.to_path_buf() })
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        if let Ok(target) = CString::new(self.dir.as_os_str().as_bytes()) {
            // SAFETY: a valid NUL-terminated path. MNT_DETACH: still-open files do not keep it busy.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// Figures of a disk-full run.
#[derive(Debug, Default)]
pub struct DiskFullReport {
    pub acknowledged_before_full: u64,
    pub first_error: String,
    pub failed_writes_while_full: u64,
    pub acknowledged_after_freeing: u64,
    pub keys_verified_after_reopen: u64,
}

impl std::fmt::Display for DiskFullReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} writes acknowledged until the disk filled; {} writes refused while full, all DiskFull; \
             reads served every acknowledged key while full; {} writes acknowledged after space was freed; \
             {} keys verified after a paranoid reopen. First error: {}",
            self.acknowledged_before_full,
            self.failed_writes_while_full,
            self.acknowledged_after_freeing,
            self.keys_verified_after_reopen,
            self.first_error
        )
    }
}

/// Fills a store in `fs_dir` (a small file system of its own, with `ballast_bytes` of
/// ballast written first) until writes fail, and checks: the error is `DiskFull` with a clear
/// message, reads keep working, deleting the ballast lets writes resume, and a paranoid reopen
/// finds every acknowledged write.
pub fn run_disk_full(fs_dir: &Path, ballast_bytes: u64, seed: u64) -> Result<DiskFullReport, String> {
    let ballast = fs_dir.join("ballast");
    std::fs::write(&ballast, vec![0xAB; ballast_bytes as usize]).map_err(|e| format!("writing the ballast: {e}"))?;
    let store = fs_dir.join("store");
    let options = Options {
        durability: Durability::Always,
        segment_size: 1 << 20,
        background_compaction: false,
        paranoid_open: false,
        ..Options::default()
    };
    let db = Db::open(&store, options.clone()).map_err(|e| format!("opening the store: {e}"))?;
    let mut rng = Rng::new(seed);
    let mut acked: BTreeMap<String, Option<ValueId>> = BTreeMap::new();
    let mut report = DiskFullReport::default();
    let mut op = 0u64;
    let synced = WriteOptions::synced();
    let first_error = std::cell::RefCell::new(String::new());

    // One write: a put, or now and then a batch or a delete. `Ok(false)`: refused, disk full.
    let mut write = |db: &Db, acked: &mut BTreeMap<String, Option<ValueId>>, rng: &mut Rng| -> Result<bool, String> {
        op += 1;
        let key = format!("k{:05}", rng.below(100_000));
        let result = match rng.below(10) {
            0 => {
                let mut batch = WriteBatch::new();
                let keys: Vec<(String, ValueId)> =
                    (0..4).map(|slot| (format!("b{op}.{slot}"), ValueId { op, slot, len: rng.range(100, 8000) })).collect();
                for (k, v) in &keys {
                    batch.put(k.as_bytes(), &v.bytes());
                }
                db.write_opt(&batch, &synced).map(|()| keys.into_iter().map(|(k, v)| (k, Some(v))).collect::<Vec<_>>())
            }
            1 if !acked.is_empty() => {
                let victim = acked.keys().nth(rng.below(acked.len() as u64) as usize).cloned().unwrap_or(key);
                db.delete_opt(victim.as_bytes(), &synced).map(|_| vec![(victim, None)])
            }
            _ => {
                let v = ValueId { op, slot: 0, len: rng.range(1000, 16000) };
                db.put_opt(key.as_bytes(), &v.bytes(), &synced).map(|_| vec![(key, Some(v))])
            }
        };
        match result {
            Ok(changes) => {
                acked.extend(changes);
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::DiskFull => {
                let text = e.to_string();
                if !text.contains("disk full") || !text.contains("free space") {
                    return Err(format!("a DiskFull error without a clear message: {text}"));
                }
                if first_error.borrow().is_empty() {
                    *first_error.borrow_mut() = text;
                }
                Ok(false)
            }
            Err(e) => Err(format!("write {op} failed with {:?}, not DiskFull: {e}", e.kind())),
        }
    };

    // Fill.
    let mut full = false;
    for _ in 0..100_000 {
        if write(&db, &mut acked, &mut rng)? {
            report.acknowledged_before_full += 1;
        } else {
            full = true;
            break;
        }
    }
    if !full {
        return Err("the file system never filled up".into());
    }
    for _ in 0..20 {
        if write(&db, &mut acked, &mut rng)? {
            report.acknowledged_before_full += 1;
        } else {
            report.failed_writes_while_full += 1;
        }
    }
    report.first_error = first_error.borrow().clone();
    if report.failed_writes_while_full == 0 {
        return Err("writes succeeded again on a full disk".into());
    }
    verify_map(&db, &acked).map_err(|e| format!("reading while the disk is full: {e}"))?;

    // Free space: writes resume.
    std::fs::remove_file(&ballast).map_err(|e| format!("removing the ballast: {e}"))?;
    for i in 0..50 {
        if write(&db, &mut acked, &mut rng)? {
            report.acknowledged_after_freeing += 1;
        } else if i >= 5 {
            return Err(format!("writes still fail with DiskFull after {} MiB were freed", ballast_bytes >> 20));
        }
    }
    verify_map(&db, &acked).map_err(|e| format!("reading after freeing space: {e}"))?;
    db.close().map_err(|e| format!("closing: {e}"))?;

    let db = Db::open(&store, Options { paranoid_open: true, ..options }).map_err(|e| format!("reopening (paranoid): {e}"))?;
    report.keys_verified_after_reopen = verify_map(&db, &acked).map_err(|e| format!("after reopening: {e}"))?;
    db.close().map_err(|e| format!("closing: {e}"))?;
    Ok(report)
}

fn verify_map(db: &Db, acked: &BTreeMap<String, Option<ValueId>>) -> Result<u64, String> {
    for (key, value) in acked {
        let found = db.get(key.as_bytes()).map_err(|e| format!("get {key}: {e}"))?;
        let expected = value.map(|v| v.bytes());
        if found != expected {
            return Err(format!(
                "key {key}: expected {:?}, found {}",
                value,
                found.as_deref().map_or("absent".to_string(), ValueId::describe)
            ));
        }
    }
    Ok(acked.len() as u64)
}

/// Figures of a damage run.
#[derive(Debug, Default)]
pub struct DamageReport {
    pub trials: u64,
    pub bit_flips: u64,
    pub truncations: u64,
    pub open_refused: u64,
    pub reads: u64,
    pub read_errors: u64,
    /// Reads that returned an older version of the key (or a deleted key's old value):
    /// the damage removed the newer record, and nothing says so at read time.
    pub stale_reads: u64,
    /// Reads that found nothing where a value was acknowledged.
    pub lost_reads: u64,
    /// Stale or lost reads in trials that flipped a bit (the rest come from truncations).
    pub stale_or_lost_after_flip: u64,
    pub detected_by_check: u64,
    pub detected_by_paranoid_open: u64,
    /// Damage that neither found, in bytes no reader looks at (the trailer's reserved field).
    pub harmless_undetected: u64,
    /// The newest segment cut exactly between two records: it looks like the active segment
    /// of a store that crashed, so nothing can tell (the records after the cut are lost).
    pub undetectable_clean_cuts: u64,
    pub check_runs: u64,
    /// `crowndb repair` runs, and how many left a store that `crowndb check` finds clean.
    pub repairs: u64,
    pub repaired_clean: u64,
    /// Reads of every key after repair: errors, and values older than current or absent.
    pub reads_after_repair: u64,
    pub errors_after_repair: u64,
    pub stale_or_lost_after_repair: u64,
}

impl std::fmt::Display for DamageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} trials ({} bit flips, {} truncations): 0 wrong values; open refused {} times; {} reads: {} errors, \
             {} stale (an older version), {} lost ({} of those after bit flips, the rest after truncations); damage found by check {} of {} runs, by paranoid open {} times; \
             {} harmless flips in reserved bytes found by neither, {} cuts of the newest segment between records \
             (indistinguishable from a crash) found by neither; {} repairs, {} of them checked clean after, \
             {} reads after repair: {} errors, {} stale or lost, 0 wrong",
            self.trials,
            self.bit_flips,
            self.truncations,
            self.open_refused,
            self.reads,
            self.read_errors,
            self.stale_reads,
            self.lost_reads,
            self.stale_or_lost_after_flip,
            self.detected_by_check,
            self.check_runs,
            self.detected_by_paranoid_open,
            self.harmless_undetected,
            self.undetectable_clean_cuts,
            self.repairs,
            self.repaired_clean,
            self.reads_after_repair,
            self.errors_after_repair,
            self.stale_or_lost_after_repair
        )
    }
}

/// Every version each key has had, oldest first (`None`: deleted).
type History = BTreeMap<Vec<u8>, Vec<Option<Vec<u8>>>>;

fn build_pristine(dir: &Path, seed: u64) -> Result<History, String> {
    let options = Options {
        durability: Durability::Never,
        segment_size: 64 << 10,
        compression: crowndb::Compression::Auto,
        background_compaction: false,
        ..Options::default()
    };
    let db = Db::open(dir, options).map_err(|e| format!("creating the store: {e}"))?;
    let mut rng = Rng::new(seed);
    let mut history = History::new();
    let mut record = |key: &[u8], value: Option<Vec<u8>>| history.entry(key.to_vec()).or_default().push(value);
    for i in 0..400u64 {
        let key = format!("key{i:04}").into_bytes();
        let value = if i % 3 == 0 {
            // Compressible: stored LZ4.
            format!("value of {i} ").repeat(rng.range(5, 80) as usize).into_bytes()
        } else {
            ValueId { op: i, slot: 0, len: rng.range(0, 1500) }.bytes()
        };
        db.put(&key, &value).map_err(|e| e.to_string())?;
        record(&key, Some(value));
    }
    for i in (0..400u64).step_by(7) {
        let key = format!("key{i:04}").into_bytes();
        let value = ValueId { op: 1000 + i, slot: 0, len: rng.range(1, 900) }.bytes();
        db.put(&key, &value).map_err(|e| e.to_string())?;
        record(&key, Some(value));
    }
    for i in (3..400u64).step_by(11) {
        let key = format!("key{i:04}").into_bytes();
        db.delete(&key).map_err(|e| e.to_string())?;
        record(&key, None);
    }
    for b in 0..20u64 {
        let mut batch = WriteBatch::new();
        for slot in 0..5u32 {
            let key = format!("batch{b}.{slot}").into_bytes();
            let value = ValueId { op: 5000 + b, slot, len: rng.range(10, 600) }.bytes();
            batch.put(&key, &value);
            record(&key, Some(value));
        }
        db.write(&batch).map_err(|e| e.to_string())?;
    }
    db.close().map_err(|e| format!("closing the pristine store: {e}"))?;
    Ok(history)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(from).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.file_type().map_err(|e| e.to_string())?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn segment_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().and_then(crowndb::format::parse_segment_file_name).is_some())
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// Damages copies of a closed store `trials` times (a random bit flipped, or the file cut,
/// at a random offset of a random segment) and checks that reads never return a value the
/// key never had, and that `crowndb check` (if `check_bin`) or a paranoid open finds the damage.
pub fn run_damage(dir: &Path, trials: u64, seed: u64, check_bin: Option<&Path>) -> Result<DamageReport, String> {
    let pristine = dir.join("pristine");
    let _ = std::fs::remove_dir_all(dir);
    let history = build_pristine(&pristine, seed)?;
    let files = segment_files(&pristine)?;
    if files.len() < 3 {
        return Err(format!("the pristine store has only {} segments", files.len()));
    }
    let mut rng = Rng::new(seed ^ 0xDA3A6E);
    let mut report = DamageReport::default();
    let damaged = dir.join("damaged");
    let paranoid_copy = dir.join("paranoid");
    let repaired = dir.join("repaired");
    for trial in 0..trials {
        copy_dir(&pristine, &damaged)?;
        let pick = rng.below(files.len() as u64) as usize;
        let is_newest = pick + 1 == files.len();
        let victim = damaged.join(files[pick].file_name().expect("a file name"));
        let len = std::fs::metadata(&victim).map_err(|e| e.to_string())?.len();
        let offset = rng.below(len);
        let mut bytes = std::fs::read(&victim).map_err(|e| e.to_string())?;
        let what = if rng.chance(70) {
            let bit = rng.below(8);
            bytes[offset as usize] ^= 1 << bit;
            report.bit_flips += 1;
            format!("bit {bit} of byte {offset} of {} ({len} bytes) flipped", victim.display())
        } else {
            bytes.truncate(offset as usize);
            report.truncations += 1;
            format!("{} ({len} bytes) cut at {offset}", victim.display())
        };
        std::fs::write(&victim, &bytes).map_err(|e| e.to_string())?;
        let in_reserved = bytes.len() as u64 == len && offset >= len - 4;
        let context = |e: String| format!("trial {trial}: {what}: {e}");
        let flipped = bytes.len() as u64 == len;
        let bad_before = report.stale_reads + report.lost_reads;

        let mut detected = false;
        if let Some(bin) = check_bin {
            let out = Command::new(bin).arg("check").arg("--data-dir").arg(&damaged).output().map_err(|e| context(e.to_string()))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            report.check_runs += 1;
            if !out.status.success() || stdout.lines().any(|l| l.starts_with("DAMAGE") || l.starts_with("WARNING")) {
                report.detected_by_check += 1;
                detected = true;
            }
            if out.status.code().is_none() || out.status.code() == Some(101) {
                return Err(context(format!("`crowndb check` crashed: {}", String::from_utf8_lossy(&out.stderr))));
            }
        }
        copy_dir(&damaged, &paranoid_copy)?;
        if let Some(bin) = check_bin {
            copy_dir(&damaged, &repaired)?;
            repair_and_read(bin, &repaired, &history, &mut report).map_err(context)?;
        }
        let paranoid = Options { paranoid_open: true, background_compaction: false, ..Options::default() };
        if std::env::var_os("CROWNDB_DAMAGE_VERBOSE").is_some() {
            println!("trial {trial}: {what}; paranoid open:");
        }
        match Db::open(&paranoid_copy, paranoid) {
            Err(_) => {
                report.detected_by_paranoid_open += 1;
                detected = true;
            }
            Ok(db) => {
                // A paranoid open that recovers silently (a cut newest segment looks like a
                // crash's torn tail) still has to serve only true values.
                check_reads(&db, &history, &mut report).map_err(context)?;
                drop(db);
            }
        }
        if !detected {
            if in_reserved {
                report.harmless_undetected += 1;
            } else if !flipped && is_newest {
                report.undetectable_clean_cuts += 1;
            } else {
                return Err(context("neither `crowndb check` nor a paranoid open noticed".into()));
            }
        }

        if std::env::var_os("CROWNDB_DAMAGE_VERBOSE").is_some() {
            println!("trial {trial}: normal open:");
        }
        match Db::open(&damaged, Options { background_compaction: false, ..Options::default() }) {
            Err(_) => report.open_refused += 1,
            Ok(db) => {
                check_reads(&db, &history, &mut report).map_err(context)?;
                drop(db);
            }
        }
        if flipped {
            let bad = report.stale_reads + report.lost_reads - bad_before;
            report.stale_or_lost_after_flip += bad;
            if bad > 0 && std::env::var_os("CROWNDB_DAMAGE_VERBOSE").is_some() {
                println!("trial {trial}: {what}: {bad} stale or lost reads");
            }
        }
        report.trials += 1;
    }
    Ok(report)
}

/// Runs `crowndb repair` on a damaged copy, then `crowndb check` (which must be clean) and reads
/// every key: no wrong value, and no error (repair removed what does not verify).
fn repair_and_read(bin: &Path, dir: &Path, history: &History, report: &mut DamageReport) -> Result<(), String> {
    let out = Command::new(bin).arg("repair").arg("--data-dir").arg(dir).output().map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !matches!(out.status.code(), Some(0) | Some(4)) {
        return Err(format!("`crowndb repair` failed ({}):\n{text}", out.status));
    }
    report.repairs += 1;
    let out = Command::new(bin).arg("check").arg("--data-dir").arg(dir).output().map_err(|e| e.to_string())?;
    let checked = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && !checked.lines().any(|l| l.starts_with("DAMAGE")) {
        report.repaired_clean += 1;
    } else if std::env::var_os("CROWNDB_DAMAGE_VERBOSE").is_some() {
        println!("  after repair, check says:\n{checked}");
    }
    let db = Db::open(dir, Options { background_compaction: false, ..Options::default() })
        .map_err(|e| format!("opening the repaired store: {e}\nrepair said:\n{text}"))?;
    let mut after = DamageReport::default();
    check_reads(&db, history, &mut after).map_err(|e| format!("after repair: {e}"))?;
    report.reads_after_repair += after.reads;
    report.errors_after_repair += after.read_errors;
    report.stale_or_lost_after_repair += after.stale_reads + after.lost_reads;
    Ok(())
}

/// Reads every key and iterates: a value must be one the key really had.
fn check_reads(db: &Db, history: &History, report: &mut DamageReport) -> Result<(), String> {
    for (key, versions) in history {
        report.reads += 1;
        let current = versions.last().expect("at least one version");
        match db.get(key) {
            Err(_) => report.read_errors += 1,
            Ok(found) if found == *current => {}
            Ok(None) => {
                report.lost_reads += 1;
                if std::env::var_os("CROWNDB_DAMAGE_VERBOSE").is_some() {
                    println!("  lost: {} (versions: {})", String::from_utf8_lossy(key), versions.len());
                }
            }
            Ok(Some(v)) if versions.contains(&Some(v.clone())) => {
                report.stale_reads += 1;
                if std::env::var_os("CROWNDB_DAMAGE_VERBOSE").is_some() {
                    println!(
                        "  stale: {} (versions: {:?})",
                        String::from_utf8_lossy(key),
                        versions.iter().map(|v| v.as_ref().map(|v| v.len())).collect::<Vec<_>>()
                    );
                }
            }
            Ok(Some(v)) => {
                return Err(format!("WRONG VALUE for {}: {}", String::from_utf8_lossy(key), ValueId::describe(&v)));
            }
        }
    }
    // Capped: an iterator that kept returning errors without advancing must not hang the run.
    for item in db.iter().take(100_000) {
        let Ok((key, value)) = item else { continue };
        let known = history.get(&key).is_some_and(|versions| versions.contains(&Some(value.clone())));
        if !known {
            return Err(format!("iteration returned a WRONG VALUE for {}: {}", String::from_utf8_lossy(&key), ValueId::describe(&value)));
        }
    }
    Ok(())
}
