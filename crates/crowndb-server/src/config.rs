//! The server's settings: defaults, an optional TOML file, and checks before anything starts.
//!
//! The command line (crate `crowndb-cli`) starts from [`Config::default`] or
//! [`Config::from_file`] and overrides the fields its flags name. Every field says its default.
//!
//! A config file holds any subset of the fields, with the same names:
//!
//! ```toml
//! data_dir = "/var/lib/crowndb"
//! memcached_addr = "127.0.0.1:11211"   # or "off"
//! redis_addr = "127.0.0.1:6379"        # or "off"
//! requirepass = "secret"               # Redis AUTH password; none by default
//! auth_file = "/etc/crowndb/users"     # memcached username:password lines; none by default
//! memcached_tls_addr = "0.0.0.0:11212" # TLS listeners; off by default
//! redis_tls_addr = "0.0.0.0:6380"
//! tls_cert_file = "/etc/crowndb/cert.pem"
//! tls_key_file = "/etc/crowndb/key.pem"
//! tls_client_ca_file = "/etc/crowndb/clients-ca.pem"  # require client certificates
//! durability = "everysec"              # always | everysec | never | 100ms | 2s
//! max_connections = 1024
//! max_item_size = 1048576
//! max_client_memory = 1073741824   # all client buffers together; 0: no limit
//! idle_timeout_secs = 0                # 0: never close an idle connection
//! threads = 0                          # 0: one per core
//! log_level = "info"
//! allow_non_loopback = false
//! ```

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crowndb::Durability;
use serde::Deserialize;

use crate::error::ServerError;
use crate::memcache::Limits;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The store's directory, created if missing. Default: `./crowndb-data`.
    pub data_dir: PathBuf,
    /// Where the memcached protocol listens (`HOST:PORT`), `None` to disable it.
    /// Default: `127.0.0.1:11211`.
    pub memcached_addr: Option<String>,
    /// Where the Redis protocol (RESP2/RESP3) listens (`HOST:PORT`), `None` to disable it.
    /// Default: `127.0.0.1:6379`.
    pub redis_addr: Option<String>,
    /// The password Redis clients must give (AUTH, HELLO ... AUTH) before any other command, as
    /// Redis's `requirepass`. Default: none. With one set, the Redis listener may bind a
    /// non-loopback address without `allow_non_loopback`.
    pub requirepass: Option<String>,
    /// A memcached auth file of `username:password` lines, as memcached's `-Y`: with one set,
    /// memcached clients must log in (a `set` whose value is `username password`) before any
    /// other command. Default: none.
    pub auth_file: Option<PathBuf>,
    /// Where the memcached protocol listens over TLS, `None` (the default) for no TLS listener.
    /// Needs `tls_cert_file` and `tls_key_file`.
    pub memcached_tls_addr: Option<String>,
    /// Where the Redis protocol listens over TLS (Redis's `tls-port`), `None` (the default) for
    /// no TLS listener. Needs `tls_cert_file` and `tls_key_file`.
    pub redis_tls_addr: Option<String>,
    /// The server's certificate chain (PEM, server certificate first) for the TLS listeners.
    pub tls_cert_file: Option<PathBuf>,
    /// The private key of the server certificate (PEM).
    pub tls_key_file: Option<PathBuf>,
    /// If set, TLS clients must present a certificate signed by a CA in this PEM file (Redis's
    /// `tls-auth-clients`). Default: none, any TLS client may connect.
    pub tls_client_ca_file: Option<PathBuf>,
    /// When acknowledged writes reach the disk. Default: every second (`everysec`): fast, and a
    /// power failure loses at most a second (a crash of the process alone loses nothing).
    /// With `always`, a reply is sent only once the writes it acknowledges are synced; the
    /// writes of one pipelined batch share one sync.
    pub durability: Durability,
    /// Connections served at once; one more gets `SERVER_ERROR too many open connections` and is
    /// closed. Default: 1024 (memcached's `-c`).
    pub max_connections: usize,
    /// Largest value, in bytes (memcached's `-I`). Default: 1 MiB.
    pub max_item_size: usize,
    /// The read and write buffers of all client connections together, in bytes (Redis's
    /// `maxmemory-clients`): above it, the connections holding more than 256 KiB are closed as
    /// they grow (clients that never read, huge requests). 0: no limit. Default: 1 GiB.
    pub max_client_memory: usize,
    /// Longest key, in bytes. Default: 250, as memcached.
    pub max_key_len: usize,
    /// Longest request line other than a retrieval. Default: 2048, as memcached.
    pub max_line_len: usize,
    /// Longest `get`/`gets`/`gat`/`gats` line (many keys). Default: 1 MiB.
    pub max_get_line_len: usize,
    /// A connection that sends nothing for this long is closed; `None` (the default, as
    /// memcached) keeps idle connections open.
    pub idle_timeout: Option<Duration>,
    /// Worker threads of the network runtime; 0 (default) means one per core.
    pub threads: usize,
    /// Log level: error, warn, info (default), debug or trace.
    pub log_level: String,
    /// Allow a listener on an address other than loopback even when nothing keeps strangers out
    /// (protected mode off). Default: false: a non-loopback listener needs a password
    /// (`auth_file` for memcached, `requirepass` for Redis) or, for a TLS listener, client
    /// certificates (`tls_client_ca_file`). See [`Config::validate`].
    pub allow_non_loopback: bool,
}

