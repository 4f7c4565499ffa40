//! libmemcached's conformance checker, `memccapable` (Debian `libmemcached-tools`), in text
//! mode against a server on 127.0.0.1. `scripts/test` installs it when missing; a machine
//! without it skips this test, unless `CI` is set, where a missing checker is a failure.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// `memccapable` (Debian's name) or `memcapable` (upstream's), from PATH.
fn find_checker() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["memccapable", "memcapable"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

#[test]
fn memccapable_text_protocol_passes() {
    let Some(checker) = find_checker() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "memccapable is not installed (Debian package libmemcached-tools); scripts/test installs it"
        );
        eprintln!("memccapable not found: skipped (install libmemcached-tools to run it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path());
    let addr = server.memcached_addr().unwrap();
    let output = Command::new(&checker)
        .args(["-a", "-v", "-t", "10", "-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .output()
        .expect("run memccapable");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stdout.contains("All tests passed"), "memccapable failed:\n{stdout}\n{stderr}");
    assert!(!stdout.contains("[FAIL]") && !stdout.contains("[skip]"), "{stdout}");
    server.shutdown().unwrap();
}
