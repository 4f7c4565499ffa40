//! The `crowndb` subcommands on real stores in temporary directories, run as a user runs
//! them: the built binary, its stdout, stderr and exit code.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

use crowndb::{Db, Options, WriteOptions};

/// Tests run in parallel threads of one process, and a child process started while a
/// store is open in this process inherits the lock file's descriptor until it execs: the
/// lock (an `flock`) then outlives the store's close for a moment, and a `crowndb` started
/// right after finds the directory locked. So stores are open in this process, and
/// children started, one test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opens a store, for setting it up or reading it back; hold the guard while it is open.
fn open(dir: &Path, options: Options) -> (MutexGuard<'static, ()>, Db) {
    let guard = serial();
    (guard, Db::open(dir, options).unwrap())
}

fn crowndb(args: &[&str]) -> Output {
    let _serial = serial();
    run(args)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crowndb")).args(args).output().expect("run crowndb")
}

fn crowndb_stdin(args: &[&str], input: &[u8]) -> Output {
    let _serial = serial();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crowndb"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run crowndb");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn dir_arg(dir: &Path) -> String {
    dir.to_str().unwrap().to_string()
}

/// Everything a store holds, versions left out (they belong to one store).
fn contents(dir: &Path) -> BTreeMap<Vec<u8>, (Vec<u8>, u32, Option<u64>)> {
    let (_serial, db) = open(dir, Options { create_if_missing: false, ..Options::default() });
    let all = db.iter().with_metadata().map(|kv| kv.unwrap()).map(|(k, e)| (k, (e.value, e.flags, e.expires_at_ms))).collect();
    db.close().unwrap();
    all
}

fn small_segments() -> Options {
    Options { segment_size: 64 << 10, background_compaction: false, ..Options::default() }
}

