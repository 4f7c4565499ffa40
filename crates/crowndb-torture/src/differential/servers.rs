//! Starting the two servers the harness compares: Redis (`redis-server`, no persistence, one
//! database, as CrownDB has) and `crowndb serve` on a fresh data directory, each on a free
//! loopback port, never 6379.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::resp::Conn;
use crate::serve::free_port;

/// `redis-server`: `$REDIS_SERVER`, else /usr/bin/redis-server, else the first on `PATH`.
pub fn find_redis_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("REDIS_SERVER") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let usual = PathBuf::from("/usr/bin/redis-server");
    if usual.is_file() {
        return Some(usual);
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join("redis-server")).find(|p| p.is_file())
}

/// Both servers, stopped (killed) and their directory removed on drop.
pub struct Servers {
    pub redis_addr: String,
    pub crowndb_addr: String,
    redis: Child,
    crowndb: Child,
    dir: PathBuf,
}

impl Servers {
    pub fn start(redis_bin: &Path, crowndb_bin: &Path) -> Result<Servers, String> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("crowndb-differential-{}-{nanos}", std::process::id()));
        let redis_dir = dir.join("redis");
        let store = dir.join("crowndb");
        std::fs::create_dir_all(&redis_dir).map_err(|e| format!("creating {}: {e}", redis_dir.display()))?;
        let log = |name: &str| std::fs::File::create(dir.join(name)).map_err(|e| format!("creating a log in {}: {e}", dir.display()));

        let start_redis = |port: u16, dir: &Path, name: &str| -> Result<Child, String> {
            Command::new(redis_bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--daemonize", "no", "--supervised", "no", "--databases", "1", "--protected-mode", "yes", "--logfile", ""])
                .arg("--dir")
                .arg(dir)
                .stdin(Stdio::null())
                .stdout(log(&format!("{name}.log"))?)
                .stderr(log(&format!("{name}.stderr"))?)
                .spawn()
                .map_err(|e| format!("starting {}: {e}", redis_bin.display()))
        };
        let redis_port = free_port()?;
        let redis = start_redis(redis_port, &redis_dir, "redis")?;
        let crowndb_port = free_port()?;
        let crowndb_addr = format!("127.0.0.1:{crowndb_port}");
        // `CROWNDB_BIN=redis-server`: Redis against a second Redis, a dry run that checks the
        // harness alone (generators, comparisons), before CrownDB has the commands.
        let against_itself = crowndb_bin.file_name().is_some_and(|n| n.to_string_lossy().starts_with("redis-server"));
        let crowndb = if against_itself {
            std::fs::create_dir_all(&store).map_err(|e| format!("creating {}: {e}", store.display()))?;
            start_redis(crowndb_port, &store, "crowndb")
        } else {
            log("crowndb.stderr").and_then(|stderr| {
                Command::new(crowndb_bin)
                    .arg("serve")
                    .arg("--data-dir")
                    .arg(&store)
                    .args(["--memcached-addr", "off", "--redis-addr", &crowndb_addr, "--durability", "never", "--threads", "1"])
                    .args(["--log-level", "warn"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(stderr)
                    .spawn()
                    .map_err(|e| format!("starting {} serve: {e}", crowndb_bin.display()))
            })
        };
        let crowndb = match crowndb {
            Ok(c) => c,
            Err(e) => {
                let mut redis = redis;
                let _ = redis.kill();
                let _ = redis.wait();
                return Err(e);
            }
        };
        let mut servers = Servers { redis_addr: format!("127.0.0.1:{redis_port}"), crowndb_addr, redis, crowndb, dir };
        servers.wait_ready(&servers.redis_addr.clone(), "redis-server", "redis.log")?;
        servers.wait_ready(&servers.crowndb_addr.clone(), "crowndb serve", "crowndb.stderr")?;
        Ok(servers)
    }

    fn wait_ready(&mut self, addr: &str, name: &str, log: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(mut c) = Conn::connect(addr) {
                if c.call(&[b"PING".to_vec()]).is_ok_and(|r| r.is_simple("PONG")) {
                    return Ok(());
                }
            }
            let exited = if name == "redis-server" { self.redis.try_wait() } else { self.crowndb.try_wait() };
            if let Ok(Some(status)) = exited {
                let text = std::fs::read_to_string(self.dir.join(log)).unwrap_or_default();
                return Err(format!("{name} exited ({status}) before answering PING on {addr}:\n{text}"));
            }
            if Instant::now() > deadline {
                return Err(format!("{name} did not answer PING on {addr} within 15 s"));
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Whether both are still running (a crash is a finding of its own).
    pub fn check_alive(&mut self) -> Result<(), String> {
        for (name, child) in [("redis-server", &mut self.redis), ("crowndb serve", &mut self.crowndb)] {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{name} exited: {status} (logs in {})", self.dir.display()));
            }
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in [&mut self.redis, &mut self.crowndb] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
