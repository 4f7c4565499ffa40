//! `crowndb`: the command line of CrownDB. `crowndb serve` runs the server.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use crowndb_server::config::{idle_timeout, parse_addr_setting, parse_durability};
use crowndb_server::{Config, ServerError};

mod cmd;
mod dump_format;

#[derive(Debug, Parser)]
#[command(name = "crowndb", version, about = "CrownDB: a persistent key-value store for SSDs, with a memcached-compatible server")]
#[command(after_help = cmd::EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (memcached and Redis protocols) on a data directory, until SIGTERM or SIGINT.
    Serve(Box<ServeArgs>),
    /// Print the value of a key.
    Get(cmd::get::GetArgs),
    /// Store a value (from an argument, a file or stdin).
    Put(cmd::put::PutArgs),
    /// Delete keys.
    Del(cmd::del::DelArgs),
    /// List keys, optionally matching a glob.
    Scan(cmd::scan::ScanArgs),
    /// Write every key, with flags and expiry, to a checksummed dump file.
    Dump(cmd::dump::DumpArgs),
    /// Load a dump file into a store.
    Load(cmd::load::LoadArgs),
    /// Print the store's figures (keys, bytes, segments, amplification).
    Stats(cmd::stats::StatsArgs),
    /// Verify every checksum of every segment and footer.
    Check(cmd::check::CheckArgs),
    /// Salvage a damaged store; bytes that do not verify go to quarantine/.
    Repair(cmd::repair::RepairArgs),
    /// Compact every sealed segment now.
    Compact(cmd::compact::CompactArgs),
    /// Run db_bench-style workloads and report throughput, latency and amplification.
    Bench(cmd::bench::BenchArgs),
}

/// Flags override the config file, which overrides the defaults.
#[derive(Debug, Args)]
struct ServeArgs {
    /// TOML file with any of the settings below (same names, `idle_timeout_secs` for the timeout).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the store, created if missing [default: ./crowndb-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Address of the memcached protocol listener, or `off` [default: 127.0.0.1:11211].
    #[arg(long, value_name = "HOST:PORT")]
    memcached_addr: Option<String>,
    /// Address of the Redis protocol (RESP2/RESP3) listener, or `off` [default: 127.0.0.1:6379].
    #[arg(long, value_name = "HOST:PORT")]
    redis_addr: Option<String>,
    /// Password Redis clients must give with AUTH (or HELLO ... AUTH) [default: none].
    #[arg(long, value_name = "PASSWORD")]
    requirepass: Option<String>,
    /// memcached auth file of `username:password` lines (memcached's -Y): clients must log in with
    /// `set <any key> 0 0 <len>` and `<username> <password>` as the value before anything else
    /// [default: none].
    #[arg(long, value_name = "FILE")]
    auth_file: Option<PathBuf>,
    /// Address of a memcached protocol listener over TLS, or `off` [default: off]. Needs
    /// --tls-cert and --tls-key.
    #[arg(long, value_name = "HOST:PORT")]
    memcached_tls_addr: Option<String>,
    /// Address of a Redis protocol listener over TLS (Redis's tls-port), or `off` [default: off].
    /// Needs --tls-cert and --tls-key.
    #[arg(long, value_name = "HOST:PORT")]
    redis_tls_addr: Option<String>,
    /// PEM file with the server's certificate chain (server certificate first), for the TLS
    /// listeners.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM file with the private key of the server certificate.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// PEM file of CA certificates: TLS clients must present a certificate signed by one of them
    /// [default: none, no client certificate asked].
    #[arg(long, value_name = "FILE")]
    tls_client_ca: Option<PathBuf>,
    /// When writes reach the disk: `always` (before the reply), `everysec`, `never`, or a period
    /// such as `100ms` [default: everysec].
    #[arg(long, value_name = "MODE")]
    durability: Option<String>,
    /// Connections served at once; more are refused with an error [default: 1024].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Largest value, in bytes; accepts k and m suffixes, like memcached's -I [default: 1m].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    max_item_size: Option<usize>,
    /// All client buffers together (Redis's maxmemory-clients); above it the connections holding
    /// more than 256 KiB are closed. k, m and g suffixes; 0: no limit [default: 1g].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    max_client_memory: Option<usize>,
    /// Longest key, in bytes [default: 250].
    #[arg(long, value_name = "BYTES")]
    max_key_len: Option<usize>,
    /// Longest request line other than a retrieval, in bytes; a longer one closes the
    /// connection [default: 2048].
    #[arg(long, value_name = "BYTES")]
    max_line_len: Option<usize>,
    /// Close connections idle for this many seconds; 0 never does [default: 0].
    #[arg(long, value_name = "SECS")]
    idle_timeout: Option<u64>,
    /// Network worker threads; 0 means one per core [default: 0].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// error, warn, info, debug or trace (or a tracing filter such as `crowndb_server=debug`)
    /// [default: info].
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Unsafe: allow a listener on a non-loopback address even though nothing keeps strangers out.
    /// Without it, such a listener needs a password (--auth-file for memcached, --requirepass for
    /// Redis) or, over TLS, client certificates (--tls-client-ca).
    #[arg(long)]
    allow_non_loopback: bool,
}

