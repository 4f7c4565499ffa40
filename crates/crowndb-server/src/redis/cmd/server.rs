//! Server commands: INFO, TIME, SAVE, BGSAVE, LASTSAVE, CONFIG, SHUTDOWN.
//!
//! The store is always persistent, so a "save" is a sync of the log (`Db::sync`): after SAVE,
//! every acknowledged write is on disk, whatever the durability setting.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use crate::config::durability_name;
use crate::redis::dispatch::{sub_arity, Ctx};
use crate::redis::glob;
use crate::redis::reply::{self, is, Reply};
use crate::redis::REDIS_VERSION;
use crate::resp::Frame;
use crate::stats::unix_now;
use crate::store::{blocking, cpu_times};

/// `INFO [section ...]`: `server clients memory persistence stats replication cpu keyspace`
/// by default and for `all`, `everything` or `default`.
pub fn info(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    const SECTIONS: [&str; 8] = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "keyspace"];
    let wanted: Vec<String> = args[1..].iter().map(|a| reply::text(a).to_ascii_lowercase()).collect();
    let all = wanted.is_empty() || wanted.iter().any(|w| w == "all" || w == "everything" || w == "default");
    let mut text = String::new();
    for section in SECTIONS {
        if !all && !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        write_section(ctx, section, &mut text);
    }
    Ok(Frame::verbatim_text(text))
}

fn write_section(ctx: &Ctx, section: &str, out: &mut String) {
    let shared = ctx.shared;
    let counters = &shared.counters;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let title = match section {
        "cpu" => "CPU".to_string(),
        other => other[..1].to_ascii_uppercase() + &other[1..],
    };
    let _ = write!(out, "# {title}\r\n");
    let mut field = |name: &str, value: &dyn std::fmt::Display| {
        let _ = write!(out, "{name}:{value}\r\n");
    };
    match section {
        "server" => {
            let uptime = shared.stats.uptime();
            field("redis_version", &REDIS_VERSION);
            field("crowndb_version", &env!("CARGO_PKG_VERSION"));
            field("redis_git_sha1", &"00000000");
            field("redis_git_dirty", &0);
            field("redis_build_id", &"0");
            field("redis_mode", &"standalone");
            field("os", &std::env::consts::OS);
            field("arch_bits", &usize::BITS);
            field("multiplexing_api", &"epoll");
            field("process_id", &std::process::id());
            field("run_id", &shared.run_id);
            field("tcp_port", &shared.port);
            field("server_time_usec", &now_usec());
            field("uptime_in_seconds", &uptime);
            field("uptime_in_days", &(uptime / 86_400));
            field("hz", &10);
            field("executable", &std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default());
            field("config_file", &"");
        }
        "clients" => {
            field("connected_clients", &shared.client_count());
            field("maxclients", &shared.config.max_connections);
            field("maxmemory_clients", &shared.config.max_client_memory);
            field("client_buffers_bytes", &shared.stats.client_memory.used());
            field("evicted_clients", &shared.stats.client_memory.evicted());
            field("blocked_clients", &0);
            field("tracking_clients", &0);
        }
        "memory" => {
            let store = shared.db.stats();
            let rss = rss_bytes();
            field("used_memory", &rss);
            field("used_memory_human", &human(rss));
            field("used_memory_rss", &rss);
            field("used_memory_rss_human", &human(rss));
            field("used_memory_peak", &rss);
            field("maxmemory", &0);
            field("maxmemory_human", &"0B");
            field("maxmemory_policy", &"noeviction");
            field("mem_fragmentation_ratio", &"1.00");
            field("crowndb_index_memory_bytes", &store.index_memory_bytes);
        }
        "persistence" => {
            let store = shared.db.stats();
            field("loading", &0);
            field("rdb_changes_since_last_save", &store.last_sequence.saturating_sub(load(&shared.last_save_sequence)));
            field("rdb_bgsave_in_progress", &0);
            field("rdb_last_save_time", &load(&shared.last_save));
            field("rdb_last_bgsave_status", &"ok");
            field("aof_enabled", &1);
            field("aof_rewrite_in_progress", &0);
            field("aof_last_write_status", &"ok");
            field("crowndb_durability", &durability_name(shared.config.durability));
            field("crowndb_data_dir", &shared.config.data_dir.display());
            field("crowndb_segments", &store.segment_count());
            field("crowndb_live_bytes", &store.live_bytes);
            field("crowndb_dead_bytes", &store.dead_bytes);
            field("crowndb_disk_bytes_written", &store.disk_bytes_written);
            field("crowndb_syncs", &store.syncs);
            // Group commit: writes that waited for a sync, and their mean wait (append to ack).
            field("crowndb_sync_waits", &store.sync.waits);
            field("crowndb_sync_writes_per_sync", &format!("{:.2}", store.sync.waits as f64 / store.sync.syncs.max(1) as f64));
            field("crowndb_sync_wait_us_mean", &format!("{:.1}", store.sync.wait_micros as f64 / store.sync.waits.max(1) as f64));
            // Index precision: records of other keys read by lookups (see docs/architecture.md).
            field("crowndb_false_candidate_reads", &store.false_candidate_reads);
        }
        "stats" => {
            field("total_connections_received", &load(&counters.total_connections_received));
            field("total_commands_processed", &load(&counters.total_commands_processed));
            field("instantaneous_ops_per_sec", &0);
            field("total_net_input_bytes", &load(&counters.total_net_input_bytes));
            field("total_net_output_bytes", &load(&counters.total_net_output_bytes));
            field("rejected_connections", &load(&shared.stats.counters.rejected_connections));
            field("expired_keys", &0);
            field("evicted_keys", &0);
            field("keyspace_hits", &load(&counters.keyspace_hits));
            field("keyspace_misses", &load(&counters.keyspace_misses));
            field("pubsub_channels", &0);
            field("total_error_replies", &load(&counters.total_error_replies));
        }
        "replication" => {
            field("role", &"master");
            field("connected_slaves", &0);
        }
        "cpu" => {
            let (user, system) = cpu_times();
            field("used_cpu_sys", &system);
            field("used_cpu_user", &user);
        }
        "keyspace" => {
            let keys = shared.db.stats().keys;
            if keys > 0 {
                field("db0", &format!("keys={keys},expires=0,avg_ttl=0"));
            }
        }
        _ => {}
    }
}