impl Default for Config {
    fn default() -> Self {
        let limits = Limits::default();
        Config {
            data_dir: PathBuf::from("./crowndb-data"),
            memcached_addr: Some("127.0.0.1:11211".to_string()),
            redis_addr: Some("127.0.0.1:6379".to_string()),
            requirepass: None,
            auth_file: None,
            memcached_tls_addr: None,
            redis_tls_addr: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            durability: Durability::Periodic(Duration::from_secs(1)),
            max_connections: 1024,
            max_item_size: limits.max_item_size,
            max_client_memory: 1 << 30,
            max_key_len: limits.max_key_len,
            max_line_len: limits.max_line_len,
            max_get_line_len: limits.max_get_line_len,
            idle_timeout: None,
            threads: 0,
            log_level: "info".to_string(),
            allow_non_loopback: false,
        }
    }
}

/// A config file: every field optional, unknown fields refused (a typo must not pass silently).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    memcached_addr: Option<String>,
    redis_addr: Option<String>,
    requirepass: Option<String>,
    auth_file: Option<PathBuf>,
    memcached_tls_addr: Option<String>,
    redis_tls_addr: Option<String>,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    tls_client_ca_file: Option<PathBuf>,
    durability: Option<String>,
    max_connections: Option<usize>,
    max_item_size: Option<usize>,
    max_client_memory: Option<usize>,
    max_key_len: Option<usize>,
    max_line_len: Option<usize>,
    max_get_line_len: Option<usize>,
    idle_timeout_secs: Option<u64>,
    threads: Option<usize>,
    log_level: Option<String>,
    allow_non_loopback: Option<bool>,
}

