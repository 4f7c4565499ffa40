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
//! durability = "everysec"              # always | everysec | never | 100ms | 2s
//! max_connections = 1024
//! max_item_size = 1048576
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
    /// Allow listening on an address other than loopback. Default: false, because the memcached
    /// text protocol has no authentication: anyone who can connect can read and write everything.
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
            durability: Durability::Periodic(Duration::from_secs(1)),
            max_connections: 1024,
            max_item_size: limits.max_item_size,
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
    durability: Option<String>,
    max_connections: Option<usize>,
    max_item_size: Option<usize>,
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
        if let Some(durability) = file.durability {
            config.durability = parse_durability(&durability)?;
        }
        set(&mut config.max_connections, file.max_connections);
        set(&mut config.max_item_size, file.max_item_size);
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

    /// Checks the settings and resolves the listen address. Refuses a non-loopback address
    /// unless `allow_non_loopback` is set.
    pub fn memcached_socket_addr(&self) -> Result<Option<SocketAddr>, ServerError> {
        let Some(text) = &self.memcached_addr else { return Ok(None) };
        let addrs: Vec<SocketAddr> = text
            .to_socket_addrs()
            .map_err(|e| ServerError::Config(format!("memcached address {text:?}: {e} (expected HOST:PORT or off)")))?
            .collect();
        let Some(&first) = addrs.first() else {
            return Err(ServerError::Config(format!("memcached address {text:?} resolves to nothing")));
        };
        if !self.allow_non_loopback {
            if let Some(open) = addrs.iter().find(|a| !a.ip().is_loopback()) {
                return Err(ServerError::Config(format!(
                    "refusing to listen on {open} ({text}): it is not a loopback address, and the memcached text protocol \
                     has no authentication, so anyone who can reach it can read and change every item. Pass \
                     --allow-non-loopback (or allow_non_loopback = true in the config file) to listen there anyway"
                )));
            }
        }
        Ok(Some(first))
    }

    /// Resolves the Redis listen address. A non-loopback address needs `allow_non_loopback` or a
    /// password (`requirepass`).
    pub fn redis_socket_addr(&self) -> Result<Option<SocketAddr>, ServerError> {
        let Some(text) = &self.redis_addr else { return Ok(None) };
        let addrs: Vec<SocketAddr> = text
            .to_socket_addrs()
            .map_err(|e| ServerError::Config(format!("redis address {text:?}: {e} (expected HOST:PORT or off)")))?
            .collect();
        let Some(&first) = addrs.first() else {
            return Err(ServerError::Config(format!("redis address {text:?} resolves to nothing")));
        };
        if !self.allow_non_loopback && self.requirepass.is_none() {
            if let Some(open) = addrs.iter().find(|a| !a.ip().is_loopback()) {
                return Err(ServerError::Config(format!(
                    "refusing to listen on {open} ({text}) for Redis clients: it is not a loopback address and no \
                     password is set, so anyone who can reach it can read and change every key. Set --requirepass, or \
                     pass --allow-non-loopback (or allow_non_loopback = true in the config file) to listen there anyway"
                )));
            }
        }
        Ok(Some(first))
    }

    /// Checks limits that would make the server useless.
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
        self.memcached_socket_addr()?;
        self.redis_socket_addr().map(|_| ())
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
    fn off_disables() {
        assert_eq!(parse_addr_setting("off"), None);
        assert_eq!(parse_addr_setting(" OFF "), None);
        assert_eq!(parse_addr_setting("localhost:1"), Some("localhost:1".into()));
        let config = Config { memcached_addr: None, ..Config::default() };
        assert_eq!(config.memcached_socket_addr().unwrap(), None);
    }
}