fn now_usec() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0)
}

/// Resident memory of the process, from /proc (0 where there is none).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.2}G", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.2}M", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.2}K", b as f64 / 1024.0),
        b => format!("{b}B"),
    }
}

pub fn time(_ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let usec = now_usec();
    Ok(Frame::Array(vec![Frame::bulk((usec / 1_000_000).to_string()), Frame::bulk((usec % 1_000_000).to_string())]))
}

/// Syncs the store: every acknowledged write is on disk when the reply comes.
pub fn save(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    let db = ctx.db().clone();
    blocking(|| db.sync()).map_err(reply::engine)?;
    ctx.shared.saved();
    Ok(Frame::ok())
}

/// A sync, as SAVE; done before the reply (a sync takes milliseconds, there is nothing to fork).
pub fn bgsave(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() > 2 || (args.len() == 2 && !is(&args[1], "SCHEDULE")) {
        return Err(reply::syntax_error());
    }
    let db = ctx.db().clone();
    let sequence = db.stats().last_sequence;
    match blocking(|| db.sync()) {
        Ok(()) => {
            ctx.shared.last_save.store(unix_now(), Ordering::Relaxed);
            ctx.shared.last_save_sequence.store(sequence, Ordering::Relaxed);
            Ok(Frame::simple("Background saving started"))
        }
        Err(e) => Err(reply::engine(e)),
    }
}

pub fn lastsave(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    Ok(Frame::Integer(ctx.shared.last_save.load(Ordering::Relaxed) as i64))
}

