//! `redis-cli` (Debian `redis-tools`) against the server: one-shot commands, commands from
//! stdin, `-x` binary values, `--scan`, `--pipe` mass insertion, `-a`, `-3`. `scripts/test`
//! installs it when missing; a machine without it skips these tests, unless `CI` is set, where a
//! missing redis-cli is a failure.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

fn have_redis_cli() -> bool {
    let found = Command::new("redis-cli").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "redis-cli is not installed (Debian package redis-tools); scripts/test installs it");
        eprintln!("redis-cli not found: skipped (install redis-tools to run it)");
    }
    found
}

/// Runs `redis-cli -h .. -p .. <args>` with `stdin`, returns stdout (asserting success).
fn cli(addr: SocketAddr, args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new("redis-cli")
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run redis-cli");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "redis-cli {args:?}: {stdout} {}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[test]
fn redis_cli_commands() {
    if !have_redis_cli() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path());
    let addr = server.redis_addr().unwrap();
    assert_eq!(cli(addr, &["PING"], b""), "PONG\n");
    assert_eq!(cli(addr, &["SET", "greeting", "hello world"], b""), "OK\n");
    assert_eq!(cli(addr, &["GET", "greeting"], b""), "hello world\n");
    assert_eq!(cli(addr, &["GET", "nokey"], b""), "\n");
    assert_eq!(cli(addr, &["INCRBY", "n", "41"], b""), "41\n");
    assert_eq!(cli(addr, &["--no-raw", "INCR", "n"], b""), "(integer) 42\n");
    assert_eq!(cli(addr, &["--no-raw", "GET", "nokey"], b""), "(nil)\n");
    assert_eq!(cli(addr, &["--no-raw", "HGET", "h", "f"], b""), "(nil)\n");
    // Commands from stdin, one per line.
    assert_eq!(cli(addr, &[], b"SET a 1\nINCR a\nGET a\nEXISTS a nokey\n"), "OK\n2\n2\n1\n");
    // A binary value from stdin (-x: the last argument).
    let value: Vec<u8> = (0..=255u8).collect();
    assert_eq!(cli(addr, &["-x", "SET", "bin"], &value), "OK\n");
    assert_eq!(cli(addr, &["STRLEN", "bin"], b""), "256\n");
    // TTLs.
    assert_eq!(cli(addr, &["SET", "t", "v", "EX", "100"], b""), "OK\n");
    assert_eq!(cli(addr, &["TTL", "t"], b""), "100\n");
    // INFO, DBSIZE, CLIENT, CONFIG.
    assert!(cli(addr, &["INFO", "server"], b"").contains("redis_version:7.0.15"));
    assert!(cli(addr, &["INFO", "keyspace"], b"").contains("db0:keys=5"));
    assert_eq!(cli(addr, &["DBSIZE"], b""), "5\n");
    assert!(cli(addr, &["CLIENT", "LIST"], b"").contains("cmd=client|list"));
    assert_eq!(cli(addr, &["CONFIG", "GET", "appendonly"], b""), "appendonly\nyes\n");
    // RESP3.
    let hello = cli(addr, &["-3", "HELLO", "3"], b"");
    assert!(hello.contains("proto 3\n"), "{hello}");
    server.shutdown().unwrap();
}

#[test]
fn redis_cli_scan_and_mass_insertion() {
    if !have_redis_cli() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path());
    let addr = server.redis_addr().unwrap();
    // --pipe: raw protocol from stdin, 20,000 SETs, then redis-cli's own ECHO marker.
    let mut input = Vec::new();
    for i in 0..20_000 {
        let (key, value) = (format!("key:{i}"), format!("value-{i}"));
        input.extend_from_slice(format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n", key.len(), value.len()).as_bytes());
    }
    let out = cli(addr, &["--pipe"], &input);
    assert!(out.contains("errors: 0, replies: 20000"), "{out}");
    assert_eq!(cli(addr, &["SET", "other", "x"], b""), "OK\n");
    // --scan walks the whole keyspace with SCAN and MATCH.
    let scanned = cli(addr, &["--scan", "--pattern", "key:*"], b"");
    let keys: std::collections::HashSet<&str> = scanned.lines().collect();
    assert_eq!(keys.len(), 20_000);
    assert!(keys.contains("key:0") && keys.contains("key:19999") && !keys.contains("other"));
    assert_eq!(cli(addr, &["GET", "key:12345"], b""), "value-12345\n");
    server.shutdown().unwrap();
}

#[test]
fn redis_cli_with_a_password() {
    if !have_redis_cli() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |config| config.requirepass = Some("s3cret".into()));
    let addr = server.redis_addr().unwrap();
    assert_eq!(cli(addr, &["GET", "k"], b"").trim_end(), "NOAUTH Authentication required.");
    assert_eq!(cli(addr, &["-a", "s3cret", "--no-auth-warning", "SET", "k", "v"], b""), "OK\n");
    assert_eq!(cli(addr, &["--user", "default", "--pass", "s3cret", "--no-auth-warning", "GET", "k"], b""), "v\n");
    let wrong = cli(addr, &["-a", "nope", "--no-auth-warning", "GET", "k"], b"");
    assert!(wrong.contains("WRONGPASS") || wrong.contains("NOAUTH"), "{wrong}");
    server.shutdown().unwrap();
}

#[test]
fn redis_cli_hashes_and_sets() {
    if !have_redis_cli() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path());
    let addr = server.redis_addr().unwrap();
    assert_eq!(cli(addr, &["HSET", "user", "name", "ada", "lang", "rust"], b""), "2\n");
    assert_eq!(cli(addr, &["HGET", "user", "name"], b""), "ada\n");
    assert_eq!(cli(addr, &["--no-raw", "HGETALL", "user"], b""), "1) \"name\"\n2) \"ada\"\n3) \"lang\"\n4) \"rust\"\n");
    assert_eq!(cli(addr, &["-3", "--no-raw", "HGETALL", "user"], b""), "1# \"name\" => \"ada\"\n2# \"lang\" => \"rust\"\n");
    assert_eq!(cli(addr, &["SADD", "tags", "a"], b""), "1\n");
    assert_eq!(cli(addr, &["SMEMBERS", "tags"], b""), "a\n");
    assert_eq!(cli(addr, &["TYPE", "tags"], b""), "set\n");
    assert_eq!(cli(addr, &["--no-raw", "GET", "user"], b""), "(error) WRONGTYPE Operation against a key holding the wrong kind of value\n");
    assert_eq!(cli(addr, &["SCAN", "0", "TYPE", "hash"], b""), "0\nuser\n");
}
