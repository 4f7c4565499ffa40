//! TLS on both listeners, with real TLS clients: `redis-cli --tls` for the Redis protocol and
//! `openssl s_client` for the memcached protocol, against certificates made here with rcgen (a
//! test CA, a server certificate for 127.0.0.1 and localhost, a client certificate). Also: a
//! plaintext client on a TLS port is refused and the server goes on; a client that never
//! finishes its handshake loses its connection slot after the handshake timeout; client
//! certificates when a client CA is set; clear startup errors for bad certificate files.
//!
//! `scripts/test` installs redis-cli (redis-tools) and openssl when missing; without them these
//! tests skip, unless `CI` is set, where a missing tool is a failure.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crowndb_server::{Config, Server};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// Certificates and keys in PEM files.
struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "CrownDB test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut server_params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        server_params.distinguished_name.push(DnType::CommonName, "localhost");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params.distinguished_name.push(DnType::CommonName, "crowndb test client");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        Pki {
            ca: write("ca.pem", ca_cert.pem()),
            cert: write("cert.pem", server_cert.pem()),
            key: write("key.pem", server_key.serialize_pem()),
            client_cert: write("client.pem", client_cert.pem()),
            client_key: write("client-key.pem", client_key.serialize_pem()),
            dir,
        }
    }

    /// Both TLS listeners on loopback, besides the plain ones.
    fn enable(&self, config: &mut Config) {
        config.memcached_tls_addr = Some("127.0.0.1:0".into());
        config.redis_tls_addr = Some("127.0.0.1:0".into());
        config.tls_cert_file = Some(self.cert.clone());
        config.tls_key_file = Some(self.key.clone());
    }
}

/// Whether `program` runs; a missing tool skips the test, or fails it under CI.
fn have(program: &str, arg: &str, package: &str) -> bool {
    let found = Command::new(program).arg(arg).output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{program} is not installed (Debian package {package}); scripts/test installs it");
        eprintln!("{program} not found: skipped (install {package} to run it)");
    }
    found
}

/// Runs a command with `stdin`, killing it after 20 s; returns (success, stdout, stderr).
fn run(program: &str, args: &[&str], stdin: &[u8]) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.is_some_and(|s| s.success()), stdout.join().unwrap(), stderr.join().unwrap())
}

/// The start of a long text, for assertion messages.
fn short(text: &str) -> &str {
    &text[..text.len().min(300)]
}

/// `redis-cli --tls --cacert <ca> -h .. -p .. <args>`: its stdout, asserting success.
fn redis_cli_tls(pki: &Pki, addr: SocketAddr, args: &[&str], stdin: &[u8]) -> String {
    let (port, ca) = (addr.port().to_string(), pki.ca.to_str().unwrap().to_string());
    let mut all = vec!["--tls", "--cacert", &ca, "-h", "127.0.0.1", "-p", &port];
    all.extend_from_slice(args);
    let (ok, out, err) = run("redis-cli", &all, stdin);
    assert!(ok, "redis-cli {args:?} failed: {} {err}", short(&out));
    out
}

/// `openssl s_client -quiet` to `addr`, verifying the server against the test CA, sending
/// `input` (which should end with `quit`); returns what the server answered.
fn s_client(pki: &Pki, addr: SocketAddr, extra: &[&str], input: &[u8]) -> (bool, String, String) {
    let connect = addr.to_string();
    let ca = pki.ca.to_str().unwrap().to_string();
    let mut args = vec!["s_client", "-quiet", "-verify_return_error", "-connect", &connect, "-CAfile", &ca, "-servername", "localhost"];
    args.extend_from_slice(extra);
    run("openssl", &args, input)
}