/// `1048576`, `1024k`, `1m`, `1g`.
fn parse_size(text: &str) -> Result<usize, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, unit) = match lower.as_bytes().last() {
        Some(b'k') => (&lower[..lower.len() - 1], 1 << 10),
        Some(b'm') => (&lower[..lower.len() - 1], 1 << 20),
        Some(b'g') => (&lower[..lower.len() - 1], 1 << 30),
        _ => (&lower[..], 1),
    };
    let n: usize = digits.parse().map_err(|_| format!("{text:?} is not a size (examples: 1048576, 512k, 2m)"))?;
    n.checked_mul(unit).ok_or_else(|| format!("{text:?} is too large"))
}

impl ServeArgs {
    fn config(self) -> Result<Config, ServerError> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(dir) = self.data_dir {
            config.data_dir = dir;
        }
        if let Some(addr) = self.memcached_addr {
            config.memcached_addr = parse_addr_setting(&addr);
        }
        if let Some(addr) = self.redis_addr {
            config.redis_addr = parse_addr_setting(&addr);
        }
        if let Some(password) = self.requirepass {
            config.requirepass = (!password.is_empty()).then_some(password);
        }
        if let Some(file) = self.auth_file {
            config.auth_file = Some(file);
        }
        if let Some(addr) = self.memcached_tls_addr {
            config.memcached_tls_addr = parse_addr_setting(&addr);
        }
        if let Some(addr) = self.redis_tls_addr {
            config.redis_tls_addr = parse_addr_setting(&addr);
        }
        if let Some(file) = self.tls_cert {
            config.tls_cert_file = Some(file);
        }
        if let Some(file) = self.tls_key {
            config.tls_key_file = Some(file);
        }
        if let Some(file) = self.tls_client_ca {
            config.tls_client_ca_file = Some(file);
        }
        if let Some(durability) = self.durability {
            config.durability = parse_durability(&durability)?;
        }
        if let Some(n) = self.max_connections {
            config.max_connections = n;
        }
        if let Some(n) = self.max_item_size {
            config.max_item_size = n;
        }
        if let Some(n) = self.max_client_memory {
            config.max_client_memory = n;
        }
        if let Some(n) = self.max_key_len {
            config.max_key_len = n;
        }
        if let Some(n) = self.max_line_len {
            config.max_line_len = n;
        }
        if let Some(secs) = self.idle_timeout {
            config.idle_timeout = idle_timeout(secs);
        }
        if let Some(n) = self.threads {
            config.threads = n;
        }
        if let Some(level) = self.log_level {
            config.log_level = level;
        }
        config.allow_non_loopback |= self.allow_non_loopback;
        Ok(config)
    }
}

fn init_logging(level: &str) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(level).map_err(|e| format!("log level {level:?}: {e}"))?;
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let config = args.config().map_err(|e| e.to_string())?;
    init_logging(&config.log_level)?;
    tracing::info!("crowndb {} starting, data dir {}", env!("CARGO_PKG_VERSION"), config.data_dir.display());
    crowndb_server::run_until_signal(config).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Get(args) => return cmd::exit(cmd::get::run(args)),
        Command::Put(args) => return cmd::exit(cmd::put::run(args)),
        Command::Del(args) => return cmd::exit(cmd::del::run(args)),
        Command::Scan(args) => return cmd::exit(cmd::scan::run(args)),
        Command::Dump(args) => return cmd::exit(cmd::dump::run(args)),
        Command::Load(args) => return cmd::exit(cmd::load::run(args)),
        Command::Stats(args) => return cmd::exit(cmd::stats::run(args)),
        Command::Check(args) => return cmd::exit(cmd::check::run(args)),
        Command::Repair(args) => return cmd::exit(cmd::repair::run(args)),
        Command::Compact(args) => return cmd::exit(cmd::compact::run(args)),
        Command::Bench(args) => return cmd::exit(cmd::bench::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("crowndb: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_suffixes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn flags_override_the_file() {
        let dir = std::env::temp_dir().join(format!("crowndb-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("crowndb.toml");
        std::fs::write(&file, "durability = \"always\"\nmax_connections = 7\nmemcached_addr = \"127.0.0.1:1\"\n").unwrap();
        let cli =
            Cli::parse_from(["crowndb", "serve", "--config", file.to_str().unwrap(), "--max-connections", "9", "--memcached-addr", "off"]);
        let Command::Serve(args) = cli.command else { panic!("parsed as serve") };
        let config = args.config().unwrap();
        assert_eq!(config.durability, crowndb::Durability::Always);
        assert_eq!(config.max_connections, 9);
        assert_eq!(config.memcached_addr, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
