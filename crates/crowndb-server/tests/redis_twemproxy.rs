//! Sharding Redis clients with an existing proxy: three servers behind twemproxy (nutcracker)
//! in Redis mode, ketama distribution. `scripts/test` installs nutcracker when missing; a
//! machine without it skips this test, unless `CI` is set, where that is a failure.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::resp::{bulk, encode, Resp};

const KEYS: usize = 10_000;

fn find_nutcracker() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|dir| dir.join("nutcracker")).find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills the proxy when the test ends, however it ends.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn redis_keys_spread_over_three_servers_behind_twemproxy() {
    let Some(nutcracker) = find_nutcracker() else {
        assert!(std::env::var_os("CI").is_none(), "nutcracker is not installed (Debian package nutcracker); scripts/test installs it");
        eprintln!("nutcracker not found: skipped (install the nutcracker package to run it)");
        return;
    };
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let servers: Vec<_> = dirs.iter().map(|d| common::start(d.path())).collect();

    let proxy_port = free_port();
    let work = tempfile::tempdir().unwrap();
    let mut conf = format!(
        "crowndb:\n  listen: 127.0.0.1:{proxy_port}\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n  timeout: 5000\n  \
         auto_eject_hosts: false\n  servers:\n"
    );
    for (i, server) in servers.iter().enumerate() {
        conf.push_str(&format!("   - {}:1 crowndb{i}\n", server.redis_addr().unwrap()));
    }
    let conf_path = work.path().join("nutcracker.yml");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(&nutcracker)
        .arg("-c")
        .arg(&conf_path)
        .args(["-a", "127.0.0.1", "-s", &free_port().to_string()])
        .arg("-o")
        .arg(work.path().join("nutcracker.log"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start nutcracker");
    let _proxy = Proxy(child);

    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", proxy_port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "nutcracker does not listen on {proxy_port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut c = Resp::connect(format!("127.0.0.1:{proxy_port}").parse().unwrap());

    for batch in (0..KEYS).collect::<Vec<_>>().chunks(500) {
        let mut request = Vec::new();
        for i in batch {
            request.extend(encode(&["SET", &format!("key:{i}"), &format!("value-{i}")]));
        }
        c.send(&request);
        for i in batch {
            assert_eq!(c.reply(), "+OK\r\n", "SET key:{i}");
        }
    }
    assert_eq!(c.cmd("INCR counter"), ":1\r\n");
    assert_eq!(c.cmd("EXPIRE counter 100"), ":1\r\n");
    assert_eq!(c.cmd("TTL counter"), ":100\r\n");

    // MGET, which the proxy splits across servers and reassembles.
    for batch in (0..KEYS).collect::<Vec<_>>().chunks(100) {
        let mut args = vec!["MGET".to_string()];
        args.extend(batch.iter().map(|i| format!("key:{i}")));
        let mut expected = format!("*{}\r\n", batch.len());
        for i in batch {
            expected.push_str(&bulk(&format!("value-{i}")));
        }
        assert_eq!(c.call(&args), expected);
    }

    // Every backend holds a share.
    let counts: Vec<usize> = servers
        .iter()
        .map(|s| Resp::connect(s.redis_addr().unwrap()).cmd("DBSIZE").trim_start_matches(':').trim().parse().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), KEYS + 1, "{counts:?}");
    assert!(counts.iter().all(|&n| n > KEYS / 10), "ketama spreads keys over all three servers: {counts:?}");
}
