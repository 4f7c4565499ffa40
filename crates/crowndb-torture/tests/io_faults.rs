//! I/O errors and short writes injected at the file layer (`crates/crowndb-faultfs`, an
//! `LD_PRELOAD` library built by this crate's build script).
//!
//! - The injector itself, on real programs (`dd`, `fallocate`): armed calls on watched files
//!   fail as asked, other files and the (unloaded) test process are untouched, and its
//!   counters prove the calls went through it.
//! - The harness (`crowndb-torture io-faults`): every fault kind three times under a writer
//!   child, then twice through `crowndb serve` (memcached and Redis) when the binary was built,
//!   as `cargo test --workspace` does (`cargo build -p crowndb-cli` when testing this crate
//!   alone; under `CI` the binary must be there).

use std::path::Path;
use std::process::Command;

use crowndb_torture::io_faults::{faultfs_lib, write_control, Stats};

fn preloaded(program: &str, control: &Path, stats: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("LD_PRELOAD", faultfs_lib()).env("CROWNDB_FAULTFS_CONTROL", control).env("CROWNDB_FAULTFS_STATS", stats);
    cmd
}

fn dd(control: &Path, stats: &Path, to: &Path, extra: &[&str]) -> std::process::Output {
    preloaded("dd", control, stats)
        .args(["if=/dev/zero", "bs=4096", "count=2"])
        .arg(format!("of={}", to.display()))
        .args(extra)
        .output()
        .expect("running dd")
}

#[test]
fn the_injector_fails_armed_calls_on_watched_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let (watched, other) = (dir.path().join("watched"), dir.path().join("other"));
    std::fs::create_dir_all(&watched).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let (control, stats) = (dir.path().join("control"), dir.path().join("stats"));

    // fsync fails with EIO on files under `watched`, and only there.
    write_control(&control, &format!("under={}\ncalls=fsync\nerrno=EIO\n", watched.display())).unwrap();
    let out = dd(&control, &stats, &watched.join("a"), &["conv=fsync"]);
    assert!(!out.status.success(), "dd's fsync should have failed: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Input/output error"), "{out:?}");
    let out = dd(&control, &stats, &other.join("a"), &["conv=fsync"]);
    assert!(out.status.success(), "a file outside the watched directory must not fail: {out:?}");
    // This process is not preloaded: its own fsync on a watched file works.
    let f = std::fs::File::create(watched.join("mine")).unwrap();
    std::io::Write::write_all(&mut &f, b"hello").unwrap();
    f.sync_all().unwrap();
    let s = Stats::read(&stats);
    assert_eq!(s.calls.get("fsync"), Some(&1), "one fsync on a watched file was seen: {s:?}");
    assert_eq!(s.injected_total, 1, "{s:?}");
    assert!(s.calls.get("write").copied().unwrap_or(0) >= 2, "dd's writes to the watched file were counted: {s:?}");

    // A short write (100 bytes), then ENOSPC: dd writes the rest, which fails.
    write_control(&control, &format!("under={}\ncalls=write\nshort=100\nerrno=ENOSPC\n", watched.display())).unwrap();
    let out = dd(&control, &stats, &watched.join("b"), &[]);
    assert!(!out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("No space left on device"), "{out:?}");
    assert_eq!(std::fs::metadata(watched.join("b")).unwrap().len(), 100, "only the short write's bytes reached the file");

    // The second matching call fails, not the first (`after=1`; counted per process).
    write_control(&control, &format!("under={}\ncalls=write\nafter=1\ntimes=1\nerrno=EIO\n", watched.display())).unwrap();
    let out = dd(&control, &stats, &watched.join("c"), &[]);
    assert!(!out.status.success(), "{out:?}");
    assert_eq!(std::fs::metadata(watched.join("c")).unwrap().len(), 4096, "the first write passed, the second failed");

    // fallocate fails with ENOSPC (util-linux's `fallocate`, when installed).
    write_control(&control, &format!("under={}\ncalls=fallocate\nerrno=ENOSPC\n", watched.display())).unwrap();
    if let Ok(out) = preloaded("fallocate", &control, &stats).args(["-l", "1M"]).arg(watched.join("e")).output() {
        assert!(!out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("No space left on device"), "{out:?}");
    }
}

#[test]
fn injected_io_errors_stop_writes_and_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("CROWNDB_TORTURE_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    let server = crowndb_torture::crash::find_crowndb_bin().is_some();
    if !server {
        assert!(std::env::var_os("CI").is_none(), "the crowndb binary is missing: run `cargo build -p crowndb-cli` (or set CROWNDB_BIN)");
        println!("SKIPPED the server trials: the crowndb binary is not built (cargo build -p crowndb-cli)");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_crowndb-torture"))
        .args(["io-faults", "--trials", "3", "--server-trials", if server { "2" } else { "0" }, "--seed", &seed.to_string(), "-v"])
        .arg("--dir")
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(out.status.success(), "I/O fault injection failed (rerun with CROWNDB_TORTURE_SEED={seed}):\n{stdout}{stderr}");
    assert!(stdout.contains("ok: 21 trials"), "{stdout}");
    assert!(stdout.contains("0 acknowledged writes lost"), "{stdout}");
    if server {
        assert!(stdout.contains("through crowndb serve: 2 trials"), "{stdout}");
        assert!(stdout.contains("memcached: SERVER_ERROR") && stdout.contains("Redis: -ERR"), "{stdout}");
    }
}
