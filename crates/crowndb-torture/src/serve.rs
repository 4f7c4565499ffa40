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

/// Connects to a loopback port, retrying for up to 10 s while a server starts; `None` if it
/// never answers or `stop` is set meanwhile.
pub fn connect_retrying(port: u16, stop: &std::sync::atomic::AtomicBool) -> Option<std::net::TcpStream> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return Some(s),
            Err(_) if std::time::Instant::now() < deadline && !stop.load(std::sync::atomic::Ordering::Relaxed) => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            Err(_) => return None,
        }
    }
}

/// Kills a torture's server with SIGKILL and reaps it, after checking that it did not exit
/// by itself (that is a failure: its stderr, in `log`, says why); then tells the clients to
/// stop.
pub fn kill_server(server: &mut Child, log: &Path, cycle: u64, stop: &std::sync::atomic::AtomicBool) -> Result<(), String> {
    let exited = server.try_wait().map_err(|e| e.to_string())?;
    if let Some(status) = exited {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let text = std::fs::read_to_string(log).unwrap_or_default();
        return Err(format!("cycle {cycle}: the server exited by itself ({status}): {text}"));
    }
    // SAFETY: kill(2) on the pid of a child the caller started and has not reaped.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGKILL) };
    let _ = server.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// A client thread of a kill cycle: given the server's port and the stop flag, runs until the
/// connection breaks (or the flag is set) and returns its log.
pub type CycleClient<T> = Box<dyn FnOnce(u16, std::sync::Arc<std::sync::atomic::AtomicBool>) -> T + Send>;

/// One cycle of a server torture: starts `crowndb serve --durability always` (the Redis
/// listener, on a free port) on `store`, runs the clients, SIGKILLs the server after `run_for`
/// and returns what each client returned, in order, once all have stopped.
pub fn kill_cycle<T: Send + 'static>(
    bin: &Path,
    store: &Path,
    server_log: &Path,
    cycle: u64,
    run_for: std::time::Duration,
    clients: Vec<CycleClient<T>>,
) -> Result<Vec<T>, String> {
    let port = free_port()?;
    let mut server = start_durable_server(bin, store, "off", &format!("127.0.0.1:{port}"), server_log)?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handles: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let stop = stop.clone();
            std::thread::spawn(move || client(port, stop))
        })
        .collect();
    std::thread::sleep(run_for);
    kill_server(&mut server, server_log, cycle, &stop)?;
    handles.into_iter().map(|h| h.join().map_err(|_| format!("cycle {cycle}: a client thread panicked (see its message above)"))).collect()
}

/// The store a killed server left, opened directly with every record verified.
pub fn open_paranoid(store: &Path, cycle: u64) -> Result<crowndb::Db, String> {
    crowndb::Db::open(store, crowndb::Options { paranoid_open: true, ..crowndb::Options::default() })
        .map_err(|e| format!("cycle {cycle}: reopening the server's store (paranoid): {e}"))
}