#[test]
fn redis_cli_over_tls() {
    if !have("redis-cli", "--version", "redis-tools") {
        return;
    }
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |c| pki.enable(c));
    let tls = server.redis_tls_addr().expect("Redis TLS listener");
    assert_eq!(redis_cli_tls(&pki, tls, &["PING"], b""), "PONG\n");
    assert_eq!(redis_cli_tls(&pki, tls, &["SET", "over tls", "secret value"], b""), "OK\n");
    assert_eq!(redis_cli_tls(&pki, tls, &["GET", "over tls"], b""), "secret value\n");
    // A large value (from stdin, -x) crosses many TLS records both ways.
    let big = "x".repeat(300_000);
    assert_eq!(redis_cli_tls(&pki, tls, &["-x", "SET", "big"], big.as_bytes()), "OK\n");
    assert_eq!(redis_cli_tls(&pki, tls, &["STRLEN", "big"], b""), "300000\n");
    assert!(redis_cli_tls(&pki, tls, &["GET", "big"], b"") == format!("{big}\n"), "GET big over TLS returned another value");
    // Commands from stdin on one connection.
    assert_eq!(redis_cli_tls(&pki, tls, &[], b"INCR n\nINCR n\nGET n\n"), "1\n2\n2\n");
    // The same store behind the plain listener.
    let mut plain = common::resp::Resp::connect(server.redis_addr().unwrap());
    assert_eq!(plain.call(&["GET", "over tls"]), common::resp::bulk("secret value"));
    // A client that does not trust the server's CA gives up, as it should.
    let (ok, out, _) = run("redis-cli", &["--tls", "-h", "127.0.0.1", "-p", &tls.port().to_string(), "PING"], b"");
    assert!(!ok || !out.contains("PONG"), "redis-cli without the CA got {out:?}");
}

#[test]
fn memcached_over_openssl_s_client() {
    if !have("openssl", "version", "openssl") {
        return;
    }
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |c| pki.enable(c));
    let tls = server.memcached_tls_addr().expect("memcached TLS listener");
    let (ok, out, err) = s_client(&pki, tls, &[], b"set greeting 5 0 11\r\nhello world\r\nget greeting\r\nquit\r\n");
    assert!(ok, "s_client failed: {err}");
    assert_eq!(out, "STORED\r\nVALUE greeting 5 11\r\nhello world\r\nEND\r\n", "stderr: {err}");
    // Many pipelined requests in one go, replies larger than one TLS record.
    let mut input = Vec::new();
    for i in 0..200 {
        input.extend_from_slice(format!("set k{i} 0 0 1000\r\n{}\r\n", "v".repeat(1000)).as_bytes());
    }
    input.extend_from_slice(b"get k0 k199\r\nquit\r\n");
    let (ok, out, err) = s_client(&pki, tls, &[], &input);
    assert!(ok, "s_client failed: {err}");
    assert_eq!(out.matches("STORED\r\n").count(), 200, "{err}");
    assert!(out.ends_with(&format!("VALUE k199 0 1000\r\n{}\r\nEND\r\n", "v".repeat(1000))), "{} {err}", short(&out));
    // What went in over TLS is there for a plain client.
    let mut plain = common::Client::connect(&server);
    assert_eq!(plain.get("greeting"), Some((5, b"hello world".to_vec())));
}

#[test]
fn plaintext_client_on_a_tls_port_is_refused_and_the_server_goes_on() {
    if !have("openssl", "version", "openssl") {
        return;
    }
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |c| pki.enable(c));
    for addr in [server.memcached_tls_addr().unwrap(), server.redis_tls_addr().unwrap()] {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.write_all(b"set k 0 0 1\r\nx\r\nget k\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer); // EOF, or a reset after the TLS alert
        let text = String::from_utf8_lossy(&answer);
        assert!(!text.contains("STORED") && !text.contains("PONG") && !text.contains("END"), "{addr} answered plaintext: {text:?}");
    }
    // Nothing was stored, and the server still serves TLS and plain clients.
    let (ok, out, err) = s_client(&pki, server.memcached_tls_addr().unwrap(), &[], b"get k\r\nversion\r\nquit\r\n");
    assert!(ok && out.starts_with("END\r\nVERSION "), "{out} {err}");
    let mut plain = common::Client::connect(&server);
    assert_eq!(plain.set("after", b"1"), "STORED");
}

