//! redis-py, the Python client (PyPI `redis` >= 5), against the server: hashes, sets,
//! pipelines, transactions (`pipeline(transaction=True)`), WATCH, `scan_iter` /
//! `hscan_iter` / `sscan_iter`, `decode_responses`, RESP2 and RESP3 (`protocol=3`). The
//! checks are in tests/redis_py/*.py (each passes against Redis 7.0 as well).
//!
//! The client lives in a virtualenv, `target/pyenv`: `scripts/test` creates it, and so does
//! this test when it is missing (`python3 -m venv`, `pip install redis`). Without python3,
//! venv or network the test skips with a message, and fails when `CI` is set.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

fn has_redis_py(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import redis, sys; sys.exit(0 if int(redis.__version__.split('.')[0]) >= 5 else 1)"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The virtualenv's python with redis-py, made if need be; `Err` says what is missing.
fn python_with_redis_py() -> Result<PathBuf, String> {
    let venv = target_dir().join("pyenv");
    let python = venv.join("bin/python");
    if has_redis_py(&python) {
        return Ok(python);
    }
    let run = |cmd: &mut Command, what: &str| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{what} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
        }
    };
    if !python.exists() {
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv target/pyenv (Debian: apt-get install python3-venv)",
        )?;
    }
    run(Command::new(venv.join("bin/pip")).args(["install", "-q", "redis>=5"]), "pip install redis")?;
    if has_redis_py(&python) {
        Ok(python)
    } else {
        Err("redis-py >= 5 not importable after pip install".into())
    }
}

#[test]
fn redis_py_hashes_sets_pipelines_transactions_scans_resp3() {
    let python = match python_with_redis_py() {
        Ok(p) => p,
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "CI is set and redis-py is not available: {why}");
            eprintln!("SKIPPED: redis-py is not available: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path());
    let addr = server.redis_addr().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/redis_py/hashes_and_sets.py");
    let out = Command::new(&python).arg(&script).arg(addr.ip().to_string()).arg(addr.port().to_string()).output().expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stdout}\n{stderr}", script.display());
    println!("{stdout}");
    assert!(stdout.contains("checks passed"), "{stdout}");
}