impl Config {
    /// The defaults, overridden by the fields of the TOML file at `path`.
    pub fn from_file(path: &Path) -> Result<Config, ServerError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ServerError::Config(format!("reading config file {}: {e}", path.display())))?;
        Config::from_toml(&text).map_err(|e| match e {
            ServerError::Config(msg) => ServerError::Config(format!("config file {}: {msg}", path.display())),
            other => other,
        })
    }

    /// The defaults, overridden by the fields of a TOML document.
    pub fn from_toml(text: &str) -> Result<Config, ServerError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ServerError::Config(e.message().to_string()))?;
        let mut config = Config::default();
        if let Some(dir) = file.data_dir {
            config.data_dir = dir;
        }
        if let Some(addr) = file.memcached_addr {
            config.memcached_addr = parse_addr_setting(&addr);
        }
        if let Some(addr) = file.redis_addr {
            config.redis_addr = parse_addr_setting(&addr);
        }
        if let Some(password) = file.requirepass {
            config.requirepass = (!password.is_empty()).then_some(password);
        }
        config.auth_file = file.auth_file.filter(|p| !p.as_os_str().is_empty()).or(config.auth_file);
        if let Some(addr) = file.memcached_tls_addr {
            config.memcached_tls_addr = parse_addr_setting(&addr);
        }
        if let Some(addr) = file.redis_tls_addr {
            config.redis_tls_addr = parse_addr_setting(&addr);
        }
        config.tls_cert_file = file.tls_cert_file.or(config.tls_cert_file);
        config.tls_key_file = file.tls_key_file.or(config.tls_key_file);
        config.tls_client_ca_file = file.tls_client_ca_file.or(config.tls_client_ca_file);
        if let Some(durability) = file.durability {
            config.durability = parse_durability(&durability)?;
        }
        set(&mut config.max_connections, file.max_connections);
        set(&mut config.max_item_size, file.max_item_size);
        set(&mut config.max_client_memory, file.max_client_memory);
        set(&mut config.max_key_len, file.max_key_len);
        set(&mut config.max_line_len, file.max_line_len);
        set(&mut config.max_get_line_len, file.max_get_line_len);
        if let Some(secs) = file.idle_timeout_secs {
            config.idle_timeout = idle_timeout(secs);
        }
        set(&mut config.threads, file.threads);
        set(&mut config.log_level, file.log_level);
        set(&mut config.allow_non_loopback, file.allow_non_loopback);
        Ok(config)
    }

    /// The request limits of the memcached parser.
    pub fn limits(&self) -> Limits {
        Limits {
            max_key_len: self.max_key_len,
            max_item_size: self.max_item_size,
            max_line_len: self.max_line_len,
            max_get_line_len: self.max_get_line_len,
        }
    }

    /// Worker threads to start: `threads`, or one per core.
    pub fn worker_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        }
    }

    /// Resolves the memcached listen address, refused on a non-loopback address unless
    /// protected (see [`Config::validate`]).
    pub fn memcached_socket_addr(&self) -> Result<Option<SocketAddr>, ServerError> {
        self.listen_addr(Listener::Memcached)
    }

    /// Resolves the Redis listen address, refused on a non-loopback address unless protected.
    pub fn redis_socket_addr(&self) -> Result<Option<SocketAddr>, ServerError> {
        self.listen_addr(Listener::Redis)
    }

    /// Resolves the memcached TLS listen address, refused on a non-loopback address unless
    /// protected.
    pub fn memcached_tls_socket_addr(&self) -> Result<Option<SocketAddr>, ServerError> {
        self.listen_addr(Listener::MemcachedTls)
    }

    /// Resolves the Redis TLS listen address, refused on a non-loopback address unless protected.
    pub fn redis_tls_socket_addr(&self) -> Result<Option<SocketAddr>, ServerError> {
        self.listen_addr(Listener::RedisTls)
    }

    /// Whether any TLS listener is configured.
    pub fn tls_enabled(&self) -> bool {
        self.memcached_tls_addr.is_some() || self.redis_tls_addr.is_some()
    }

    fn listen_addr(&self, listener: Listener) -> Result<Option<SocketAddr>, ServerError> {
        let setting = match listener {
            Listener::Memcached => &self.memcached_addr,
            Listener::Redis => &self.redis_addr,
            Listener::MemcachedTls => &self.memcached_tls_addr,
            Listener::RedisTls => &self.redis_tls_addr,
        };
        let Some(text) = setting else { return Ok(None) };
        let name = listener.name();
        let addrs: Vec<SocketAddr> = text
            .to_socket_addrs()
            .map_err(|e| ServerError::Config(format!("{name} address {text:?}: {e} (expected HOST:PORT or off)")))?
            .collect();
        let Some(&first) = addrs.first() else {
            return Err(ServerError::Config(format!("{name} address {text:?} resolves to nothing")));
        };
        if let Some(open) = addrs.iter().find(|a| !a.ip().is_loopback()) {
            if !self.allow_non_loopback && !self.protects(listener) {
                return Err(ServerError::Config(self.refusal(listener, *open, text)));
            }
        }
        Ok(Some(first))
    }

    /// Whether strangers are kept out of a listener: by a password, or for a TLS listener by
    /// client certificates. TLS alone encrypts but lets anyone in, so it does not count.
    fn protects(&self, listener: Listener) -> bool {
        let password = match listener {
            Listener::Memcached | Listener::MemcachedTls => self.auth_file.is_some(),
            Listener::Redis | Listener::RedisTls => self.requirepass.is_some(),
        };
        password || (listener.is_tls() && self.tls_client_ca_file.is_some())
    }

    /// Protected mode's refusal: what is exposed, and every way out.
    fn refusal(&self, listener: Listener, open: SocketAddr, text: &str) -> String {
        let (clients, what, missing, password) = match listener {
            Listener::Memcached | Listener::MemcachedTls => (
                "memcached",
                "item",
                "no auth file",
                "set --auth-file FILE (auth_file in the config file; lines of username:password) so clients must log in",
            ),
            Listener::Redis | Listener::RedisTls => {
                ("Redis", "key", "no requirepass", "set --requirepass PASSWORD (requirepass in the config file) so clients must AUTH")
            }
        };
        let certificates = match listener {
            Listener::MemcachedTls | Listener::RedisTls => {
                "; or require client certificates with --tls-client-ca FILE (tls_client_ca_file)".to_string()
            }
            Listener::Memcached | Listener::Redis => {
                let flag = if listener == Listener::Memcached { "--memcached-tls-addr" } else { "--redis-tls-addr" };
                format!("; or serve remote clients on a TLS listener ({flag}) that requires client certificates (--tls-client-ca FILE)")
            }
        };
        format!(
            "refusing to listen on {open} ({text}) for {clients} clients{tls}: it is not a loopback address and clients need \
             no authentication there ({missing}{certs}), so anyone who can reach it can read and change every {what}. To fix it, {password}{certificates}; \
             or, if a firewall already keeps strangers out, pass --allow-non-loopback (allow_non_loopback = true in the config \
             file) to listen there anyway",
            tls = if listener.is_tls() { " over TLS" } else { "" },
            certs = if listener.is_tls() { ", no client CA" } else { "" },
        )
    }

    /// Checks that the TLS settings go together; the files themselves are read by `tls::load`.
    fn validate_tls(&self) -> Result<(), ServerError> {
        let bad = |msg: String| Err(ServerError::Config(msg));
        if self.tls_enabled() {
            if self.tls_cert_file.is_none() || self.tls_key_file.is_none() {
                return bad("a TLS listener (memcached_tls_addr or redis_tls_addr) is set, but it needs both a certificate and its key: \
                     set --tls-cert FILE and --tls-key FILE (tls_cert_file, tls_key_file in the config file)"
                    .into());
            }
        } else if let Some(file) = [&self.tls_cert_file, &self.tls_key_file, &self.tls_client_ca_file].into_iter().flatten().next() {
            return bad(format!(
                "TLS file {} is set, but no TLS listener is: set --memcached-tls-addr and/or --redis-tls-addr \
                 (memcached_tls_addr, redis_tls_addr in the config file), or remove the tls_* settings",
                file.display()
            ));
        }
        Ok(())
    }

    /// Checks limits that would make the server useless, that the TLS settings go together, and
    /// protected mode: a listener on a non-loopback address must keep strangers out, with a
    /// password (`auth_file` for memcached, `requirepass` for Redis) or, for a TLS listener,
    /// client certificates (`tls_client_ca_file`), unless `allow_non_loopback` is set. The
    /// refusal names every way out.
    pub fn validate(&self) -> Result<(), ServerError> {
        let bad = |what: &str| Err(ServerError::Config(format!("{what} must be at least 1")));
        if self.max_connections == 0 {
            return bad("max_connections");
        }
        if self.max_item_size == 0 {
            return bad("max_item_size");
        }
        if self.max_key_len == 0 {
            return bad("max_key_len");
        }
        if self.max_line_len < 16 {
            return Err(ServerError::Config("max_line_len must be at least 16".into()));
        }
        self.validate_tls()?;
        for listener in [Listener::Memcached, Listener::MemcachedTls, Listener::Redis, Listener::RedisTls] {
            self.listen_addr(listener)?;
        }
        Ok(())
    }
}