/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`: stops the server as SIGTERM does
/// (connections finish, the store is synced and closed). The client gets no reply: its
/// connection closes.
pub fn shutdown(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut abort = false;
    for arg in &args[1..] {
        if is(arg, "ABORT") {
            abort = true;
        } else if !(is(arg, "NOSAVE") || is(arg, "SAVE") || is(arg, "NOW") || is(arg, "FORCE")) {
            return Err(reply::syntax_error());
        }
    }
    if abort {
        if args.len() > 2 {
            return Err(reply::syntax_error());
        }
        return Err(Frame::err("No shutdown in progress."));
    }
    tracing::info!("SHUTDOWN from Redis client {}", ctx.client.id);
    ctx.shared.shutdown();
    ctx.client.close_now = true;
    Ok(Frame::ok())
}

/// The parameters CONFIG GET reports, and their current values.
fn parameters(ctx: &Ctx) -> Vec<(&'static str, String)> {
    let shared = ctx.shared;
    let settings = shared.settings();
    let config = &shared.config;
    let limits = shared.db.collection_limits();
    let (bind, port) = match shared.bind_addr() {
        Some(addr) => (addr.ip().to_string(), addr.port()),
        None => (String::new(), shared.port),
    };
    let fsync = match config.durability {
        crowndb::Durability::Always => "always",
        crowndb::Durability::Never => "no",
        crowndb::Durability::Periodic(_) => "everysec",
    };
    vec![
        ("appendfsync", fsync.to_string()),
        ("appendonly", "yes".to_string()),
        ("bind", bind),
        ("client-query-buffer-limit", settings.limits.max_query_buffer.to_string()),
        ("databases", "1".to_string()),
        ("dbfilename", "dump.rdb".to_string()),
        ("dir", config.data_dir.display().to_string()),
        ("hash-max-listpack-entries", limits.hash_max_listpack_entries.to_string()),
        ("hash-max-listpack-value", limits.hash_max_listpack_value.to_string()),
        ("hash-max-ziplist-entries", limits.hash_max_listpack_entries.to_string()),
        ("hash-max-ziplist-value", limits.hash_max_listpack_value.to_string()),
        ("io-threads", config.worker_threads().to_string()),
        ("loglevel", "notice".to_string()),
        ("maxclients", config.max_connections.to_string()),
        ("maxmemory", "0".to_string()),
        ("maxmemory-policy", "noeviction".to_string()),
        ("port", port.to_string()),
        ("protected-mode", if config.allow_non_loopback { "no" } else { "yes" }.to_string()),
        ("proto-max-bulk-len", settings.limits.max_bulk_len.to_string()),
        ("requirepass", settings.requirepass.map(|p| String::from_utf8_lossy(&p).into_owned()).unwrap_or_default()),
        ("save", String::new()),
        ("set-max-intset-entries", limits.set_max_intset_entries.to_string()),
        ("tcp-keepalive", "60".to_string()),
        ("timeout", settings.timeout.map_or(0, |d| d.as_secs()).to_string()),
    ]
}

/// `100`, `1k` (1000), `1kb` (1024), `512mb`, `1gb`: Redis's memory sizes.
fn parse_memory(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?.to_ascii_lowercase();
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &text[digits.len()..] {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// A memory value as Redis 7.0's `memtoull` reads it: digits (none is 0; past u64 the
/// largest) and an optional unit `b`, `k`, `kb`, `m`, `mb`, `g`, `gb`, the product wrapping
/// as in C; no sign. `None`: not one.
fn memtoull(text: &[u8]) -> Option<u64> {
    let digits = text.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit: u64 = match text[digits..].to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1_000_000,
        b"mb" => 1 << 20,
        b"g" => 1_000_000_000,
        b"gb" => 1 << 30,
        _ => return None,
    };
    if digits >= 128 {
        return None;
    }
    let n = text[..digits].iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0'))).unwrap_or(u64::MAX);
    Some(n.wrapping_mul(unit))
}

/// CONFIG GET / SET / RESETSTAT / HELP.
pub fn config(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let sub = reply::text(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "get" => {
            sub_arity(args, -3, "config|get")?;
            let params = parameters(ctx);
            let mut pairs = Vec::new();
            for (name, value) in params {
                if args[2..].iter().any(|p| glob::matches(&p.to_ascii_lowercase(), name.as_bytes())) {
                    pairs.push((Frame::bulk(name), Frame::bulk(value)));
                }
            }
            Ok(Frame::Map(pairs))
        }
        "set" => {
            if args.len() < 4 || !args.len().is_multiple_of(2) {
                return Err(reply::wrong_arity("config|set"));
            }
            config_set(ctx, &args[2..])
        }
        "resetstat" => {
            sub_arity(args, 2, "config|resetstat")?;
            ctx.shared.reset_stats();
            Ok(Frame::ok())
        }
        "help" => {
            sub_arity(args, 2, "config|help")?;
            let lines = [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "HELP",
                "    Print this help.",
            ];
            Ok(Frame::Array(lines.iter().map(|l| Frame::simple(*l)).collect()))
        }
        _ => Err(reply::unknown_subcommand(&args[0], &args[1])),
    }
}

/// Checks every pair first, then applies them all (as Redis 7 does).
fn config_set(ctx: &mut Ctx, pairs: &[Bytes]) -> Reply {
    let failed = |name: &str, why: &str| Frame::err(format!("CONFIG SET failed (possibly related to argument '{name}') - {why}"));
    let mut settings = ctx.shared.settings();
    let mut limits = ctx.db().collection_limits();
    for pair in pairs.chunks(2) {
        let name = reply::text(&pair[0]).to_ascii_lowercase();
        let value = &pair[1];
        match name.as_str() {
            "requirepass" => settings.requirepass = (!value.is_empty()).then(|| value.to_vec()),
            "timeout" => {
                let secs = reply::parse_i64(value)
                    .ok()
                    .filter(|s| *s >= 0)
                    .ok_or_else(|| failed(&name, "argument couldn't be parsed into an integer"))?;
                settings.timeout = (secs > 0).then(|| Duration::from_secs(secs as u64));
            }
            "proto-max-bulk-len" => {
                let n = parse_memory(value)
                    .filter(|n| *n >= 1 << 20)
                    .ok_or_else(|| failed(&name, "argument must be a memory value of at least 1mb"))?;
                settings.limits.max_bulk_len = usize::try_from(n).unwrap_or(usize::MAX);
            }
            "client-query-buffer-limit" => {
                let n = parse_memory(value)
                    .filter(|n| *n >= 1 << 20)
                    .ok_or_else(|| failed(&name, "argument must be a memory value of at least 1mb"))?;
                settings.limits.max_query_buffer = usize::try_from(n).unwrap_or(usize::MAX);
            }
            "maxmemory" if parse_memory(value) == Some(0) => {}
            "maxmemory" => return Err(failed(&name, "CrownDB is bounded by disk, not memory: only 0 is accepted")),
            "maxmemory-policy" if is(value, "noeviction") => {}
            "maxmemory-policy" => return Err(failed(&name, "CrownDB never evicts: only noeviction is accepted")),
            "appendonly" if is(value, "yes") => {}
            "appendonly" => return Err(failed(&name, "CrownDB always logs writes: only yes is accepted")),
            // Snapshot schedules and log levels have no effect here; accepted so tools that set
            // them keep working.
            "save" | "loglevel" => {}
            // Redis 7.0's: size_t in 0..=LONG_MAX, the `-value` ones memory values.
            // (set-max-listpack-* are Redis 7.2's: refused as unknown, as 7.0 does.)
            "hash-max-listpack-entries"
            | "hash-max-ziplist-entries"
            | "hash-max-listpack-value"
            | "hash-max-ziplist-value"
            | "set-max-intset-entries" => {
                let n = if name.ends_with("-value") {
                    memtoull(value).ok_or_else(|| failed(&name, "argument must be a memory value"))?
                } else {
                    let n = reply::parse_i64(value).map_err(|_| failed(&name, "argument couldn't be parsed into an integer"))?;
                    n as u64
                };
                if n > i64::MAX as u64 {
                    return Err(failed(&name, "argument must be between 0 and 9223372036854775807 inclusive"));
                }
                let slot = match name.as_str() {
                    "hash-max-listpack-entries" | "hash-max-ziplist-entries" => &mut limits.hash_max_listpack_entries,
                    "hash-max-listpack-value" | "hash-max-ziplist-value" => &mut limits.hash_max_listpack_value,
                    _ => &mut limits.set_max_intset_entries,
                };
                *slot = usize::try_from(n).unwrap_or(usize::MAX);
            }
            _ => {
                return Err(Frame::err(format!("Unknown option or number of arguments for CONFIG SET - '{}'", reply::text(&pair[0]))));
            }
        }
    }
    ctx.shared.update_settings(|live| *live = settings);
    // Collections written from now on follow the new thresholds.
    ctx.db().set_collection_limits(limits);
    Ok(Frame::ok())
}

#[cfg(test)]
mod tests {
    use super::parse_memory;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory(b"100"), Some(100));
        assert_eq!(parse_memory(b"1kb"), Some(1024));
        assert_eq!(parse_memory(b"1k"), Some(1000));
        assert_eq!(parse_memory(b"512MB"), Some(512 << 20));
        assert_eq!(parse_memory(b"2gb"), Some(2 << 30));
        assert_eq!(parse_memory(b"x"), None);
        assert_eq!(parse_memory(b"1tb"), None);
    }
}
