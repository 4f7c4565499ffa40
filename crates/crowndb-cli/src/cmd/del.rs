//! `crowndb del KEY...`: delete keys.

use std::ffi::OsString;

use clap::Args;
use crowndb::WriteOptions;

use super::{arg_bytes, CliError, CliResult, DataDir, EXIT_NOT_FOUND};

/// Arguments of `crowndb del`; what it does is its help text (`after_help`).
#[derive(Debug, Args)]
#[command(
    after_help = "Delete one or more keys; prints how many existed. Exit code 1 if none of them existed.\n\nExample:\n  crowndb del --data-dir data user:1 user:2"
)]
pub struct DelArgs {
    #[command(flatten)]
    pub dir: DataDir,
    /// The keys (any bytes).
    #[arg(required = true)]
    pub keys: Vec<OsString>,
}

pub fn run(args: DelArgs) -> CliResult {
    let db = args.dir.open_existing()?;
    let mut deleted = 0;
    for key in &args.keys {
        if db.delete_opt(&arg_bytes(key), &WriteOptions::synced())? {
            deleted += 1;
        }
    }
    db.close()?;
    println!("{deleted}");
    if deleted == 0 {
        return Err(CliError::quiet(EXIT_NOT_FOUND));
    }
    Ok(())
}