#[test]
fn put_get_del_scan_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dir_arg(&tmp.path().join("store"));
    assert!(crowndb(&["put", "--data-dir", &d, "greeting", "hello"]).status.success());
    let file = tmp.path().join("value.bin");
    std::fs::write(&file, [0u8, 1, 2, 255, b'\n']).unwrap();
    assert!(crowndb(&["put", "--data-dir", &d, "binary", "--file", file.to_str().unwrap()]).status.success());
    let out = crowndb_stdin(&["put", "--data-dir", &d, "piped", "--flags", "42", "--ttl", "3600"], b"from stdin");
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = crowndb(&["get", "--data-dir", &d, "greeting"]);
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), &b"hello"[..]));
    assert_eq!(crowndb(&["get", "--data-dir", &d, "binary"]).stdout, [0u8, 1, 2, 255, b'\n']);
    assert_eq!(crowndb(&["get", "--data-dir", &d, "piped"]).stdout, b"from stdin");
    let meta = text(&crowndb(&["get", "--data-dir", &d, "piped", "--meta"]).stdout);
    assert!(meta.contains("flags=42") && meta.contains("len=10") && !meta.contains("expires_at_ms=none"), "{meta}");

    let out = crowndb(&["get", "--data-dir", &d, "absent"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not found"));

    let mut keys: Vec<String> = text(&crowndb(&["scan", "--data-dir", &d]).stdout).lines().map(String::from).collect();
    keys.sort();
    assert_eq!(keys, ["binary", "greeting", "piped"]);
    assert_eq!(text(&crowndb(&["scan", "--data-dir", &d, "p*"]).stdout), "piped\n");
    assert_eq!(text(&crowndb(&["scan", "--data-dir", &d, "--limit", "2"]).stdout).lines().count(), 2);

    let out = crowndb(&["del", "--data-dir", &d, "greeting", "absent"]);
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "1\n".to_string()));
    assert_eq!(crowndb(&["del", "--data-dir", &d, "greeting"]).status.code(), Some(1));
    assert_eq!(crowndb(&["get", "--data-dir", &d, "greeting"]).status.code(), Some(1));

    let stats = text(&crowndb(&["stats", "--data-dir", &d, "--json"]).stdout);
    let json: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(json["keys"], 2);
    assert!(text(&crowndb(&["stats", "--data-dir", &d]).stdout).contains("space amplification"));
    // A value bigger than a record goes in as a stream and comes back whole.
    let big: Vec<u8> = (0..(5 << 20) + 7).map(|i: u32| (i % 253) as u8).collect();
    std::fs::write(&file, &big).unwrap();
    assert!(crowndb(&["put", "--data-dir", &d, "big", "--file", file.to_str().unwrap(), "--flags", "5"]).status.success());
    assert_eq!(crowndb(&["get", "--data-dir", &d, "big"]).stdout, big);
    let meta = text(&crowndb(&["get", "--data-dir", &d, "big", "--meta"]).stdout);
    assert!(meta.contains("flags=5") && meta.contains(&format!("len={}", big.len())), "{meta}");
    let out = crowndb_stdin(&["put", "--data-dir", &d, "big2"], &big);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(crowndb(&["get", "--data-dir", &d, "big2"]).stdout, big);
    assert!(crowndb(&["del", "--data-dir", &d, "big", "big2"]).status.success());

    let out = crowndb(&["compact", "--data-dir", &d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(crowndb(&["get", "--data-dir", &d, "binary"]).stdout, [0u8, 1, 2, 255, b'\n']);
}

#[test]
fn reading_commands_do_not_create_a_store() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dir_arg(&tmp.path().join("missing"));
    for cmd in ["get", "scan", "stats", "check", "dump", "compact"] {
        let mut args = vec![cmd, "--data-dir", &d];
        if cmd == "get" {
            args.push("k");
        }
        let out = crowndb(&args);
        assert_eq!(out.status.code(), Some(5), "{cmd}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("does not exist"), "{cmd}");
    }
    assert!(!tmp.path().join("missing").exists());
}

#[test]
fn dump_then_load_gives_identical_contents() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    let (serial_guard, db) = open(&src, small_segments());
    let far = 4_000_000_000_000;
    for i in 0..3000u32 {
        let key = format!("key:{i}").into_bytes();
        let value = i.to_le_bytes().repeat(1 + (i % 50) as usize);
        let opts = WriteOptions { flags: i, expires_at_ms: (i % 3 == 0).then_some(far + i as u64), ..Default::default() };
        db.put_opt(&key, &value, &opts).unwrap();
    }
    db.put(&[0, 255, b'\n', b'\\'], b"").unwrap();
    for i in 0..500u32 {
        db.delete(format!("key:{}", i * 2).as_bytes()).unwrap();
    }
    db.close().unwrap();
    drop(serial_guard);

    let dump = tmp.path().join("all.crowndump");
    let out = crowndb(&["dump", "--data-dir", &dir_arg(&src), dump.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = crowndb(&["load", "--data-dir", &dir_arg(&dst), dump.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let before = contents(&src);
    assert_eq!(before.len(), 2501);
    assert_eq!(contents(&dst), before);

    // Through a pipe as well.
    let piped = crowndb(&["dump", "--data-dir", &dir_arg(&src)]);
    let third = tmp.path().join("third");
    let out = crowndb_stdin(&["load", "--data-dir", &dir_arg(&third)], &piped.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(contents(&third), before);

    // A truncated or damaged dump is refused with the offset, exit code 4.
    let bytes = std::fs::read(&dump).unwrap();
    let cut = tmp.path().join("cut.crowndump");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let out = crowndb(&["load", "--verify", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("offset"), "{}", text(&out.stderr));
    let mut flipped = bytes.clone();
    flipped[1000] ^= 1;
    std::fs::write(&cut, &flipped).unwrap();
    let out = crowndb(&["load", "--data-dir", &dir_arg(&tmp.path().join("fourth")), cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("damaged dump at offset"), "{}", text(&out.stderr));
}

/// Offset of the record that holds byte `at` of a segment file.
fn record_start(segment: &[u8], at: usize) -> usize {
    let mut off = crowndb::format::SEGMENT_HEADER_LEN as usize;
    loop {
        let rec = crowndb::format::decode_record(&segment[off..]).expect("a valid record");
        let len = rec.header.record_len() as usize;
        if off + len > at {
            return off;
        }
        off += len;
    }
}

#[test]
fn check_finds_a_flipped_byte_and_repair_salvages_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let d = dir_arg(&dir);
    let (serial_guard, db) = open(&dir, small_segments());
    for i in 0..3000u32 {
        db.put(format!("key:{i:05}").as_bytes(), &[b'v'; 100]).unwrap();
    }
    db.close().unwrap();
    drop(serial_guard);
    let before = contents(&dir);
    let out = crowndb(&["check", "--data-dir", &d]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok:"));

    // Flip one byte in the middle of a sealed segment.
    let name = crowndb::format::segment_file_name(2);
    let path = dir.join(&name);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = 20_000;
    let start = record_start(&bytes, at);
    let rec_len = crowndb::format::decode_record(&bytes[start..]).unwrap().header.record_len() as usize;
    let original = bytes[start..start + rec_len].to_vec();
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();

    let out = crowndb(&["check", "--data-dir", &d]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{report}");
    assert!(report.contains(&format!("DAMAGE {} offset {start}:", path.display())), "{report}");
    assert!(report.contains("checksum mismatch"), "{report}");
    let damaged_key = crowndb::format::decode_record(&original).unwrap().key.to_vec();
    assert!(report.contains(&format!("key {} (its key is intact", String::from_utf8(damaged_key).unwrap())), "{report}");

    let out = crowndb(&["repair", "--data-dir", &d]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let quarantined = std::fs::read(dir.join("quarantine").join(format!("{name}.{start}.bad"))).unwrap();
    let mut damaged = original.clone();
    damaged[at - start] ^= 0x10;
    assert_eq!(quarantined, damaged, "the bad record's bytes are kept");

    let after = contents(&dir);
    assert_eq!(after.len(), before.len() - 1, "only the damaged record is missing");
    assert!(after.iter().all(|(k, v)| before.get(k) == Some(v)));
    assert_eq!(crowndb(&["check", "--data-dir", &d]).status.code(), Some(0));
}

#[test]
fn repair_rebuilds_a_damaged_footer_and_cuts_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let d = dir_arg(&dir);
    let (serial_guard, db) = open(&dir, small_segments());
    for i in 0..2000u32 {
        db.put(format!("key:{i:05}").as_bytes(), &[b'v'; 100]).unwrap();
    }
    db.close().unwrap();
    drop(serial_guard);
    let before = contents(&dir);
    let path = dir.join(crowndb::format::segment_file_name(1));
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 60] ^= 0xff; // inside the footer's entries
    std::fs::write(&path, &bytes).unwrap();
    let newest = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .max()
        .unwrap();
    std::fs::OpenOptions::new().append(true).open(&newest).unwrap().write_all(b"\x01torn write").unwrap();

    let out = crowndb(&["check", "--data-dir", &d]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{report}");
    assert!(report.contains("footer damaged"), "{report}");
    let out = crowndb(&["repair", "--data-dir", &d]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(contents(&dir), before);
    assert!(std::fs::read_dir(dir.join("quarantine")).unwrap().count() >= 2);
    assert_eq!(crowndb(&["check", "--data-dir", &d]).status.code(), Some(0));
}

#[test]
fn a_locked_directory_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dir_arg(tmp.path());
    let (serial_guard, db) = open(tmp.path(), Options::default());
    db.put(b"k", b"v").unwrap();
    for args in [
        vec!["get", "--data-dir", &d, "k"],
        vec!["put", "--data-dir", &d, "k", "v"],
        vec!["check", "--data-dir", &d],
        vec!["repair", "--data-dir", &d],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert!(text(&out.stderr).contains("locked by another process"), "{args:?}: {}", text(&out.stderr));
    }
    db.close().unwrap();
    drop(serial_guard);
}

#[test]
fn bench_json_has_the_documented_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dir_arg(&tmp.path().join("bench"));
    let out = crowndb(&["bench", "--data-dir", &d, "--num", "2000", "--threads", "2", "--json", "--workloads", &cmd_workloads()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 9);
    for line in &lines {
        for field in ["ops_per_sec", "mb_per_sec", "p50_us", "p99_us", "p999_us", "ram_per_key_bytes", "space_amp", "write_amp"] {
            assert!(line[field].as_f64().is_some_and(|v| v >= 0.0), "{field} in {line}");
        }
        assert!(line["ops_per_sec"].as_f64().unwrap() > 0.0);
    }
    let names: Vec<&str> = lines.iter().map(|l| l["workload"].as_str().unwrap()).collect();
    assert_eq!(names.join(","), cmd_workloads());
    // A directory that is not a bench's own is refused, not wiped.
    let other = tmp.path().join("precious");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("data"), b"x").unwrap();
    let out = crowndb(&["bench", "--data-dir", &dir_arg(&other), "--num", "10", "--workloads", "fillseq"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(other.join("data").exists());
}

fn cmd_workloads() -> String {
    "fillseq,fillrandom,overwrite,readrandom,readmissing,readhot,readwhilewriting,deleterandom,mixed".to_string()
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for cmd in ["get", "put", "del", "scan", "dump", "load", "stats", "check", "repair", "compact", "bench"] {
        let out = crowndb(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd}");
        let help = text(&out.stdout);
        assert!(help.contains("Example") && help.contains(&format!("crowndb {cmd}")), "{cmd}: {help}");
    }
    assert!(text(&crowndb(&["--help"]).stdout).contains("Exit codes"));
}

#[test]
fn damage_inside_a_batch_loses_only_the_damaged_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let d = dir_arg(&dir);
    let options = Options { compression: crowndb::Compression::Lz4, ..small_segments() };
    let (serial_guard, db) = open(&dir, options);
    for b in 0..200u32 {
        let mut batch = crowndb::WriteBatch::new();
        for i in 0..10u32 {
            batch.put(format!("key:{b:04}:{i}").as_bytes(), format!("value {b} {i} ").repeat(10).as_bytes());
        }
        db.write(&batch).unwrap();
    }
    db.close().unwrap();
    drop(serial_guard);
    let before = contents(&dir);
    assert_eq!(crowndb(&["check", "--data-dir", &d]).status.code(), Some(0));

    // Flip a byte inside the value of the first inner record of the second envelope.
    let path = dir.join(crowndb::format::segment_file_name(1));
    let mut bytes = std::fs::read(&path).unwrap();
    let first = crowndb::format::decode_record(&bytes[32..]).unwrap().header.record_len() as usize;
    let envelope = 32 + first;
    assert_eq!(crowndb::format::decode_record(&bytes[envelope..]).unwrap().header.kind, crowndb::format::RecordKind::Batch);
    bytes[envelope + 32 + 40] ^= 1;
    std::fs::write(&path, &bytes).unwrap();

    let out = crowndb(&["check", "--data-dir", &d]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(&format!("offset {envelope}:")), "{}", text(&out.stdout));
    let out = crowndb(&["repair", "--data-dir", &d]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let after = contents(&dir);
    assert_eq!(after.len(), before.len() - 1);
    assert!(after.iter().all(|(k, v)| before.get(k) == Some(v)));
}

#[test]
fn repair_leaves_a_healthy_store_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let (serial_guard, db) = open(&dir, small_segments());
    for i in 0..1500u32 {
        db.put(format!("key:{i}").as_bytes(), &[7u8; 90]).unwrap();
    }
    db.close().unwrap();
    drop(serial_guard);
    let files = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect()
    };
    let before = files(&dir);
    let out = crowndb(&["repair", "--data-dir", &dir_arg(&dir), "--dry-run"]);
    assert!(text(&out.stdout).contains("0 segments would be rewritten"), "{}", text(&out.stdout));
    assert_eq!(files(&dir), before, "a dry run changes nothing");
    let out = crowndb(&["repair", "--data-dir", &dir_arg(&dir)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("repaired 0 segments"), "{}", text(&out.stdout));
    let quarantined: Vec<_> =
        std::fs::read_dir(dir.join("quarantine")).map(|d| d.map(|e| e.unwrap().file_name()).collect()).unwrap_or_default();
    assert!(quarantined.is_empty(), "{quarantined:?} {}", text(&out.stdout));
}

#[test]
fn streamed_large_values_round_trip_through_a_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    let (serial_guard, db) = open(&src, Options::default());
    let big: Vec<u8> = (0..(3 << 20) + 12345).map(|i: u32| (i % 251) as u8).collect();
    let mut w = db.put_stream(b"big", &WriteOptions { flags: 9, expires_at_ms: Some(4_000_000_000_000), ..Default::default() }).unwrap();
    w.write_all(&big).unwrap();
    w.finish().unwrap();
    db.put(b"small", b"s").unwrap();
    db.close().unwrap();
    drop(serial_guard);
    let dump = tmp.path().join("d");
    assert!(crowndb(&["dump", "--data-dir", &dir_arg(&src), dump.to_str().unwrap()]).status.success());
    let out = crowndb(&["load", "--data-dir", &dir_arg(&dst), dump.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (before, after) = (contents(&src), contents(&dst));
    assert_eq!(after, before);
    assert_eq!(after[&b"big"[..]].0, big);
}

#[test]
fn a_torn_tail_is_a_warning_and_scripts_get_no_progress_bars() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let d = dir_arg(&dir);
    let (serial_guard, db) = open(&dir, small_segments());
    for i in 0..100u32 {
        db.put(format!("key:{i}").as_bytes(), b"value").unwrap();
    }
    let crash = db.simulate_crash();
    drop(serial_guard);
    // A write cut short by the crash: half a record after the last one.
    let mut record = std::fs::read(&crash.active_segment).unwrap()[32..32 + 40].to_vec();
    record[24] ^= 0xff;
    std::fs::OpenOptions::new().write(true).open(&crash.active_segment).unwrap().write_all_at(&record, crash.written_len).unwrap();

    let out = crowndb(&["check", "--data-dir", &d]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(report.contains(&format!("WARNING {} offset {}: torn tail", crash.active_segment.display(), crash.written_len)), "{report}");
    assert!(report.starts_with("WARNING") && report.contains("ok: 1 warnings"), "{report}");
    // stderr is not a terminal here: no bar, no escape sequences, nothing but the result.
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let dump = tmp.path().join("d");
    let out = crowndb(&["dump", "--data-dir", &d, dump.to_str().unwrap()]);
    // 16-byte header, 100 entries of 28 + key + 5 bytes, 40-byte end entry.
    assert_eq!(text(&out.stderr), format!("dumped 100 keys ({} bytes)\n", 16 + 100 * 33 + 10 * 5 + 90 * 6 + 40));
}

#[test]
fn repair_never_brings_back_part_of_a_torn_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let (serial_guard, db) = open(&dir, Options { background_compaction: false, ..Options::default() });
    db.put(b"a", b"old").unwrap();
    let mut batch = crowndb::WriteBatch::new();
    batch.put(b"a", b"new").put(b"b", b"new").put(b"c", &[7; 1000]);
    db.write(&batch).unwrap();
    let crash = db.simulate_crash();
    drop(serial_guard);
    let mut bytes = std::fs::read(&crash.active_segment).unwrap();
    let envelope = 32 + 32 + 1 + 3; // segment header, the put of "a"
    assert_eq!(bytes[envelope + 4], 3);
    let end = crash.written_len as usize;
    bytes[envelope..envelope + 32].fill(0); // the envelope header not written yet
    bytes[end - 500..end].fill(0); // the last inner record cut short
    std::fs::write(&crash.active_segment, &bytes).unwrap();

    let out = crowndb(&["check", "--data-dir", &dir_arg(&dir)]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(report.contains(&format!("WARNING {} offset {envelope}: torn tail", crash.active_segment.display())), "{report}");
    let out = crowndb(&["repair", "--data-dir", &dir_arg(&dir)]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let after = contents(&dir);
    assert_eq!(after.keys().collect::<Vec<_>>(), [&b"a".to_vec()]);
    assert_eq!(after[&b"a"[..]].0, b"old");
    let name = crash.active_segment.file_name().unwrap().to_str().unwrap().to_string();
    let kept = std::fs::read(dir.join("quarantine").join(format!("{name}.{envelope}.bad"))).unwrap();
    assert_eq!(
        kept,
        bytes[envelope..end - 500]
            .iter()
            .rev()
            .skip_while(|&&b| b == 0)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .copied()
            .collect::<Vec<u8>>()
    );
}

/// What a key holds, as a test compares stores: its type, its members sorted (a string is
/// one member with an empty name), its flags and deadline.
type Held = (crowndb::KeyType, Vec<(Vec<u8>, Vec<u8>)>, u32, Option<u64>);

/// Everything a store holds, collections with all their members.
fn everything(dir: &Path) -> BTreeMap<Vec<u8>, Held> {
    use crowndb::{Collection, CollectionType, KeyType};
    let (_serial, db) = open(dir, Options { create_if_missing: false, ..Options::default() });
    let mut all = BTreeMap::new();
    let keys: Vec<(Vec<u8>, crowndb::Entry)> = db.iter().with_metadata().map(|kv| kv.unwrap()).collect();
    for (key, entry) in keys {
        let kind = db.read(|view| view.key_type(&key)).unwrap().expect("a live key");
        let held = match kind {
            KeyType::String => (kind, vec![(Vec::new(), entry.value)], entry.flags, entry.expires_at_ms),
            KeyType::Hash | KeyType::Set => {
                let ct = if kind == KeyType::Hash { CollectionType::Hash } else { CollectionType::Set };
                let (mut members, expiry) = db
                    .read(|view| {
                        let mut c = Collection::open(view, &key, ct)?.expect("a collection");
                        Ok((c.all(view)?, c.expires_at_ms()))
                    })
                    .unwrap();
                members.sort();
                (kind, members, entry.flags, (expiry != 0).then_some(expiry))
            }
        };
        all.insert(key, held);
    }
    db.close().unwrap();
    all
}

/// A store with a paged hash of 3000 fields, a paged set, an inline hash with a deadline,
/// an inline set, and strings.
fn build_collections(dir: &Path) {
    use crowndb::{Collection, CollectionLimits, CollectionType};
    let (_serial, db) = open(dir, Options { segment_size: 1 << 20, background_compaction: false, ..Options::default() });
    db.set_collection_limits(CollectionLimits {
        hash_max_listpack_entries: 8,
        set_max_intset_entries: 8,
        set_max_listpack_entries: 8,
        page_size: 512,
        ..Default::default()
    });
    let far = 4_000_000_000_000;
    let fill = |key: &[u8], kind: CollectionType, members: Vec<(Vec<u8>, Vec<u8>)>, expiry: u64| {
        for chunk in members.chunks(200) {
            db.transaction(&Default::default(), |txn| {
                let mut c = Collection::open_or_create(txn, key, kind)?;
                for (m, v) in chunk {
                    c.insert(txn, m, v)?;
                }
                c.set_expiry(expiry);
                c.commit(txn)
            })
            .unwrap();
        }
    };
    let fields = (0..3000u32).map(|i| (format!("field:{i}").into_bytes(), format!("value {i} ").repeat(1 + i as usize % 7).into_bytes()));
    fill(b"big-hash", CollectionType::Hash, fields.collect(), 0);
    fill(b"big-set", CollectionType::Set, (0..2000u32).map(|i| (format!("{}", i * 7).into_bytes(), Vec::new())).collect(), far);
    fill(b"session", CollectionType::Hash, vec![(b"user".to_vec(), b"ada".to_vec()), (vec![0, 9], vec![255])], far + 1);
    fill(b"tags", CollectionType::Set, vec![(b"red".to_vec(), Vec::new()), (b"blue".to_vec(), Vec::new())], 0);
    db.put_opt(b"plain", b"string value", &WriteOptions { flags: 3, ..Default::default() }).unwrap();
    db.put(b"other", b"x").unwrap();
    db.close().unwrap();
}

#[test]
fn collections_dump_load_check_and_read() {
    use crowndb::KeyType;
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    build_collections(&src);
    let before = everything(&src);
    assert_eq!(before.len(), 6);
    assert_eq!(before[&b"big-hash"[..]].1.len(), 3000);
    assert_eq!(before[&b"big-set"[..]].0, KeyType::Set);
    let out = crowndb(&["check", "--data-dir", &dir_arg(&src)]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok: 0 warnings"), "{}", text(&out.stdout));

    // scan lists the collections' keys, never their pages; stats counts keys the same way.
    let mut keys: Vec<String> = text(&crowndb(&["scan", "--data-dir", &dir_arg(&src)]).stdout).lines().map(String::from).collect();
    keys.sort();
    assert_eq!(keys, ["big-hash", "big-set", "other", "plain", "session", "tags"]);
    let json: serde_json::Value = serde_json::from_str(&text(&crowndb(&["stats", "--data-dir", &dir_arg(&src), "--json"]).stdout)).unwrap();
    assert_eq!(json["keys"], 6);

    // get on a collection says what it is; --members and --meta read it.
    let out = crowndb(&["get", "--data-dir", &dir_arg(&src), "big-hash"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stderr).contains("holds a hash of 3000 fields") && text(&out.stderr).contains("--members"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let out = crowndb(&["get", "--data-dir", &dir_arg(&src), "--meta", "big-set"]);
    assert_eq!(text(&out.stdout), "type=set members=2000 expires_at_ms=4000000000000\n");
    let out = crowndb(&["get", "--data-dir", &dir_arg(&src), "--members", "session"]);
    let mut lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["\\x00\\x09\t\\xff", "user\tada"]);
    let out = crowndb(&["get", "--data-dir", &dir_arg(&src), "--members", "big-hash"]);
    assert_eq!(text(&out.stdout).lines().count(), 3000);
    assert!(text(&out.stdout).contains("field:2999\tvalue 2999 value 2999 "), "{}", text(&out.stdout));
    assert_eq!(crowndb(&["get", "--data-dir", &dir_arg(&src), "--members", "plain"]).status.code(), Some(5));
    assert_eq!(crowndb(&["get", "--data-dir", &dir_arg(&src), "plain"]).stdout, b"string value");

    // dump, verify, load into a fresh store: the same keys, types, members and deadlines.
    let dump = tmp.path().join("all.crowndump");
    let out = crowndb(&["dump", "--data-dir", &dir_arg(&src), dump.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr).split(' ').nth(1), Some("6"), "{}", text(&out.stderr));
    let out = crowndb(&["load", "--verify", dump.to_str().unwrap()]);
    assert!(out.status.success() && text(&out.stderr).contains("format version 2) of 6 keys"), "{}", text(&out.stderr));
    let out = crowndb(&["load", "--data-dir", &dir_arg(&dst), dump.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(everything(&dst), before);
    let out = crowndb(&["check", "--data-dir", &dir_arg(&dst)]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));

    // Loading again over what is there replaces each collection whole; a string key turned
    // collection and the reverse are replaced too.
    {
        let (_serial, db) = open(&dst, Options::default());
        db.transaction(&Default::default(), |txn| txn.put(b"big-set", b"a string now", &Default::default())).unwrap();
        db.transaction(&Default::default(), |txn| {
            txn.delete(b"plain")?;
            let mut c = crowndb::Collection::open_or_create(txn, b"plain", crowndb::CollectionType::Set)?;
            c.insert(txn, b"stray", b"")?;
            c.commit(txn)
        })
        .unwrap();
        db.transaction(&Default::default(), |txn| {
            let mut c = crowndb::Collection::open(txn, b"big-hash", crowndb::CollectionType::Hash)?.unwrap();
            c.insert(txn, b"extra field", b"gone after the load")?;
            c.commit(txn)
        })
        .unwrap();
        db.close().unwrap();
    }
    let out = crowndb(&["load", "--data-dir", &dir_arg(&dst), dump.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(everything(&dst), before);

    // A dump cut inside the big hash loads what came before it, and none of the hash.
    let bytes = std::fs::read(&dump).unwrap();
    let at = bytes.windows(10).position(|w| w == b"field:1500").unwrap();
    let cut = tmp.path().join("cut.crowndump");
    std::fs::write(&cut, &bytes[..at]).unwrap();
    let partial = tmp.path().join("partial");
    let out = crowndb(&["load", "--data-dir", &dir_arg(&partial), cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let loaded = everything(&partial);
    assert!(!loaded.contains_key(&b"big-hash"[..]), "{:?}", loaded.keys().collect::<Vec<_>>());
    assert!(!loaded.is_empty() || bytes.windows(8).position(|w| w == b"big-hash").unwrap() < 100);
    assert!(loaded.iter().all(|(k, v)| before.get(k) == Some(v)), "{:?}", loaded.keys().collect::<Vec<_>>());
}

/// (segment path, offset of the record, offset of its value) of every page record of a
/// store, inner records of batch envelopes included.
fn page_records(dir: &Path) -> Vec<(std::path::PathBuf, usize, usize)> {
    use crowndb::format::{decode_record, RecordKind, HEADER_LEN, SEGMENT_HEADER_LEN};
    let mut out = Vec::new();
    let mut segments: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| crowndb::format::parse_segment_file_name(p.file_name().unwrap().to_str().unwrap()).is_some())
        .collect();
    segments.sort();
    for path in segments {
        let bytes = std::fs::read(&path).unwrap();
        let mut off = SEGMENT_HEADER_LEN as usize;
        while let Ok(rec) = decode_record(&bytes[off..]) {
            if rec.header.kind as u8 == 0 {
                break;
            }
            let len = rec.header.record_len() as usize;
            if rec.header.kind == RecordKind::Batch {
                let mut inner = off + HEADER_LEN;
                while inner < off + len {
                    let r = decode_record(&bytes[inner..]).unwrap();
                    if r.header.kind == RecordKind::Page {
                        out.push((path.clone(), inner, inner + HEADER_LEN + r.key.len()));
                    }
                    inner += r.header.record_len() as usize;
                }
            } else if rec.header.kind == RecordKind::Page {
                out.push((path.clone(), off, off + HEADER_LEN + rec.key.len()));
            }
            off += len;
        }
    }
    out
}

#[test]
fn a_damaged_page_is_reported_and_repair_keeps_the_rest_of_the_collection() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let d = dir_arg(&dir);
    build_collections(&dir);
    let before = everything(&dir);
    let pages = page_records(&dir);
    assert!(pages.len() > 100, "{} pages", pages.len());
    // The last page written (so current, not superseded), in the middle of its value.
    let (path, record, value) = pages.last().unwrap().clone();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[value + 3] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();

    let out = crowndb(&["check", "--data-dir", &d]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{report}");
    assert!(report.contains(&format!("DAMAGE {} offset {record}: bad record", path.display())), "{report}");
    assert!(report.contains("collection page (epoch "), "{report}");

    let out = crowndb(&["repair", "--data-dir", &d]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let out = crowndb(&["check", "--data-dir", &d]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    // Every key is still there and readable; the collection that lost the page keeps
    // every member of its other pages (and reads the lost bucket as an older version of
    // that page, or empty).
    let after = everything(&dir);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
    let (mut kept, mut total) = (0, 0);
    for (key, (kind, members, ..)) in &before {
        let now = &after[key];
        assert_eq!(now.0, *kind);
        total += members.len();
        kept += now.1.iter().filter(|m| members.binary_search(m).is_ok()).count();
    }
    assert!(kept < total && kept + 100 > total, "kept {kept} of {total} members");
}