/// The four listeners, for protected mode's checks and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listener {
    Memcached,
    MemcachedTls,
    Redis,
    RedisTls,
}

impl Listener {
    fn name(self) -> &'static str {
        match self {
            Listener::Memcached => "memcached",
            Listener::MemcachedTls => "memcached TLS",
            Listener::Redis => "redis",
            Listener::RedisTls => "redis TLS",
        }
    }

    fn is_tls(self) -> bool {
        matches!(self, Listener::MemcachedTls | Listener::RedisTls)
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// `off` (or `none`, `disabled`, empty) disables a listener; anything else is an address.
pub fn parse_addr_setting(text: &str) -> Option<String> {
    let text = text.trim();
    match text.to_ascii_lowercase().as_str() {
        "off" | "none" | "disabled" | "" => None,
        _ => Some(text.to_string()),
    }
}

/// A durability name as [`Durability::parse`] reads it, with a clear error.
pub fn parse_durability(text: &str) -> Result<Durability, ServerError> {
    Durability::parse(text)
        .ok_or_else(|| ServerError::Config(format!("durability {text:?}: expected always, everysec, never, or a period like 100ms or 2s")))
}

/// An idle timeout in seconds, 0 meaning none.
pub fn idle_timeout(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// A short name for a durability, for logs and `stats settings`.
pub fn durability_name(durability: Durability) -> String {
    match durability {
        Durability::Always => "always".to_string(),
        Durability::Never => "never".to_string(),
        Durability::Periodic(d) if d == Duration::from_secs(1) => "everysec".to_string(),
        Durability::Periodic(d) => format!("{}ms", d.as_millis()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_loopback() {
        let config = Config::default();
        assert_eq!(config.memcached_socket_addr().unwrap(), Some("127.0.0.1:11211".parse().unwrap()));
        config.validate().unwrap();
        assert_eq!(durability_name(config.durability), "everysec");
    }

    #[test]
    fn file_overrides_defaults() {
        let config = Config::from_toml(
            "data_dir = \"/tmp/x\"\nmemcached_addr = \"off\"\ndurability = \"always\"\nmax_item_size = 2048\nidle_timeout_secs = 5\n",
        )
        .unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.memcached_addr, None);
        assert_eq!(config.durability, Durability::Always);
        assert_eq!(config.limits().max_item_size, 2048);
        assert_eq!(config.idle_timeout, Some(Duration::from_secs(5)));
        assert_eq!(config.max_connections, 1024);
        let config = Config::from_toml("redis_addr = \"off\"\nrequirepass = \"pw\"\n").unwrap();
        assert_eq!(config.redis_addr, None);
        assert_eq!(config.requirepass.as_deref(), Some("pw"));
    }

    #[test]
    fn redis_on_non_loopback_needs_a_password_or_permission() {
        let mut config = Config { memcached_addr: None, redis_addr: Some("0.0.0.0:6379".into()), ..Config::default() };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("--requirepass"), "{err}");
        config.requirepass = Some("pw".into());
        config.validate().unwrap();
    }

    #[test]
    fn file_errors_are_clear() {
        let err = Config::from_toml("max_conections = 3\n").unwrap_err().to_string();
        assert!(err.contains("max_conections"), "{err}");
        let err = Config::from_toml("durability = \"sometimes\"\n").unwrap_err().to_string();
        assert!(err.contains("sometimes"), "{err}");
    }

    #[test]
    fn non_loopback_needs_permission() {
        let mut config = Config { memcached_addr: Some("0.0.0.0:11211".into()), ..Config::default() };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("--allow-non-loopback"), "{err}");
        config.allow_non_loopback = true;
        config.validate().unwrap();
    }

    #[test]
    fn protected_mode_covers_every_listener() {
        let open = |tweak: fn(&mut Config)| {
            let mut config = Config { memcached_addr: None, redis_addr: None, ..Config::default() };
            tweak(&mut config);
            config.validate().map_err(|e| e.to_string())
        };
        // memcached: refused without an auth file; the refusal names every way out.
        let err = open(|c| c.memcached_addr = Some("0.0.0.0:11211".into())).unwrap_err();
        for fix in ["--auth-file", "--memcached-tls-addr", "--tls-client-ca", "--allow-non-loopback"] {
            assert!(err.contains(fix), "{fix} missing from: {err}");
        }
        open(|c| {
            c.memcached_addr = Some("0.0.0.0:11211".into());
            c.auth_file = Some("users".into());
        })
        .unwrap();
        // A TLS listener: TLS alone lets anyone in, so it is refused too ...
        let tls = |c: &mut Config| {
            c.tls_cert_file = Some("cert.pem".into());
            c.tls_key_file = Some("key.pem".into());
        };
        let err = open(|c| {
            c.memcached_tls_addr = Some("0.0.0.0:11212".into());
            c.tls_cert_file = Some("cert.pem".into());
            c.tls_key_file = Some("key.pem".into());
        })
        .unwrap_err();
        assert!(err.contains("over TLS") && err.contains("--tls-client-ca") && err.contains("--auth-file"), "{err}");
        // ... unless clients need a certificate or a password.
        for listener in ["memcached", "redis"] {
            let mut config = Config { memcached_addr: None, redis_addr: None, ..Config::default() };
            tls(&mut config);
            let addr = Some("0.0.0.0:7000".to_string());
            if listener == "memcached" {
                config.memcached_tls_addr = addr;
            } else {
                config.redis_tls_addr = addr;
            }
            assert!(config.validate().is_err(), "{listener} over TLS open to anyone");
            config.tls_client_ca_file = Some("ca.pem".into());
            config.validate().unwrap();
            config.tls_client_ca_file = None;
            config.auth_file = Some("users".into());
            config.requirepass = Some("pw".into());
            config.validate().unwrap();
        }
        // Redis: the password or the unsafe flag; an auth file is memcached's and does not count.
        let err = open(|c| {
            c.redis_addr = Some("0.0.0.0:6379".into());
            c.auth_file = Some("users".into());
        })
        .unwrap_err();
        assert!(err.contains("--requirepass") && err.contains("--redis-tls-addr"), "{err}");
        open(|c| {
            c.redis_addr = Some("0.0.0.0:6379".into());
            c.allow_non_loopback = true;
        })
        .unwrap();
    }

    #[test]
    fn tls_settings_go_together() {
        let config = Config { redis_tls_addr: Some("127.0.0.1:6380".into()), ..Config::default() };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("--tls-cert") && err.contains("--tls-key"), "{err}");
        let config = Config { tls_cert_file: Some("cert.pem".into()), tls_key_file: Some("key.pem".into()), ..Config::default() };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("cert.pem") && err.contains("no TLS listener"), "{err}");
        let config = Config::from_toml(
            "redis_tls_addr = \"127.0.0.1:6380\"\nmemcached_tls_addr = \"off\"\ntls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"\n\
             tls_client_ca_file = \"ca.pem\"\nauth_file = \"users\"\n",
        )
        .unwrap();
        assert_eq!(config.redis_tls_addr.as_deref(), Some("127.0.0.1:6380"));
        assert_eq!(config.memcached_tls_addr, None);
        assert_eq!(config.tls_client_ca_file, Some(PathBuf::from("ca.pem")));
        assert_eq!(config.auth_file, Some(PathBuf::from("users")));
        config.validate().unwrap();
    }

    #[test]
    fn off_disables() {
        assert_eq!(parse_addr_setting("off"), None);
        assert_eq!(parse_addr_setting(" OFF "), None);
        assert_eq!(parse_addr_setting("localhost:1"), Some("localhost:1".into()));
        let config = Config { memcached_addr: None, ..Config::default() };
        assert_eq!(config.memcached_socket_addr().unwrap(), None);
    }
}