#[test]
fn a_stalled_handshake_frees_its_connection_slot() {
    if !have("openssl", "version", "openssl") {
        return;
    }
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |c| {
        pki.enable(c);
        c.max_connections = 1;
    });
    let tls = server.memcached_tls_addr().unwrap();
    // A client that connects and says nothing holds the only slot ...
    let started = Instant::now();
    let mut silent = TcpStream::connect(tls).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut plain = common::Client::connect(&server);
    assert_eq!(plain.line(), "SERVER_ERROR too many open connections");
    // ... until the handshake timeout closes it.
    let mut byte = [0u8; 1];
    assert!(matches!(silent.read(&mut byte), Ok(0) | Err(_)));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(9) && waited < Duration::from_secs(20), "closed after {waited:?}");
    std::thread::sleep(Duration::from_millis(200));
    let (ok, out, err) = s_client(&pki, tls, &[], b"version\r\nquit\r\n");
    assert!(ok && out.starts_with("VERSION "), "{out} {err}");
}

#[test]
fn client_certificates_when_a_client_ca_is_set() {
    if !have("openssl", "version", "openssl") {
        return;
    }
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |c| {
        pki.enable(c);
        c.tls_client_ca_file = Some(pki.ca.clone());
    });
    let tls = server.memcached_tls_addr().unwrap();
    let (_, out, _) = s_client(&pki, tls, &[], b"set k 0 0 1\r\nx\r\nquit\r\n");
    assert!(!out.contains("STORED"), "a client without a certificate was served: {out}");
    let (cert, key) = (pki.client_cert.to_str().unwrap(), pki.client_key.to_str().unwrap());
    let (ok, out, err) = s_client(&pki, tls, &["-cert", cert, "-key", key], b"set k 0 0 1\r\nx\r\nquit\r\n");
    assert!(ok && out == "STORED\r\n", "{out} {err}");
    // A certificate from another CA is refused too.
    let other = Pki::new();
    let (cert, key) = (other.client_cert.to_str().unwrap(), other.client_key.to_str().unwrap());
    let (_, out, _) = s_client(&pki, tls, &["-cert", cert, "-key", key], b"get k\r\nquit\r\n");
    assert!(!out.contains("END"), "a client with a stranger's certificate was served: {out}");
}

/// Starts a server with these TLS files; the startup error.
fn start_error(cert: &Path, key: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        memcached_addr: None,
        redis_addr: None,
        redis_tls_addr: Some("127.0.0.1:0".into()),
        tls_cert_file: Some(cert.to_path_buf()),
        tls_key_file: Some(key.to_path_buf()),
        threads: 1,
        ..Config::default()
    };
    match Server::start(config) {
        Ok(_) => panic!("started with cert {} and key {}", cert.display(), key.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_certificate_files_give_clear_startup_errors() {
    let pki = Pki::new();
    let missing = pki.dir.path().join("nope.pem");
    let err = start_error(&missing, &pki.key);
    assert!(err.contains("reading the TLS certificate file") && err.contains("nope.pem"), "{err}");
    let err = start_error(&pki.cert, &missing);
    assert!(err.contains("reading the TLS key file") && err.contains("nope.pem"), "{err}");
    // Certificate and key swapped.
    let err = start_error(&pki.key, &pki.cert);
    assert!(err.contains("key.pem holds no certificate"), "{err}");
    let err = start_error(&pki.cert, &pki.cert);
    assert!(err.contains("cert.pem holds no private key"), "{err}");
    // A key of another certificate.
    let err = start_error(&pki.cert, &pki.client_key);
    assert!(err.contains("client-key.pem does not match the certificate in") && err.contains("cert.pem"), "{err}");
    // A truncated certificate.
    let text = std::fs::read_to_string(&pki.cert).unwrap();
    let cut = pki.dir.path().join("cut.pem");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let err = start_error(&cut, &pki.key);
    assert!(err.contains("cut.pem") && err.contains("no end line"), "{err}");
    // A TLS listener without certificate settings.
    let dir = tempfile::tempdir().unwrap();
    let config = Config { data_dir: dir.path().to_path_buf(), memcached_tls_addr: Some("127.0.0.1:0".into()), ..Config::default() };
    let err = Server::start(config).err().expect("refused").to_string();
    assert!(err.contains("--tls-cert") && err.contains("--tls-key"), "{err}");
}
