//! `crowndb-torture`: the reliability harnesses as a command (see docs/reliability.md).
//!
//! ```text
//! crowndb-torture crash [--dir DIR] [--cycles N] [--seed S] [--min-delay-ms MS] [--max-delay-ms MS] [--sync-log] [--no-check] [--tolerate-known-issues] [-v]
//! crowndb-torture server-crash [--dir DIR] [--cycles N] [--clients N] [--protocol memcached|redis] [--seed S]
//! crowndb-torture damage [--dir DIR] [--trials N] [--seed S] [--keep]
//! crowndb-torture dump-damage [--dir DIR] [--trials N] [--seed S]
//! crowndb-torture exec-crash [--dir DIR] [--cycles N] [--clients N] [--seed S]
//! crowndb-torture collection-crash [--dir DIR] [--cycles N] [--clients N] [--seed S]
//! crowndb-torture io-faults [--dir DIR] [--trials N] [--server-trials N] [--fault NAME[,NAME...]] [--seed S] [-v]
//! crowndb-torture overload [--dir DIR] [--idle N] [--non-readers N] [--garbage N] [--half-requests N] [--seconds S] [--seed S]
//! crowndb-torture differential [--seed S] [--seeds N] [--commands N] [--types strings,keyspace] [--edge-file F] [--no-edge-cases] [--no-exclusions] [--no-minimise] [-q]
//! crowndb-torture writer --dir DIR --log FILE --seed S --first-id N [--sync-log]     (the child; run by `crash`)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use crowndb_torture::crash::{find_crowndb_bin, run_torture, run_writer, TortureConfig};
use crowndb_torture::{collection_crash, dump_damage, exec_crash, faults, io_faults, server_crash};

struct Args(Vec<String>);

impl Args {
    fn flag(&mut self, name: &str) -> bool {
        let found = self.0.iter().position(|a| a == name);
        if let Some(i) = found {
            self.0.remove(i);
        }
        found.is_some()
    }

    fn value(&mut self, name: &str) -> Result<Option<String>, String> {
        let Some(i) = self.0.iter().position(|a| a == name) else { return Ok(None) };
        if i + 1 >= self.0.len() {
            return Err(format!("{name} needs a value"));
        }
        let v = self.0.remove(i + 1);
        self.0.remove(i);
        Ok(Some(v))
    }

    fn number(&mut self, name: &str, default: u64) -> Result<u64, String> {
        match self.value(name)? {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("{name}: {v:?} is not a number")),
        }
    }

    fn finish(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected arguments: {:?}", self.0))
        }
    }
}

fn default_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
}

