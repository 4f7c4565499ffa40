//! The subcommands that work on a data directory, one file each, and what they share:
//! how a store is opened, how failures become exit codes, progress bars, key printing.
//!
//! Exit codes (scripts rely on them; listed in `crowndb --help` and the README):
//! 0 success, 1 key not found, 2 usage error, 3 data directory locked by another process,
//! 4 damage found (check, repair, load of a damaged dump, a corrupt record read),
//! 5 any other failure (I/O, disk full, a missing directory, a refused argument).

pub mod bench;
pub mod check;
pub mod compact;
pub mod del;
pub mod dump;
pub mod get;
pub mod load;
pub mod put;
pub mod repair;
pub mod scan;
pub mod stats;

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;
use crowndb::{Db, ErrorKind, Options};
use indicatif::{ProgressBar, ProgressStyle};

/// Exit code: the key (or every key given) was not found.
pub const EXIT_NOT_FOUND: u8 = 1;
/// Exit code: another process holds the data directory.
pub const EXIT_LOCKED: u8 = 3;
/// Exit code: damaged data was found.
pub const EXIT_DAMAGED: u8 = 4;
/// Exit code: any other failure.
pub const EXIT_FAILURE: u8 = 5;

/// The text `crowndb --help` ends with.
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 success, 1 key not found, 2 usage error, 3 data directory locked by another \
process, 4 damaged data found, 5 other failure (I/O, disk full, missing directory).";

/// A failure of a subcommand: what to print, and the exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError { code, message: message.into() }
    }

    pub fn failure(message: impl Into<String>) -> CliError {
        CliError::new(EXIT_FAILURE, message)
    }

    /// A silent exit with this code (the command already printed what it had to say).
    pub fn quiet(code: u8) -> CliError {
        CliError::new(code, String::new())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crowndb::Error> for CliError {
    fn from(e: crowndb::Error) -> CliError {
        let code = match e.kind() {
            ErrorKind::Locked => EXIT_LOCKED,
            ErrorKind::Corruption => EXIT_DAMAGED,
            _ => EXIT_FAILURE,
        };
        CliError::new(code, e.to_string())
    }
}

/// `path: what went wrong`, exit code 5.
pub fn io_error(path: &Path, e: std::io::Error) -> CliError {
    CliError::failure(format!("{}: {e}", path.display()))
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// Prints a failure (unless quiet) and turns the result into the process's exit code.
pub fn exit(result: CliResult) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("crowndb: {}", e.message);
            }
            std::process::ExitCode::from(e.code)
        }
    }
}

/// `--data-dir`, shared by every subcommand that works on a store.
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Directory of the store (as for `serve`; no server may be running on it).
    #[arg(long, value_name = "DIR", default_value = "./crowndb-data")]
    pub data_dir: PathBuf,
}

impl DataDir {
    /// Opens an existing store; a missing directory is an error, not a new empty store.
    pub fn open_existing(&self) -> CliResult<Db> {
        self.open(false)
    }

    /// Opens the store, creating the directory if needed (commands that write).
    pub fn open_or_create(&self) -> CliResult<Db> {
        self.open(true)
    }

    fn open(&self, create: bool) -> CliResult<Db> {
        if !create && !self.data_dir.is_dir() {
            return Err(CliError::failure(format!("data directory {} does not exist", self.data_dir.display())));
        }
        let options = Options { create_if_missing: create, ..Options::default() };
        Ok(Db::open(&self.data_dir, options)?)
    }
}

/// Holds `<dir>/LOCK` the way the engine does (an advisory `flock`), for commands that read
/// or rewrite segment files without opening the store.
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> CliResult<DirLock> {
        if !dir.is_dir() {
            return Err(CliError::failure(format!("data directory {} does not exist", dir.display())));
        }
        let path = dir.join("LOCK");
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| io_error(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(crowndb::Error::Locked { path: dir.to_path_buf() }.into()),
            Err(std::fs::TryLockError::Error(e)) => Err(io_error(&path, e)),
        }
    }
}

/// A progress bar on stderr when it is a terminal; hidden (and free) otherwise.
pub fn progress(len: u64, message: &str, bytes: bool) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let template = if bytes {
        "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})"
    } else {
        "{msg} [{bar:30}] {human_pos}/{human_len} ({per_sec}, ETA {eta})"
    };
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
    bar.set_message(message.to_string());
    bar
}

/// A spinner with the elapsed time on stderr when it is a terminal, for work of unknown length.
pub fn spinner(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"));
    bar.set_message(message.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar
}

/// A key or value for a terminal or a line-oriented script: printable ASCII as is,
/// a backslash as `\\`, every other byte as `\xNN`. One line, whatever the bytes.
pub fn escape(bytes: &[u8]) -> String {
    crowndb::check::escape_key(bytes)
}

/// The bytes of a command-line argument (any bytes on Unix, not only UTF-8).
pub fn arg_bytes(arg: &std::ffi::OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    arg.as_bytes().to_vec()
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_one_line() {
        assert_eq!(escape(b"user:1"), "user:1");
        assert_eq!(escape(b"a\nb\\c\xff"), "a\\x0ab\\\\c\\xff");
    }
}
