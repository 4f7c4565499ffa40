//! Sharding with an existing proxy: three servers behind twemproxy (nutcracker, ketama
//! distribution), as docs/scaling.md describes. `scripts/test` installs nutcracker when
//! missing; a machine without it skips this test, unless `CI` is set, where that is a failure.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Client;

const KEYS: usize = 10_000;

/// `nutcracker` from PATH or the sbin directories Debian installs it in.
fn find_nutcracker() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|dir| dir.join("nutcracker")).find(|candidate| candidate.is_file())
}

/// A port nothing listens on right now.
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
fn keys_spread_over_three_servers_behind_twemproxy() {
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
        "crowndb:\n  listen: 127.0.0.1:{proxy_port}\n  hash: fnv1a_64\n  distribution: ketama\n  timeout: 5000\n  \
         auto_eject_hosts: false\n  servers:\n"
    );
    for (i, server) in servers.iter().enumerate() {
        conf.push_str(&format!("   - {}:1 crowndb{i}\n", server.memcached_addr().unwrap()));
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
    let mut c = Client::connect_to(format!("127.0.0.1:{proxy_port}").parse().unwrap());

    // Write through the proxy, pipelined in batches.
    for batch in (0..KEYS).collect::<Vec<_>>().chunks(500) {
        let mut request = Vec::new();
        for i in batch {
            let value = format!("value-{i}");
            request.extend_from_slice(format!("set key:{i} {} 0 {}\r\n{value}\r\n", i % 7, value.len()).as_bytes());
        }
        c.send(&request);
        for i in batch {
            assert_eq!(c.line(), "STORED", "set key:{i}");
        }
    }

    // Read every key back through the proxy, with multi-gets the proxy splits across servers.
    let mut found = 0;
    for batch in (0..KEYS).collect::<Vec<_>>().chunks(100) {
        let keys: Vec<String> = batch.iter().map(|i| format!("key:{i}")).collect();
        c.send(format!("get {}\r\n", keys.join(" ")).as_bytes());
        let mut items = c.values();
        items.sort();
        let mut expected: Vec<_> =
            batch.iter().map(|i| (format!("key:{i}"), (i % 7) as u32, format!("value-{i}").into_bytes(), None)).collect();
        expected.sort();
        assert_eq!(items, expected);
        found += items.len();
    }
    assert_eq!(found, KEYS);

    // Every backend holds a share.
    let counts: Vec<usize> = servers.iter().map(|s| Client::connect(s).stat("curr_items").parse().unwrap()).collect();
    assert_eq!(counts.iter().sum::<usize>(), KEYS, "{counts:?}");
    assert!(counts.iter().all(|&n| n > KEYS / 10), "ketama spreads keys over all three servers: {counts:?}");
}