fn run() -> Result<(), String> {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() {
        return Err(
            "usage: crowndb-torture differential|crash|server-crash|exec-crash|collection-crash|damage|dump-damage|io-faults|overload|writer [options] (see docs/reliability.md)"
                .into(),
        );
    }
    let command = argv.remove(0);
    let mut args = Args(argv);
    match command.as_str() {
        "differential" => crowndb_torture::differential::cli::run_cli(&mut args.0, default_seed()),
        "overload" => {
            let defaults = crowndb_torture::overload::OverloadConfig::default();
            let seed = args.number("--seed", default_seed())?;
            let config = crowndb_torture::overload::OverloadConfig {
                idle: args.number("--idle", defaults.idle)?,
                non_readers: args.number("--non-readers", u64::from(defaults.non_readers))? as u32,
                garbage_senders: args.number("--garbage", u64::from(defaults.garbage_senders))? as u32,
                half_requests: args.number("--half-requests", u64::from(defaults.half_requests))? as u32,
                duration: std::time::Duration::from_secs(args.number("--seconds", defaults.duration.as_secs())?),
                seed,
                ..defaults
            };
            let dir = match args.value("--dir")? {
                Some(d) => PathBuf::from(d),
                None => std::env::temp_dir().join(format!("crowndb-overload-{seed}")),
            };
            args.finish()?;
            let bin = find_crowndb_bin().ok_or("the crowndb binary was not found next to this one; set CROWNDB_BIN")?;
            println!(
                "overload: {} serve, {} idle connections, {} non-reading clients, {} garbage senders, {} half requests, {} s",
                bin.display(),
                config.idle,
                config.non_readers,
                config.garbage_senders,
                config.half_requests,
                config.duration.as_secs()
            );
            let report = crowndb_torture::overload::run_overload(&bin, &dir, &config)
                .map_err(|e| format!("FAILED (seed {seed}, server log in {}): {e}", dir.join("server.stderr").display()))?;
            print!("{report}");
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
        "io-faults" => {
            let seed = args.number("--seed", default_seed())?;
            let trials = args.number("--trials", 3)?;
            let server_trials = args.number("--server-trials", 2)?;
            let verbose = args.flag("-v");
            let faults = match args.value("--fault")? {
                None => io_faults::Fault::ALL.to_vec(),
                Some(names) => names
                    .split(',')
                    .map(|n| io_faults::Fault::parse(n).ok_or_else(|| format!("--fault: unknown fault {n:?}")))
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let dir = match args.value("--dir")? {
                Some(d) => PathBuf::from(d),
                None => std::env::temp_dir().join(format!("crowndb-io-faults-{seed}")),
            };
            args.finish()?;
            println!("I/O fault injection: seed {seed}, {trials} trials of {} fault kinds, data in {}", faults.len(), dir.display());
            let report = io_faults::run_io_faults(&dir, &faults, trials, server_trials, seed, verbose)
                .map_err(|e| format!("FAILED (seed {seed}, data kept in {}): {e}", dir.display()))?;
            println!("ok: {report}");
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
        "io-faults-writer" => {
            let dir = args.value("--dir")?.ok_or("--dir is required")?;
            let log = args.value("--log")?.ok_or("--log is required")?;
            let report = args.value("--report")?.ok_or("--report is required")?;
            let seed = args.number("--seed", 1)?;
            args.finish()?;
            io_faults::run_writer(&PathBuf::from(dir), &PathBuf::from(log), &PathBuf::from(report), seed)
        }
        "writer" => {
            let dir = args.value("--dir")?.ok_or("--dir is required")?;
            let log = args.value("--log")?.ok_or("--log is required")?;
            let seed = args.number("--seed", 1)?;
            let first_id = args.number("--first-id", 1)?;
            let sync_log = args.flag("--sync-log");
            args.finish()?;
            run_writer(&PathBuf::from(dir), &PathBuf::from(log), seed, first_id, sync_log)
        }
        "crash" => {
            let seed = args.number("--seed", default_seed())?;
            let dir = match args.value("--dir")? {
                Some(d) => PathBuf::from(d),
                None => std::env::temp_dir().join(format!("crowndb-torture-{seed}")),
            };
            let config = TortureConfig {
                cycles: args.number("--cycles", 30)?,
                seed,
                min_delay_ms: args.number("--min-delay-ms", 20)?,
                max_delay_ms: args.number("--max-delay-ms", 600)?,
                sync_log: args.flag("--sync-log"),
                check_bin: if args.flag("--no-check") { None } else { find_crowndb_bin() },
                verbose: args.flag("-v"),
                strict: !args.flag("--tolerate-known-issues"),
                dir,
            };
            args.finish()?;
            if config.max_delay_ms < config.min_delay_ms {
                return Err("--max-delay-ms is below --min-delay-ms".into());
            }
            println!(
                "crash torture: seed {seed}, {} cycles, data in {}, crowndb check: {}",
                config.cycles,
                config.dir.display(),
                config.check_bin.as_ref().map_or("not found (set CROWNDB_BIN)".to_string(), |p| p.display().to_string())
            );
            let report = run_torture(&config).map_err(|e| format!("FAILED (seed {seed}, data kept in {}): {e}", config.dir.display()))?;
            println!("ok: {report}");
            let _ = std::fs::remove_dir_all(&config.dir);
            Ok(())
        }
        "damage" => {
            let seed = args.number("--seed", default_seed())?;
            let trials = args.number("--trials", 200)?;
            let keep = args.flag("--keep");
            let dir = match args.value("--dir")? {
                Some(d) => PathBuf::from(d),
                None => std::env::temp_dir().join(format!("crowndb-damage-{seed}")),
            };
            args.finish()?;
            println!("damage injection: seed {seed}, {trials} trials, data in {}", dir.display());
            let report = faults::run_damage(&dir, trials, seed, find_crowndb_bin().as_deref())
                .map_err(|e| format!("FAILED (seed {seed}, data kept in {}): {e}", dir.display()))?;
            println!("ok: {report}");
            if !keep {
                let _ = std::fs::remove_dir_all(&dir);
            }
            Ok(())
        }
        "dump-damage" => {
            let seed = args.number("--seed", default_seed())?;
            let trials = args.number("--trials", 200)?;
            let dir = match args.value("--dir")? {
                Some(d) => PathBuf::from(d),
                None => std::env::temp_dir().join(format!("crowndb-dump-damage-{seed}")),
            };
            args.finish()?;
            let bin = find_crowndb_bin().ok_or("the crowndb binary was not found next to this one; set CROWNDB_BIN")?;
            println!("dump damage: seed {seed}, {trials} trials, data in {}", dir.display());
            let report = dump_damage::run_dump_damage(&bin, &dir, trials, seed)
                .map_err(|e| format!("FAILED (seed {seed}, data kept in {}): {e}", dir.display()))?;
            println!("ok: {report}");
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
        "exec-crash" => {
            let seed = args.number("--seed", default_seed())?;
            let cycles = args.number("--cycles", 20)?;
            let clients = args.number("--clients", 3)? as usize;
            let dir = match args.value("--dir")? {
                Some(d) => PathBuf::from(d),
                None => std::env::temp_dir().join(format!("crowndb-exec-crash-{seed}")),
            };
            args.finish()?;
            let bin = find_crowndb_bin().ok_or("the crowndb binary was not found next to this one; set CROWNDB_BIN")?;
            println!("EXEC crash torture: seed {seed}, {cycles} kills, {clients} clients, data in {}", dir.display());
            let report = exec_crash::run_exec_crash(&bin, &dir, cycles, clients, 20, 2048, seed)
                .map_err(|e| format!("FAILED (seed {seed}, data kept in {}): {e}", dir.display()))?;
            println!("ok: {report}");
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
        "collection-crash" => {
            let seed = args.number("--seed", default_seed())?;
            let cycles = args.number("--cycles", 20)?;
            let clients = args.number("--clients", 4)? as u32;
            let dir = match args.value("--dir")? {
                Some(d) => PathBuf::from(d),
                None => std::env::temp_dir().join(format!("crowndb-collection-crash-{seed}")),
            };
            args.finish()?;
            let bin = find_crowndb_bin().ok_or("the crowndb binary was not found next to this one; set CROWNDB_BIN")?;
            println!("collection crash torture: seed {seed}, {cycles} kills, {clients} clients, data in {}", dir.display());
            let report = collection_crash::run_collection_torture(&bin, &dir, cycles, clients, seed)
                .map_err(|e| format!("FAILED (seed {seed}, data kept in {}): {e}", dir.display()))?;
            println!("ok: {report}");
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
        "server-crash" => {
            let seed = args.number("--seed", default_seed())?;
            let cycles = args.number("--cycles", 20)?;
            let clients = args.number("--clients", 4)? as u32;
            let protocol = server_crash::Protocol::parse(&args.value("--protocol")?.unwrap_or_else(|| "memcached".into()))?;
            let dir = match args.value("--dir")? {
                Some(d) => PathBuf::from(d),
                None => server_crash::default_dir(seed),
            };
            args.finish()?;
            let bin = find_crowndb_bin().ok_or("the crowndb binary was not found next to this one; set CROWNDB_BIN")?;
            println!(
                "server crash torture: seed {seed}, {cycles} kills of {} serve, {clients} {protocol:?} clients, data in {}",
                bin.display(),
                dir.display()
            );
            let report = server_crash::run_server_torture(&bin, &dir, protocol, cycles, clients, seed)
                .map_err(|e| format!("FAILED (seed {seed}, data kept in {}): {e}", dir.display()))?;
            println!("ok: {report}");
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
        other => {
            Err(format!("unknown command {other:?}: crash, server-crash, exec-crash, collection-crash, damage, dump-damage, io-faults, overload or writer"))
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crowndb-torture: {e}");
            ExitCode::from(2)
        }
    }
}
