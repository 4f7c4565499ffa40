//! `crowndb-torture differential`: option parsing and the report.

use std::path::PathBuf;

use super::{gen, run, servers::find_redis_server, Config};
use crate::crash::find_crowndb_bin;

fn take_flag(args: &mut Vec<String>, name: &str) -> bool {
    let found = args.iter().position(|a| a == name);
    if let Some(i) = found {
        args.remove(i);
    }
    found.is_some()
}

fn take_value(args: &mut Vec<String>, name: &str) -> Result<Option<String>, String> {
    let Some(i) = args.iter().position(|a| a == name) else { return Ok(None) };
    if i + 1 >= args.len() {
        return Err(format!("{name} needs a value"));
    }
    let v = args.remove(i + 1);
    args.remove(i);
    Ok(Some(v))
}

fn take_number(args: &mut Vec<String>, name: &str, default: u64) -> Result<u64, String> {
    match take_value(args, name)? {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| format!("{name}: {v:?} is not a number")),
    }
}

/// Parses `args` (after the subcommand's name), runs, prints the summary and every mismatch.
pub fn run_cli(args: &mut Vec<String>, default_seed: u64) -> Result<(), String> {
    let seed = take_number(args, "--seed", default_seed)?;
    let seeds = take_number(args, "--seeds", 1)?;
    let commands = take_number(args, "--commands", 2000)? as usize;
    let types: Vec<String> = match take_value(args, "--types")? {
        None => gen::type_names().into_iter().map(String::from).collect(),
        Some(list) => list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
    };
    let edge_file = take_value(args, "--edge-file")?.map(PathBuf::from);
    let edge_cases = !take_flag(args, "--no-edge-cases");
    let exclusions = !take_flag(args, "--no-exclusions");
    let minimise = !take_flag(args, "--no-minimise");
    let quiet = take_flag(args, "-q");
    if !args.is_empty() {
        return Err(format!("unexpected arguments: {args:?}"));
    }
    let redis_bin = find_redis_server().ok_or("redis-server not found (apt-get install redis-server, or set REDIS_SERVER)")?;
    let crowndb_bin = find_crowndb_bin().ok_or("the crowndb binary was not found next to this one; set CROWNDB_BIN")?;
    let config =
        Config { seed, seeds, commands, types, edge_cases, edge_file, exclusions, minimise, progress: !quiet, redis_bin, crowndb_bin };
    println!(
        "differential: {} vs {} serve; {seeds} seeds from {seed}, {commands} commands each, types {}{}",
        config.redis_bin.display(),
        config.crowndb_bin.display(),
        config.types.join(","),
        if config.exclusions { "" } else { ", no exclusions" }
    );
    let summary = run(&config)?;
    if quiet {
        for m in &summary.mismatches {
            print!("{m}");
        }
    }
    println!("{summary}");
    if summary.mismatches.is_empty() {
        Ok(())
    } else {
        Err(format!("{} mismatches (see above)", summary.mismatches.len()))
    }
}
