//! memcached text-protocol authentication (`auth_file`, memcached 1.6's `-Y`): the login `set`,
//! the refusals before it, wrong credentials, the `memcache` client crate logging in with the
//! credentials of its URL, protected mode satisfied by a login, and clear startup errors for a bad auth file.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Client;
use crowndb_server::{Config, Server};

fn auth_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("users");
    std::fs::write(&path, text).unwrap();
    path
}

fn start_with_login(dir: &Path) -> Server {
    let users = auth_file(dir, "alice:s3cret\nbob:correct horse:battery\n");
    common::start_with(&dir.join("data"), |c| c.auth_file = Some(users))
}

#[test]
fn every_command_is_refused_before_login() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_login(dir.path());
    let mut client = Client::connect(&server);
    for request in ["get k", "gets k", "delete k", "incr n 1", "touch k 10", "flush_all", "version", "stats", "mg k v", "mn", "bogus"] {
        assert_eq!(client.call(request), "CLIENT_ERROR unauthenticated", "{request}");
    }
    // Storage commands other than `set` are refused, and their data block is not taken for a command.
    assert_eq!(client.store("add", "k", 0, 0, b"get k"), "CLIENT_ERROR unauthenticated");
    client.send(b"ms k 5\r\nhello\r\n");
    assert_eq!(client.line(), "CLIENT_ERROR unauthenticated");
    // Nothing was written: a logged-in client sees no `k`.
    assert_eq!(client.set("auth", b"alice s3cret"), "STORED");
    assert_eq!(client.get("k"), None);
    assert_eq!(client.get("auth"), None, "the login set stores nothing");
}

#[test]
fn wrong_credentials_are_refused_and_the_connection_may_try_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_login(dir.path());
    let mut client = Client::connect(&server);
    assert_eq!(client.set("auth", b"alice wrong"), "CLIENT_ERROR authentication failure");
    assert_eq!(client.set("auth", b"alice s3cret "), "CLIENT_ERROR authentication failure");
    assert_eq!(client.set("auth", b"carol s3cret"), "CLIENT_ERROR authentication failure");
    assert_eq!(client.set("auth", b"bob correct"), "CLIENT_ERROR authentication failure");
    assert_eq!(client.set("auth", b"alices3cret"), "CLIENT_ERROR bad authentication token format");
    assert_eq!(client.call("get k"), "CLIENT_ERROR unauthenticated");
    // A password may hold spaces and colons: the token splits at the first space.
    assert_eq!(client.set("auth", b"bob correct horse:battery"), "STORED");
    assert_eq!(client.set("k", b"v"), "STORED");
    assert_eq!(client.get("k"), Some((0, b"v".to_vec())));
    // Each connection logs in for itself.
    let mut other = Client::connect(&server);
    assert_eq!(other.call("get k"), "CLIENT_ERROR unauthenticated");
    // `quit` still closes an unauthenticated connection.
    other.send(b"quit\r\n");
    assert!(other.is_closed());
    // memcached's `stats` count every login attempt and the failed ones (6 and 5 above).
    assert_eq!(client.stat("auth_cmds"), "6");
    assert_eq!(client.stat("auth_errors"), "5");
}

#[test]
fn logged_in_clients_work_normally() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_login(dir.path());
    let mut client = Client::connect(&server);
    // The login `set` answers even with noreply, as memcached does; pipelined requests after it run.
    client.send(b"set x 0 0 12 noreply\r\nalice s3cret\r\nset k 7 0 5\r\nhello\r\nget k\r\n");
    assert_eq!(client.line(), "STORED");
    assert_eq!(client.line(), "STORED");
    assert_eq!(client.values(), vec![("k".to_string(), 7, b"hello".to_vec(), None)]);
    assert_eq!(client.call("incr n 1"), "NOT_FOUND");
    assert!(client.call("version").starts_with("VERSION "));
    // The `memcache` client crate logs in the memcached way when the URL carries credentials.
    let addr = server.memcached_addr().unwrap();
    // (The pool retries a failing connection until its timeout: keep that short.)
    let connect = |url: String| {
        memcache::Client::builder().add_server(url)?.with_max_pool_size(1).with_connection_timeout(Duration::from_millis(500)).build()
    };
    let err = connect(format!("memcache://{addr}?protocol=ascii")).err().expect("refused without credentials");
    assert!(err.to_string().contains("unauthenticated"), "{err}");
    let err = connect(format!("memcache://alice:guess@{addr}?protocol=ascii")).err().expect("refused");
    assert!(err.to_string().contains("authentication failure"), "{err}");
    let mc = connect(format!("memcache://alice:s3cret@{addr}?protocol=ascii")).unwrap();
    assert_eq!(mc.get::<String>("k").unwrap().as_deref(), Some("hello"));
    mc.set("from_crate", "value", 0).unwrap();
    assert_eq!(client.get("from_crate"), Some((0, b"value".to_vec())));
}

/// The startup error with the auth file at `path`.
fn start_error(dir: &Path, path: PathBuf) -> String {
    let config =
        Config { data_dir: dir.join("data"), auth_file: Some(path), memcached_addr: Some("127.0.0.1:0".into()), ..Config::default() };
    match Server::start(config) {
        Ok(_) => panic!("started with a bad auth file"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_auth_files_give_clear_startup_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-users");
    let err = start_error(dir.path(), missing);
    assert!(err.contains("reading the memcached auth file") && err.contains("no-such-users"), "{err}");
    let err = start_error(dir.path(), auth_file(dir.path(), "alice:s3cret\n\nbob\n"));
    assert!(err.contains("memcached auth file") && err.contains("users: line 3 is not username:password"), "{err}");
    let err = start_error(dir.path(), auth_file(dir.path(), "alice:\n"));
    assert!(err.contains("line 1 has an empty username or password"), "{err}");
    let err = start_error(dir.path(), auth_file(dir.path(), "\n"));
    assert!(err.contains("holds no username:password line"), "{err}");
    // Unreadable: a directory where the file should be.
    let err = start_error(dir.path(), dir.path().to_path_buf());
    assert!(err.contains("reading the memcached auth file"), "{err}");
    // The password never appears in an error.
    let err = start_error(dir.path(), auth_file(dir.path(), "alice:hunter2\nbob hunter3\n"));
    assert!(!err.contains("hunter"), "{err}");
}

#[test]
fn non_loopback_memcached_needs_a_login_or_the_unsafe_flag() {
    let dir = tempfile::tempdir().unwrap();
    let config = |auth: Option<PathBuf>| Config {
        data_dir: dir.path().join("data"),
        memcached_addr: Some("0.0.0.0:0".into()),
        redis_addr: None,
        auth_file: auth,
        threads: 1,
        ..Config::default()
    };
    let err = Server::start(config(None)).err().expect("refused").to_string();
    assert!(err.contains("--auth-file") && err.contains("--allow-non-loopback"), "{err}");
    let users = auth_file(dir.path(), "alice:s3cret\n");
    let server = Server::start(config(Some(users))).unwrap();
    let port = server.memcached_addr().unwrap().port();
    let mut client = Client::connect_to(format!("127.0.0.1:{port}").parse().unwrap());
    assert_eq!(client.call("get k"), "CLIENT_ERROR unauthenticated");
    assert_eq!(client.set("auth", b"alice s3cret"), "STORED");
    assert_eq!(client.get("k"), None);
}
