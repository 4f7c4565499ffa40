//! Starting `crowndb serve` for the harnesses that kill it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A loopback port nothing listens on right now.
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// `crowndb serve --durability always` on `store`, with the memcached and Redis listeners at
/// these addresses (`off` for none), its stderr in `log`.
pub fn start_durable_server(bin: &Path, store: &Path, memcached: &str, redis: &str, log: &Path) -> Result<Child, String> {
    let stderr = std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    Command::new(bin)
        .arg("serve")
        .arg("--data-dir")
        .arg(store)
        .args(["--memcached-addr", memcached, "--redis-addr", redis, "--durability", "always", "--threads", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("starting {} serve: {e}", bin.display()))
}
